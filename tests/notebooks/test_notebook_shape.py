"""What nbval cannot see: that every chapter exists, was executed, and links to its neighbours.

nbval passes a notebook whose outputs were never committed (there is nothing
to compare), so this checks that each code cell carries its execution; it
also keeps the fixed chapter order and the prev/next links.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
#: the chapters in reading order: their file names sort that way (05a_pop3 < 05b_imap < 05c_parsing < 06_http)
CHAPTERS = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


def load(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))


def test_the_chapters_are_numbered_in_reading_order():
    """Every notebook's name starts with its chapter number (and a part letter), so sorting is reading order."""
    assert CHAPTERS[0] == "00_start_here"
    numbers = [re.match(r"(\d\d)([a-z]?)_", name) for name in CHAPTERS]
    assert all(numbers), f"a notebook without a chapter number: {CHAPTERS}"
    assert len({m.group(0) for m in numbers}) == len(CHAPTERS), "two notebooks with the same number"
    for earlier, later in zip(numbers, numbers[1:]):  # no chapter skipped
        assert int(later[1]) - int(earlier[1]) in (0, 1), f"a gap between {earlier[0]} and {later[0]}"


#: An appendix has no lab of its own: it links the labs of the chapters it builds on.
APPENDIX_LABS = {"07_real_providers": ("04", "05")}


@pytest.mark.parametrize("name", [n for n in CHAPTERS if n >= "01"])  # chapter 00 has no lab
def test_links_its_lab(name):
    """Each chapter points to its lab's README (labs/0N_*/README.md), so students find the graded work."""
    text = "\n".join("".join(c["source"]) for c in load(name)["cells"] if c["cell_type"] == "markdown")
    labs = sorted(lab for chapter in APPENDIX_LABS.get(name, (name[:2],))
                  for lab in (NOTEBOOKS.parent / "labs").glob(chapter + "_*/README.md"))
    assert labs, f"no lab for chapter {name[:2]}"
    assert any(f"../labs/{lab.parent.name}/README.md" in text for lab in labs)


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_code_cell_was_executed_in_order(name):
    cells = [c for c in load(name)["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert cells, "a chapter without code"
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, "cells without executed output: run tests/notebooks/execute_notebooks.py"
    assert counts == sorted(counts), "cells were executed out of order"
    assert any(c["outputs"] for c in cells)


@pytest.mark.parametrize("name", CHAPTERS)
def test_links_to_previous_and_next_chapter(name):
    text = "\n".join("".join(c["source"]) for c in load(name)["cells"] if c["cell_type"] == "markdown")
    index = CHAPTERS.index(name)
    if index > 0:
        assert f"({CHAPTERS[index - 1]}.ipynb" in text
    if index < len(CHAPTERS) - 1:
        assert f"({CHAPTERS[index + 1]}.ipynb" in text


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_output_is_ignored_without_a_reason(name):
    for cell in load(name)["cells"]:
        source = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        if "NBVAL_IGNORE_OUTPUT" in source or "nbval-ignore-output" in tags:
            assert re.search(r"#.*(because|why|varies|random)", source, re.I), \
                f"a cell ignores its output without saying why:\n{source}"


@pytest.mark.parametrize("name", CHAPTERS[1:])
def test_starts_the_servers_first(name):
    first_code = next(c for c in load(name)["cells"] if c["cell_type"] == "code")
    assert "ensure_running()" in "".join(first_code["source"])
