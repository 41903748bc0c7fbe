"""Staging: the pages the site is built from, laid out as in the repository so relative links still work.

The English notebooks, their Chinese builds (notebooks/zh/), the labs' task statements and the notes the
notebooks link to are copied into one folder with two start pages (index.md, index_zh.md). Nothing is
executed: the notebooks' committed outputs are what the site shows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

#: Repository files the notebooks link to that are pages of the site too (globs, relative to ROOT).
PAGES = ["notebooks/*.ipynb", "notebooks/README.md", "notebooks/zh/*.ipynb",
         "labs/README.md", "labs/*/README.md", "labs/README.zh-CN.md", "labs/*/README.zh-CN.md",
         "docs/providers.md"]


def stage(target: Path) -> list[str]:
    """Copy the pages and the start pages into target (emptied first); return the pages' paths."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    copied = []
    for pattern in PAGES:
        for path in sorted(ROOT.glob(pattern)):
            relative = path.relative_to(ROOT)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)
            copied.append(relative.as_posix())
    for start in ("index.md", "index_zh.md"):
        shutil.copy2(HERE / start, target / start)
    return copied


def chapters(copied: list[str], folder: str) -> list[str]:
    """The notebooks of one folder (notebooks or notebooks/zh), in course order, without suffix."""
    return [page[:-len(".ipynb")] for page in copied
            if page.endswith(".ipynb") and page.rsplit("/", 1)[0] == folder]
