"""Building a language's notebooks: the English notebook's cells, its prose replaced from the catalog.

Code cells are copied with their outputs and execution counts; only the text of their comments is
replaced by its translation (comments.py), and their printed labels in the code and in the output
together (printed.py), so the two editions run the same program. Relative links are rewritten for the notebooks/<dir>/ folder: a link to a chapter that
this language has points to its translation (with the anchor of its translated heading), any other link
goes back to the English folder.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from . import catalogs, comments, notebooks, paragraphs, printed

#: notebooks/<dir>/ for each language: the folder a student opens.
FOLDERS = {"zh_CN": "zh"}
#: A markdown link's target; one level of parentheses inside it (#Delimiters:-makefile()-and-readline()).
LINK = re.compile(r"\]\(((?:[^()\s]|\([^()\s]*\))+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
LANGUAGE_NAMES = {"en": "English"}
#: A translated Markdown page sits beside the English one: README.md -> README.zh-CN.md.
PAGE_SUFFIXES = {"zh_CN": "zh-CN"}


def folder(lang: str) -> Path:
    return notebooks.NOTEBOOKS / FOLDERS.get(lang, lang)


def anchor(heading_text: str) -> str:
    """JupyterLab's anchor for a heading: its text as shown, spaces as hyphens."""
    shown = re.sub(r"[`*]", "", heading_text.strip())
    shown = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", shown)
    return shown.replace(" ", "-")


def translations(lang: str, chapter: str, context: str | None = None) -> dict[str, str]:
    """msgid -> msgstr for the entries of one kind (paragraphs: no context) a build may use: translated
    and not fuzzy."""
    return {message.id: message.string for message in catalogs.load(lang, chapter)
            if message.id and message.string and not message.fuzzy and message.context == context}


def translate_code(cell: dict, comment_table: dict[str, str], label_table: dict[str, str]) -> None:
    """Replace the comments of a code cell that have a translation, and its printed labels in the code and
    in the output together; an unchanged cell keeps its bytes."""
    english = notebooks.source(cell)
    translated = comments.translate(english, comment_table)
    translated, done = printed.translate_source(translated, label_table)
    if translated != english:
        cell["source"] = notebooks.as_lines(translated)
    printed.translate_outputs(cell.get("outputs", []), done)


def translate_cell(text: str, table: dict[str, str]) -> str:
    """A markdown cell's text, each paragraph replaced by its translation (the English where it has none)."""
    return paragraphs.join([table.get(block, block) for block in paragraphs.blocks(text)])


def heading_anchors(english: str, translated: str) -> dict[str, str]:
    """English heading anchor -> translated heading anchor, pairing the cell's headings in order."""
    pairs = {}
    old = [m.group(2) for m in map(HEADING.match, english.split("\n")) if m]
    new = [m.group(2) for m in map(HEADING.match, translated.split("\n")) if m]
    for before, after in zip(old, new):
        pairs[anchor(before)] = anchor(after)
    return pairs


def translated_page(path: str, lang: str) -> str:
    """A Markdown page's translation beside it (labs/02_ftp/README.zh-CN.md), if there is one, else path."""
    suffix = PAGE_SUFFIXES.get(lang)
    if not suffix or not path.endswith(".md"):
        return path
    translation = f"{path[:-3]}.{suffix}.md"
    return translation if (notebooks.NOTEBOOKS / translation).exists() else path


def rewrite_links(text: str, chapter: str, built: set[str], anchors: dict[str, dict[str, str]],
                  lang: str = "") -> str:
    def target(match: re.Match) -> str:
        link = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # http:, mailto: ... unchanged
            return match.group(0)
        path, _, fragment = link.partition("#")
        if not path:
            path_out, chapter_to = "", chapter
        elif "/" not in path and path.endswith(".ipynb") and path[:-6] in built:
            path_out, chapter_to = path, path[:-6]
        elif not fragment:  # a page's anchors are its own language's: only a whole page is swapped
            return f"](../{translated_page(path, lang)})"
        else:
            return f"](../{link})"
        if fragment:
            fragment = anchors.get(chapter_to, {}).get(fragment, fragment)
            return f"]({path_out}#{fragment})"
        return f"]({path_out})"
    return LINK.sub(target, text)


def build_language(lang: str) -> dict[str, str]:
    """The translated notebooks of lang, as {file name: file text} (nothing written)."""
    chapters = notebooks.translated_chapters(lang)
    built = set(chapters)
    drafts, anchors = {}, {}
    for chapter in chapters:
        notebook = notebooks.read(notebooks.NOTEBOOKS / f"{chapter}.ipynb")
        table = translations(lang, chapter)
        comment_table = translations(lang, chapter, comments.CONTEXT)
        label_table = translations(lang, chapter, printed.CONTEXT)
        out = copy.deepcopy(notebook)
        anchors[chapter] = {}
        for cell in out["cells"]:
            if cell["cell_type"] == "markdown":
                english = notebooks.source(cell)
                translated = translate_cell(english, table)
                anchors[chapter].update(heading_anchors(english, translated))
                cell["source"] = translated
            elif cell["cell_type"] == "code":
                translate_code(cell, comment_table, label_table)
        out["metadata"]["course_translation"] = {"lang": lang, "source": f"../{chapter}.ipynb"}
        drafts[chapter] = out
    files = {}
    for chapter, out in drafts.items():
        first = True
        for cell in out["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            text = rewrite_links(cell["source"], chapter, built, anchors, lang)
            if first:  # the language switch: every translated chapter links to its English original
                text += f"\n\n[{LANGUAGE_NAMES['en']}](../{chapter}.ipynb)"
                first = False
            cell["source"] = notebooks.as_lines(text)
        files[f"{chapter}.ipynb"] = notebooks.dumps(out)
    return files


def write_language(lang: str) -> list[Path]:
    """Write the built notebooks; remove built ones whose chapter is no longer declared. Returns changes."""
    target = folder(lang)
    target.mkdir(parents=True, exist_ok=True)
    files = build_language(lang)
    changed = []
    for name, text in files.items():
        path = target / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in target.glob("*.ipynb"):
        if path.name not in files:
            path.unlink()
            changed.append(path)
    return changed
