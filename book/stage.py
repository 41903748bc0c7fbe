"""Staging: the pages each edition of the site is built from, laid out as in the repository so links still work.

The site is two Sphinx builds, one per edition, so each has its own interface language (search box, sidebar,
footer): the English pages in <target>/en, built into the site's root, and the Chinese ones (notebooks/zh/, the
labs' README.zh-CN.md) in <target>/zh, built into its zh/ folder. Each edition keeps the repository's paths, so
a Chinese chapter's link to an English page (../../labs/05_mail/README.md) names a page of the other edition,
which conf.py turns into a link across the two builds. Nothing is executed: the notebooks' committed outputs
are what the site shows. Chinese search splits words with jieba, taught the glossary's terms (search_words).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
GLOSSARY = ROOT / "docs" / "glossary.zh-CN.md"
SUFFIXES = (".md", ".ipynb")


@dataclass(frozen=True)
class Edition:
    """One edition of the site: its Sphinx language, where it goes in the site, its pages and start page."""

    name: str
    language: str
    folder: str  # in the built site, "" for the root
    pages: tuple[str, ...]  # repository files (globs relative to ROOT)
    start: str  # in book/, staged as index.md


EDITIONS = {
    "en": Edition("en", "en", "", ("notebooks/*.ipynb", "notebooks/README.md", "labs/README.md",
                                    "labs/*/README.md", "docs/providers.md"), "index.md"),
    "zh": Edition("zh", "zh_CN", "zh", ("notebooks/zh/*.ipynb", "labs/README.zh-CN.md",
                                         "labs/*/README.zh-CN.md"), "index_zh.md"),
}
#: The interface words Sphinx's catalog lacks, staged as the Chinese edition's catalog (conf.py's locale_dirs).
INTERFACE_PO = HERE / "interface.zh_CN.po"
LOCALE_DIR = "_locale"
#: jieba's user dictionary for the Chinese search (html_search_options["dict"]), beside the editions' folders.
SEARCH_WORDS = "search-words.zh.txt"


def stage(target: Path) -> dict[str, list[str]]:
    """Copy each edition's pages and start page into target/<edition> (target emptied first), write the
    Chinese search's dictionary; return each edition's pages (repository paths)."""
    if target.exists():
        shutil.rmtree(target)
    copied: dict[str, list[str]] = {}
    for edition in EDITIONS.values():
        folder = target / edition.name
        folder.mkdir(parents=True)
        copied[edition.name] = []
        for pattern in edition.pages:
            for path in sorted(ROOT.glob(pattern)):
                relative = path.relative_to(ROOT)
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, folder / relative)
                copied[edition.name].append(relative.as_posix())
        shutil.copy2(HERE / edition.start, folder / "index.md")
        if edition.name == "zh":  # Sphinx writes the compiled .mo beside it: here, never in book/
            catalog = folder / LOCALE_DIR / edition.language / "LC_MESSAGES" / "sphinx.po"
            catalog.parent.mkdir(parents=True)
            shutil.copy2(INTERFACE_PO, catalog)
    (target / SEARCH_WORDS).write_text("".join(f"{word} 100000\n" for word in search_words()), encoding="utf-8")
    return copied


def search_words(glossary: Path = GLOSSARY) -> list[str]:
    """The glossary's Chinese terms (first column of its tables, without the alternatives in brackets), so
    that jieba keeps 套接字 one word instead of 套 + 接字 and a search for a term finds it."""
    words = []
    for line in glossary.read_text(encoding="utf-8").splitlines():
        cell = line.split("|")[1].strip() if line.startswith("|") and line.count("|") > 2 else ""
        for word in re.split(r"[（(／/、，,）)]", cell):
            word = word.strip().strip("*`")
            if re.fullmatch(r"[\u4e00-\u9fff]{2,}", word) and word not in words:
                words.append(word)
    return words


def docs(folder: Path) -> set[str]:
    """The documents (Sphinx's docnames) of a staged edition."""
    return {path.relative_to(folder).with_suffix("").as_posix()
            for path in folder.rglob("*") if path.suffix in SUFFIXES}

