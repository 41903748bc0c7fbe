"""The unit of translation: a markdown cell's paragraphs (blocks separated by blank lines).

A paragraph gives a translator a whole thought (a list or a table stays one block), and a change to one
paragraph leaves the cell's other paragraphs translated: only the changed one turns fuzzy. A fenced code
block is copied as it is (code is never translated) and its blank lines do not split it.
"""

from __future__ import annotations

import re

FENCE = re.compile(r"^\s*(```|~~~)")


def blocks(markdown: str) -> list[str]:
    """The cell's blocks in order, each without surrounding blank lines."""
    found: list[str] = []
    current: list[str] = []
    fenced = False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        if not fenced and not line.strip() and not FENCE.match(line):
            if current:
                found.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        found.append("\n".join(current))
    return found


def is_translatable(block: str) -> bool:
    """A block made of one fenced code block is code: it is copied, not translated."""
    lines = block.split("\n")
    return not (FENCE.match(lines[0]) and FENCE.match(lines[-1]) and len(lines) > 1)


def join(translated: list[str]) -> str:
    return "\n\n".join(translated)
