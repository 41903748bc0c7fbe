"""The Chinese edition is built from the English notebooks plus the catalogs (i18n/): these tests prove
that its code cannot drift, that the committed build is the build, and that a stale translation is caught.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from i18n import build, catalogs, notebooks

ROOT = Path(__file__).resolve().parents[2]
LANG = "zh_CN"
ZH = ROOT / "notebooks" / "zh"
BUILT = sorted(ZH.glob("*.ipynb"))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_declared_chapters_are_built():
    declared = notebooks.translated_chapters(LANG)
    assert declared, "locale/zh_CN/TRANSLATED declares no chapter"
    assert [path.stem for path in BUILT] == sorted(declared)


@pytest.mark.parametrize("path", BUILT, ids=lambda p: p.name)
def test_code_cells_equal_the_english(path):
    """Same cells in the same order; every code cell (source, outputs, counts) identical to the English."""
    english, chinese = cells(ROOT / "notebooks" / path.name), cells(path)
    assert [(c["cell_type"], c.get("id")) for c in chinese] == [(c["cell_type"], c.get("id")) for c in english]
    for en, zh in zip(english, chinese):
        if en["cell_type"] == "code":
            assert zh == en, f"{path.name} {en.get('id')}: the code cell differs from the English"


@pytest.mark.parametrize("path", BUILT, ids=lambda p: p.name)
def test_prose_is_translated(path):
    """Every markdown cell of a declared chapter has Chinese in it (a build that fell back to English fails)."""
    for cell in cells(path):
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            assert re.search(r"[\u4e00-\u9fff]", text), f"{path.name} {cell.get('id')} has no Chinese:\n{text}"


def test_build_is_reproducible_and_committed():
    """Two builds give the same bytes, and they are what notebooks/zh/ holds (a stale build fails)."""
    first, second = build.build_language(LANG), build.build_language(LANG)
    assert first == second
    assert sorted(first) == [path.name for path in BUILT]
    for name, text in first.items():
        assert (ZH / name).read_text(encoding="utf-8") == text, \
            f"notebooks/zh/{name} is stale: run `python -m i18n build` and commit it"


def test_check_passes_on_the_committed_catalogs():
    done = subprocess.run([sys.executable, "-m", "i18n", "check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_catalogs_are_up_to_date():
    """Every catalog holds exactly the current English paragraphs (`python -m i18n update` changes nothing)."""
    for chapter in notebooks.translated_chapters(LANG):
        catalog = catalogs.load(LANG, chapter)
        ids = {message.id for message in catalog if message.id}
        assert ids == {text for _, _, text in catalogs.markdown_paragraphs(chapter)}, chapter


def link_targets(markdown: str) -> list[str]:
    """Every `](target)` with balanced parentheses: read independently of the build's own pattern."""
    targets = []
    for start in (m.end() for m in re.finditer(r"\]\(", markdown)):
        depth, end = 1, start
        while end < len(markdown) and depth:
            depth += {"(": 1, ")": -1}.get(markdown[end], 0)
            end += 1
        targets.append(markdown[start:end - 1])
    return targets


@pytest.mark.parametrize("path", BUILT, ids=lambda p: p.name)
def test_internal_links_resolve(path):
    """Every relative link of a built notebook reaches a file, and an anchor into a built notebook a heading."""
    for cell in cells(path):
        if cell["cell_type"] != "markdown":
            continue
        for link in link_targets("".join(cell["source"])):
            if re.match(r"^[a-z][a-z0-9+.-]*:", link):
                continue
            target, _, fragment = link.partition("#")
            file = (path.parent / target).resolve() if target else path
            assert file.exists(), f"{path.name}: broken link {link}"
            if fragment and file.parent == ZH:
                headings = [build.anchor(m.group(2)) for c in cells(file) if c["cell_type"] == "markdown"
                            for m in map(build.HEADING.match, "".join(c["source"]).split("\n")) if m]
                assert fragment in headings, f"{path.name}: anchor #{fragment} not in {file.name}"


# --- the check catches a stale translation: run the real command on a copy of the checkout ------------

@pytest.fixture()
def copy(tmp_path):
    """i18n/, the English notebooks, the catalogs and notebooks/zh/, copied: the command works on the copy."""
    shutil.copytree(ROOT / "i18n", tmp_path / "i18n", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    (tmp_path / "notebooks").mkdir()
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(path, tmp_path / "notebooks")
    shutil.copytree(ZH, tmp_path / "notebooks" / "zh")
    return tmp_path


def run(root: Path, *words: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "i18n", *words], cwd=root, capture_output=True, text=True)


def edit_paragraph(root: Path, chapter: str, old: str, new: str) -> None:
    path = root / "notebooks" / f"{chapter}.ipynb"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_check_fails_on_a_changed_english_paragraph(copy):
    assert run(copy, "check").returncode == 0, "the copy should start clean"
    edit_paragraph(copy, "01a_sockets", "This is the lesson most network bugs come from.",
                   "This is the lesson that most network bugs come from.")
    before_update = run(copy, "check")
    assert before_update.returncode == 1
    assert "01a_sockets.ipynb, cell cell-11, paragraph 2" in before_update.stdout
    assert run(copy, "update").returncode == 0
    po = (copy / "locale" / LANG / "LC_MESSAGES" / "01a_sockets.po").read_text(encoding="utf-8")
    entry = po[po.index("#: 01a_sockets.ipynb#cell-11:2"):].split("\n\n")[0]
    assert "#, fuzzy" in entry and "#| msgid" in entry, entry  # the old English shown to the translator
    after_update = run(copy, "check")
    assert after_update.returncode == 1
    assert "fuzzy: notebooks/01a_sockets.ipynb, cell cell-11, paragraph 2" in after_update.stdout
    # a fuzzy entry is not used: the build falls back to the new English paragraph
    assert run(copy, "build").returncode == 0
    built = (copy / "notebooks" / "zh" / "01a_sockets.ipynb").read_text(encoding="utf-8")
    assert "This is the lesson that most network bugs come from." in built


def test_check_fails_on_a_missing_entry(copy):
    po_path = copy / "locale" / LANG / "LC_MESSAGES" / "00_start_here.po"
    po = po_path.read_text(encoding="utf-8")
    entries = po.split("\n\n")
    dropped = [e for e in entries if "#: 00_start_here.ipynb#cell-07:1" in e]
    assert len(dropped) == 1
    po_path.write_text("\n\n".join(e for e in entries if e not in dropped), encoding="utf-8")
    done = run(copy, "check")
    assert done.returncode == 1
    assert "missing: notebooks/00_start_here.ipynb, cell cell-07, paragraph 1" in done.stdout


def test_check_fails_on_a_stale_build(copy):
    edit_paragraph(copy, "00_start_here", "print(servers.ftp.address)", "print(servers.ftp.address)  # changed")
    done = run(copy, "check")
    assert done.returncode == 1
    assert "stale: notebooks/zh/00_start_here.ipynb" in done.stdout
    assert run(copy, "build").returncode == 0 and run(copy, "check").returncode == 0


@pytest.mark.parametrize("path", BUILT, ids=lambda p: p.name)
def test_emphasis_renders(path):
    """CommonMark does not open `**` between a letter and punctuation (欢迎学习**《...》**): Chinese text
    must put the markers inside the punctuation, or readers see the asterisks. Rendered as the site does."""
    markdown_it = pytest.importorskip("markdown_it")
    render = markdown_it.MarkdownIt("commonmark").enable("table").render
    for cell in cells(path):
        if cell["cell_type"] == "markdown":
            html = re.sub(r"<code>.*?</code>", "", render("".join(cell["source"])), flags=re.S)
            assert "**" not in html, f"{path.name} {cell.get('id')}: unrendered ** in {html}"
