"""The chapter sections a hint points to, and the Chinese edition's headings for them.

A hint ends by naming where the course teaches what it asks: (chapter 2, 'Anonymous and named logins'), or
(appendix, 'Gmail: an app password'). Its translation in hints_zh.py names the same section with the same
English words, 见第 2 章“Anonymous and named logins”一节, and hint() shows the Chinese edition's heading in
their place (见第 2 章“匿名登录与具名登录”一节), read from the notebooks: the Chinese notebook is built from
the English one cell by cell with the same cell ids (i18n/build.py), so an English heading's Chinese is the
heading at the same place in the same cell. Derived, not copied: a heading a translator changes is followed
by the hints at once, and a section of a chapter with no Chinese notebook stays in English.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHINESE_FOLDER = "zh"  # notebooks/zh/, as i18n/build.py's FOLDERS
#: The appendix is the chapter after the last numbered one; hints name it "appendix" / 附录.
APPENDIX = "7"

#: (chapter 2, 'A') / chapter 4, 'A' and 'B' / (appendix, 'A'). A title ends at a quote followed by the end of
#: the reference (")", ".", ",", ";", " and "), so an apostrophe inside it (the course's) is kept.
ENGLISH = re.compile(r"(?:chapter (\w+)|appendix), ((?:'.+?'(?=\)|\.|,|;| and |$)(?: and )?)+)")
ENGLISH_TITLE = re.compile(r"'(.+?)'(?=\)|\.|,|;| and |$)")
#: 第 2 章“A”一节 / 第 4 章“A”和“B”两节 / 附录“A”一节
CHINESE = re.compile(r"(?:第 (\w+) 章|附录)((?:“[^”]+”[和、]?)+)")
CHINESE_TITLE = re.compile(r"“([^”]+)”")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def sections(hint: str) -> list[tuple[str, str]]:
    """(chapter, title) of every section a hint names, English or Chinese; the appendix is chapter 7."""
    found = []
    for pattern, title in ((ENGLISH, ENGLISH_TITLE), (CHINESE, CHINESE_TITLE)):
        for match in pattern.finditer(hint):
            found += [(match.group(1) or APPENDIX, name) for name in title.findall(match.group(2))]
    return found


def notebook(chapter: str, chinese: bool = False) -> Path | None:
    """The notebook of a chapter as hints number it (1a -> 01a_sockets.ipynb), of either edition."""
    number = re.fullmatch(r"(\d+)([a-z]?)", chapter)
    if not number:
        return None
    folder = NOTEBOOKS / CHINESE_FOLDER if chinese else NOTEBOOKS
    found = sorted(folder.glob(f"{int(number.group(1)):02d}{number.group(2)}_*.ipynb"))
    return found[0] if found else None


def cell_headings(path: Path) -> dict[str, list[str]]:
    """Each markdown cell's headings in order, by cell id (headings in fenced code are not headings)."""
    cells = {}
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        fenced, found = False, []
        for line in source.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and (heading := HEADING.match(line)):
                found.append(heading.group(1))
        cells[cell.get("id", str(index))] = found
    return cells


def headings(chapter: str, chinese: bool = False) -> list[str]:
    """Every heading of a chapter's notebook, in order (none if the edition has no such notebook)."""
    path = notebook(chapter, chinese)
    return [title for titles in cell_headings(path).values() for title in titles] if path else []


@lru_cache(maxsize=None)
def chinese_headings(chapter: str) -> dict[str, str]:
    """English heading -> the Chinese edition's heading, paired by cell id and place in the cell."""
    english, chinese = notebook(chapter), notebook(chapter, chinese=True)
    if not english or not chinese:
        return {}
    translated = cell_headings(chinese)
    return {title: translated[cell][place]
            for cell, titles in cell_headings(english).items() if cell in translated
            for place, title in enumerate(titles) if place < len(translated[cell])}


def quoted(heading: str) -> str:
    """A heading as a hint quotes it: quotation marks inside “…” become ‘…’, as Chinese nests them."""
    return heading.replace("“", "‘").replace("”", "’")


def in_chinese(hint: str) -> str:
    """A Chinese hint with each section it names (by its English title) named by its Chinese heading."""
    def retitle(match: re.Match) -> str:
        table = chinese_headings(match.group(1) or APPENDIX)
        titles = CHINESE_TITLE.sub(lambda title: f"“{quoted(table.get(title.group(1), title.group(1)))}”",
                                   match.group(2))
        return match.group(0)[:match.start(2) - match.start(0)] + titles

    return CHINESE.sub(retitle, hint)
