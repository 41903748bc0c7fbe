"""notebooks/README.md maps the source material to sections: the sections it names must exist.

A reference is "N / Heading" (chapter N, a heading of that chapter, or the start of one);
several may follow each other, separated by ";". Checked for chapters 0-3 here; chapters
4-6 are being reshaped (issue 12, second half) and join the check when their names settle.
Also: the FTP progress bar is saved as ONE display in its last state (what a static page
shows), not as a stack of printed bars.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CHECKED = {"0": "00_start_here", "1a": "01a_sockets", "1b": "01b_sockets_servers", "2": "02_ftp", "3": "03_nntp"}


def headings(name: str) -> list[str]:
    cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    found = []
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("#"):
                    found.append(line.lstrip("#").strip())
    return found


def references() -> list[tuple[str, str]]:
    """(chapter digit, heading text) for every "N / ..." in the README's tables."""
    refs = []
    for line in (NOTEBOOKS / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        taught_in = line.split("|")[2]
        chapter = None
        for part in taught_in.split(";"):
            part = part.strip()
            match = re.match(r"(\d[ab]?) / (.+)", part)
            if match:
                chapter, text = match.groups()
            elif chapter and part and not re.match(r"(chapter|chapters|lab|exercise|the |not |all )", part):
                text = part  # "2 / A; B": B is another heading of chapter 2
            else:
                continue
            refs.append((chapter, re.sub(r"\s*\(.*\)$", "", text).strip()))
    return refs


def test_the_map_names_sections():
    assert len(references()) > 50


@pytest.mark.parametrize("chapter,text", [r for r in references() if r[0] in CHECKED], ids=lambda v: str(v)[:50])
def test_every_section_named_in_the_map_exists(chapter, text):
    names = headings(CHECKED[chapter])
    assert any(name.startswith(text) for name in names), f"chapter {chapter} has no heading starting {text!r}"


def test_the_progress_bar_is_one_display_in_its_last_state():
    cells = json.loads((NOTEBOOKS / "02_ftp.ipynb").read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if c["cell_type"] == "code" and "class Progress" in "".join(c["source"]))
    bars = [o for o in cell["outputs"] if "%" in "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))]
    assert len(bars) == 1 and bars[0]["output_type"] == "display_data"
    assert re.fullmatch(r"\[#{40}\] 100 %", "".join(bars[0]["data"]["text/plain"]))
