"""The catalogs: one PO file per chapter and language, kept in step with the English notebook by Babel.

A catalog holds three kinds of entries: the paragraphs of the markdown cells (no msgctxt), the comments
of the code cells (msgctxt "code comment", comments.py) and their printed labels (msgctxt "printed text",
printed.py). `extract` reads both into a template catalog; `update` merges it into the language's
catalog as msgmerge does (Babel's Catalog.update): an unchanged paragraph keeps its translation, a changed
one is matched to its old entry and marked fuzzy (with the old English kept as `#| msgid` so the
translator sees what changed), a new one is added untranslated, and a removed one becomes obsolete (#~).
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, unescape, write_po

from . import comments, notebooks, paragraphs, printed

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


def _code_cells(chapter: str):
    """(cell id, source) of a chapter's code cells."""
    notebook = notebooks.read(notebooks.NOTEBOOKS / f"{chapter}.ipynb")
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            yield cell.get("id", f"cell{index}"), notebooks.source(cell)


def code_comments(chapter: str):
    """(cell id, Comment) for every translatable comment of a chapter's code cells."""
    for cell_id, source in _code_cells(chapter):
        for comment in comments.comments(source):
            yield cell_id, comment


def printed_labels(chapter: str):
    """(cell id, Label) for every printed label of a chapter's code cells."""
    for cell_id, source in _code_cells(chapter):
        for label in printed.labels(source):
            yield cell_id, label


def code_entries(chapter: str):
    """(cell id, context, line, text, code) for every comment and printed label, in the chapter's order."""
    for cell_id, comment in code_comments(chapter):
        yield cell_id, comments.CONTEXT, comment.line, comment.text, comment.code
    for cell_id, label in printed_labels(chapter):
        yield cell_id, printed.CONTEXT, label.line, label.text, label.code


def extract(chapter: str) -> Catalog:
    """The template: every paragraph of the English chapter, located by cell id and paragraph number,
    then every code comment, located by cell id and line, with its line's code shown to the translator."""
    template = Catalog(project=PROJECT, creation_date=EPOCH, revision_date=EPOCH, fuzzy=False)
    for cell_id, number, text in markdown_paragraphs(chapter):
        template.add(text, locations=[(f"{chapter}.ipynb#{cell_id}", number)])
    for cell_id, context, line, text, code in code_entries(chapter):
        location = (f"{chapter}.ipynb#{cell_id}", line)
        known = template.get(text, context=context)
        if known is None:
            template.add(text, locations=[location], context=context,
                         auto_comments=[f"code: {code}"] if code else [])
        else:  # the same text twice in a chapter: one entry, every place
            known.locations.append(location)
            if code and f"code: {code}" not in known.auto_comments:
                known.auto_comments.append(f"code: {code}")
    return template


def merge(catalog: Catalog, template: Catalog) -> Catalog:
    """msgmerge, one kind of entry at a time: a changed comment is matched only to an old comment and a
    changed paragraph only to an old paragraph (Babel's fuzzy matching ignores msgctxt)."""
    merged = Catalog(locale=catalog.locale, project=PROJECT, creation_date=EPOCH, revision_date=EPOCH,
                     fuzzy=False)
    merged.header_comment = catalog.header_comment
    merged.mime_headers = catalog.mime_headers
    parts = {}
    for context in (None, comments.CONTEXT, printed.CONTEXT):
        old = Catalog(locale=catalog.locale, fuzzy=False)
        new = Catalog(fuzzy=False)
        for message in catalog:
            if message.id and message.context == context:
                old[message.id] = message
        for key, message in catalog.obsolete.items():
            if message.context == context:
                old.obsolete[key] = message
        for message in template:
            if message.id and message.context == context:
                new[message.id] = message
        previous = {key: message.previous_id for key, message in old._messages.items() if message.previous_id}
        old.update(new, update_creation_date=False)
        for key, message in old._messages.items():  # still fuzzy: still show what changed
            if message.fuzzy and not message.previous_id and key in previous:
                message.previous_id = previous[key]
        parts[context] = old
    for message in template:  # the English order: paragraphs, then comments
        if message.id:
            merged[message.id] = parts[message.context].get(message.id, context=message.context)
    for part in parts.values():
        merged.obsolete.update(part.obsolete)
    return merged


def load(lang: str, chapter: str) -> Catalog:
    path = catalog_path(lang, chapter)
    if not path.exists():
        return Catalog(locale=lang, project=PROJECT, creation_date=EPOCH, revision_date=EPOCH, fuzzy=False)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    for message in catalog:
        read_previous(message)
    return catalog


def read_previous(message) -> None:
    """Babel writes the old English of a fuzzy entry (`#| msgid "..."`, wrapped at 76 columns) but reads it
    back as translator comments (`| ...`), which the next `update` would keep as `# | ...`: turn them back
    into the entry's previous msgid, so that `update` twice gives the same file and the translator still
    sees what changed. (The wrapping split the text at spaces: joined with one space again.)"""
    kept, lines = [], []
    for comment in message.user_comments:
        (lines if comment.startswith("| ") else kept).append(comment[2:] if comment.startswith("| ") else comment)
    if lines and lines[0].startswith("msgid "):
        quoted = re.findall(r'"(?:[^"\\]|\\.)*"', " ".join(lines)[len("msgid "):])
        message.previous_id = ["".join(unescape(piece) for piece in quoted)]
        message.user_comments = kept


def dumps(catalog: Catalog) -> bytes:
    catalog.creation_date = EPOCH
    catalog.revision_date = EPOCH
    out = io.BytesIO()
    write_po(out, catalog, width=0, include_previous=True)
    return out.getvalue()


def update(lang: str, chapter: str) -> bool:
    """Merge the chapter's current paragraphs into its catalog; True if the file changed."""
    catalog = merge(load(lang, chapter), extract(chapter))
    path = catalog_path(lang, chapter)
    data = dumps(catalog)
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def problems(lang: str, chapter: str) -> list[str]:
    """Every paragraph and code comment of the English chapter whose translation is missing or fuzzy, and
    every translated comment that makes its line too wide, named for a person."""
    catalog = load(lang, chapter)
    found = []
    entries = [(text, None, f"paragraph {number}", cell_id) for cell_id, number, text in markdown_paragraphs(chapter)]
    entries += [(text, context, f"line {line} ({context})", cell_id)
                for cell_id, context, line, text, _ in code_entries(chapter)]
    seen = set()
    for text, context, place, cell_id in entries:
        if (text, context) in seen:
            continue  # a comment repeated in the chapter is one entry: reported once
        seen.add((text, context))
        message = catalog.get(text, context=context)
        first_line = text.split("\n")[0]
        where = f"notebooks/{chapter}.ipynb, cell {cell_id}, {place}: {first_line[:60]!r}"
        if message is None:
            found.append(f"missing: {where} (run `python -m i18n update`, then translate it)")
        elif message.fuzzy:
            found.append(f"fuzzy: {where} (the English changed: check the translation, then remove `#, fuzzy`)")
        elif not message.string:
            found.append(f"untranslated: {where}")
        elif context == printed.CONTEXT and not printed.usable(message.string, text):
            found.append(f"unusable: {where}: a printed label's translation cannot hold quotes, backslashes "
                         f"or line breaks ({message.string!r})")
    found += too_wide(chapter, catalog)
    return found


def too_wide(chapter: str, catalog: Catalog) -> list[str]:
    """Lines that a translated comment makes wider than comments.WIDTH columns and than the English."""
    found = []
    for cell_id, comment in code_comments(chapter):
        message = catalog.get(comment.text, context=comments.CONTEXT)
        if message is None or not message.string or message.fuzzy:
            continue
        english = comment.english_line
        translated = comment.before + comment.translated(message.string)
        if comments.too_wide(english, translated):
            found.append(f"too wide: notebooks/{chapter}.ipynb, cell {cell_id}, line {comment.line} (code comment): "
                         f"{comments.width(translated)} columns, more than {comments.WIDTH} and the English "
                         f"({comments.width(english)}): shorten {message.string!r}")
    return found
