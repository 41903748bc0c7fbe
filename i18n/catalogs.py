"""The catalogs: one PO file per chapter and language, kept in step with the English notebook by Babel.

`extract` reads a chapter's paragraphs into a template catalog; `update` merges it into the language's
catalog as msgmerge does (Babel's Catalog.update): an unchanged paragraph keeps its translation, a changed
one is matched to its old entry and marked fuzzy (with the old English kept as `#| msgid` so the
translator sees what changed), a new one is added untranslated, and a removed one becomes obsolete (#~).
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from . import notebooks, paragraphs

PROJECT = "python-internet-course"
#: Fixed header dates: a catalog's bytes change only when its entries do.
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def catalog_path(lang: str, chapter: str) -> Path:
    return notebooks.LOCALE / lang / "LC_MESSAGES" / f"{chapter}.po"


def markdown_paragraphs(chapter: str):
    """(cell id, paragraph number from 1, text) for every translatable paragraph of a chapter."""
    notebook = notebooks.read(notebooks.NOTEBOOKS / f"{chapter}.ipynb")
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        cell_id = cell.get("id", f"cell{index}")
        for number, block in enumerate(paragraphs.blocks(notebooks.source(cell)), start=1):
            if paragraphs.is_translatable(block):
                yield cell_id, number, block


def extract(chapter: str) -> Catalog:
    """The template: every paragraph of the English chapter, located by cell id and paragraph number."""
    template = Catalog(project=PROJECT, creation_date=EPOCH, revision_date=EPOCH, fuzzy=False)
    for cell_id, number, text in markdown_paragraphs(chapter):
        template.add(text, locations=[(f"{chapter}.ipynb#{cell_id}", number)])
    return template


def load(lang: str, chapter: str) -> Catalog:
    path = catalog_path(lang, chapter)
    if not path.exists():
        return Catalog(locale=lang, project=PROJECT, creation_date=EPOCH, revision_date=EPOCH, fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


def dumps(catalog: Catalog) -> bytes:
    catalog.creation_date = EPOCH
    catalog.revision_date = EPOCH
    out = io.BytesIO()
    write_po(out, catalog, width=0, include_previous=True)
    return out.getvalue()


def update(lang: str, chapter: str) -> bool:
    """Merge the chapter's current paragraphs into its catalog; True if the file changed."""
    catalog = load(lang, chapter)
    catalog.update(extract(chapter), update_creation_date=False)
    path = catalog_path(lang, chapter)
    data = dumps(catalog)
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def problems(lang: str, chapter: str) -> list[str]:
    """Every paragraph of the English chapter whose translation is missing or fuzzy, named for a person."""
    catalog = load(lang, chapter)
    found = []
    for cell_id, number, text in markdown_paragraphs(chapter):
        message = catalog.get(text)
        first_line = text.split("\n")[0]
        where = f"notebooks/{chapter}.ipynb, cell {cell_id}, paragraph {number}: {first_line[:60]!r}"
        if message is None:
            found.append(f"missing: {where} (run `python -m i18n update`, then translate it)")
        elif message.fuzzy:
            found.append(f"fuzzy: {where} (the English changed: check the translation, then remove `#, fuzzy`)")
        elif not message.string:
            found.append(f"untranslated: {where}")
    return found
