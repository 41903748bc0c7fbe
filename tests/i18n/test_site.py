"""The site (python -m book) builds both editions with a language switch, and fails on a broken internal link.

Needs the [book] extra (Sphinx, MyST-NB): `python3 course.py book` installs it, and .ci/run runs that first.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")

from book.__main__ import sphinx  # noqa: E402
from book.stage import stage  # noqa: E402


def build(tmp_path, breaking=None):
    pages, out = tmp_path / "pages", tmp_path / "site"
    copied = stage(pages)
    if breaking:
        page, old, new = breaking
        text = (pages / page).read_text(encoding="utf-8")
        assert old in text
        (pages / page).write_text(text.replace(old, new, 1), encoding="utf-8")
    return copied, out, sphinx(pages, out)


def test_both_editions_build_with_a_language_switch(tmp_path):
    copied, out, done = build(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    zh = [page for page in copied if page.startswith("notebooks/zh/") and page.endswith(".ipynb")]
    assert zh, "no Chinese chapter was staged"
    for page in zh:
        chinese = (out / page.replace(".ipynb", ".html")).read_text(encoding="utf-8")
        english = (out / page.replace("zh/", "").replace(".ipynb", ".html")).read_text(encoding="utf-8")
        assert 'class="language-switch"' in chinese and '../' + page.split("/")[-1].replace(".ipynb", ".html") in chinese
        assert 'href="zh/' + page.split("/")[-1].replace(".ipynb", ".html") + '">简体中文' in english
    # the committed outputs are shown (nothing was executed): the servers' table of 00_start_here
    assert "127.0.0.1:10021" in (out / "notebooks/zh/00_start_here.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("page, old, new", [
    ("notebooks/zh/01a_sockets.ipynb", "00_start_here.ipynb#", "00_start_here.ipynb#No-such-heading-"),
    ("notebooks/zh/00_start_here.ipynb", "../labs/README.md", "../labs/NO_SUCH_FILE.md"),
], ids=["broken-anchor", "broken-file"])
def test_a_broken_internal_link_fails_the_build(tmp_path, page, old, new):
    _, _, done = build(tmp_path, (page, old, new))
    assert done.returncode != 0
    assert page.split("/")[-1].replace(".ipynb", "") in done.stdout + done.stderr
