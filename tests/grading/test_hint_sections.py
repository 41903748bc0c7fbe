"""The sections the hints send a student to exist: an English hint's in the English chapter, and the Chinese
hint, as check(..., lang="zh") shows it, names the same sections by the Chinese chapter's headings.

Every hint of every graded test is checked (found in the tests as test_i18n.py finds them). The Chinese
headings are derived from notebooks/zh/ (grader/sections.py): the last tests change a Chinese heading in a
copy of the notebooks and see the hint follow, and a chapter without a Chinese notebook stay in English.
"""

from __future__ import annotations

import json
import shutil

import pytest

from grader import i18n, sections
from grader.hints_zh import HINTS_ZH

from test_i18n import HINTED_TESTS, hints_of  # the hints test_i18n finds (its folder is on sys.path)

HINTS = sorted({hint for path in HINTED_TESTS for hint in hints_of(path)})


def test_the_hints_name_sections():
    """Every hint names where the course teaches it, and the parsing finds it: a reworded reference fails here."""
    named = [hint for hint in HINTS if sections.sections(hint)]
    assert len(HINTS) > 100 and len(named) == len(HINTS), sorted(set(HINTS) - set(named))


@pytest.mark.parametrize("english", HINTS)
def test_an_english_hint_names_headings_of_the_english_chapter(english):
    for chapter, title in sections.sections(english):
        assert sections.notebook(chapter), f"no chapter {chapter} in notebooks/"
        assert title in sections.headings(chapter), \
            f"chapter {chapter} ({sections.notebook(chapter).name}) has no heading {title!r}"


@pytest.mark.parametrize("english", HINTS)
def test_a_chinese_hint_names_the_same_sections_by_the_chinese_headings(english):
    chinese = i18n.hint(english, "zh")
    assert chinese != english, "no Chinese for this hint"
    wanted = [(chapter, sections.quoted(sections.chinese_headings(chapter)[title]))
              for chapter, title in sections.sections(english)]
    assert sections.sections(chinese) == wanted
    for chapter, title in sections.sections(chinese):
        assert title in map(sections.quoted, sections.headings(chapter, chinese=True)), (chapter, title)


def test_a_translation_names_the_sections_its_english_hint_names():
    """As written in hints_zh.py (English titles, before hint() puts the Chinese headings in their place)."""
    for english, chinese in HINTS_ZH.items():
        assert sections.sections(chinese) == sections.sections(english), english


@pytest.fixture
def notebooks_copy(tmp_path, monkeypatch):
    """The notebooks in a temporary folder that grader.sections reads instead (its cache emptied)."""
    copy = tmp_path / "notebooks"
    shutil.copytree(sections.NOTEBOOKS, copy, ignore=shutil.ignore_patterns("*.md"))
    monkeypatch.setattr(sections, "NOTEBOOKS", copy)
    sections.chinese_headings.cache_clear()
    yield copy
    sections.chinese_headings.cache_clear()


FTP_HINT = next(hint for hint in HINTS if "(chapter 2, 'Anonymous and named logins')" in hint)


def test_a_changed_chinese_heading_changes_the_hint(notebooks_copy):
    path = notebooks_copy / "zh" / "02_ftp.ipynb"
    heading = sections.chinese_headings("2")["Anonymous and named logins"]
    assert f"“{heading}”" in i18n.hint(FTP_HINT, "zh")
    text = path.read_text(encoding="utf-8")
    assert json.dumps(heading, ensure_ascii=False)[1:-1] in text
    path.write_text(text.replace(heading, "匿名与实名", 1), encoding="utf-8")
    sections.chinese_headings.cache_clear()
    assert "第 2 章“匿名与实名”一节" in i18n.hint(FTP_HINT, "zh")


def test_a_chapter_without_a_chinese_notebook_keeps_its_english_title(notebooks_copy):
    (notebooks_copy / "zh" / "02_ftp.ipynb").unlink()
    chinese = i18n.hint(FTP_HINT, "zh")
    assert "第 2 章“Anonymous and named logins”一节" in chinese and chinese == HINTS_ZH[FTP_HINT]
