"""check() speaks Chinese to a Chinese reader: lang="zh", a zh locale or COURSE_LANG=zh; English otherwise.

The hints are translated in grader/hints_zh.py, keyed by the English hint of each graded test: these tests
find every hint in the tests (as the plugin reports them) and fail on one without its Chinese, on a
translation whose English no test has any more (stale), and on a translation that lost a piece of code.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader import check, i18n, report
from grader.hints_zh import HINTS_ZH

ROOT = Path(__file__).resolve().parents[2]
STARTERS = ROOT / "labs"
HINTED_TESTS = sorted([*(ROOT / "tests" / "labs").glob("test_*.py"),
                       *(ROOT / "tests" / "exercises" / "checks").glob("test_*.py")])
CJK = re.compile(r"[\u4e00-\u9fff]")
LOCALE_VARIABLES = ("COURSE_LANG", "LC_ALL", "LC_MESSAGES", "LANG")
#: The hints as check() shows them in Chinese: sections named by the Chinese headings (test_hint_sections.py).
CHINESE_HINTS = {i18n.hint(english, "zh") for english in HINTS_ZH}


def hints_of(path: Path) -> list[str]:
    """The hint= of every points marker in a test file, f-strings filled in from the module's constants."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                 for target in node.targets if isinstance(target, ast.Name)}
    return [eval(compile(ast.Expression(keyword.value), str(path), "eval"), {}, dict(constants))
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "points"
            for keyword in node.keywords if keyword.arg == "hint"]


@pytest.fixture
def english_locale(monkeypatch):
    for name in LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def test_every_hint_has_its_chinese_and_no_translation_is_stale():
    hints = {hint for path in HINTED_TESTS for hint in hints_of(path)}
    assert len(hints) > 100, "the hints were not found in the tests"
    assert sorted(hints - set(HINTS_ZH)) == [], "hints without Chinese: add them to grader/hints_zh.py"
    assert sorted(set(HINTS_ZH) - hints) == [], "translations of hints no test has: remove or re-key them"


@pytest.mark.parametrize("english", sorted(HINTS_ZH))
def test_a_translation_keeps_the_code_it_names(english):
    chinese = HINTS_ZH[english]
    assert CJK.search(chinese), "not translated"
    code = set(re.findall(r"\b\w+\(|\b\d{3}\b|\b[A-Z]{3,}\b", english)) - {"RFC", "LAST"}  # emphasis, not code
    missing = sorted(token for token in code if token not in chinese)
    assert missing == [], f"the Chinese lost {missing}: {chinese}"


@pytest.mark.parametrize(("environment", "lang", "expected"), [
    ({}, None, "en"),
    ({"LANG": "zh_CN.UTF-8"}, None, "zh"),
    ({"LANG": "zh_TW.UTF-8"}, None, "zh"),
    ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}, None, "en"),  # LC_ALL comes first
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, None, "zh"),
    ({"LANG": "zh_CN.UTF-8", "COURSE_LANG": "en"}, None, "en"),  # course.py --lang en
    ({"COURSE_LANG": "zh"}, None, "zh"),
    ({"LANG": "zh_CN.UTF-8"}, "en", "en"),  # an explicit lang= wins
    ({}, "zh", "zh"),
    ({}, "zh-CN", "zh"),
])
def test_the_language_is_chosen_by_lang_then_course_lang_then_the_locale(monkeypatch, environment, lang, expected):
    for name in LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert i18n.language(lang) == expected


def test_check_ftp_in_chinese_shows_chinese_hints(english_locale):
    """A real check of the untouched FTP starter: every failed check's hint and the table's words in Chinese."""
    result = check("ftp", STARTERS, lang="zh")
    assert result.checks and not result.passed
    for c in result.checks:
        assert c["hint"] in CHINESE_HINTS, c["hint"]
        assert c["message"] == "尚未编写"  # the starter's TODO
    table = repr(result)
    assert table.startswith(f"ftp：0/{result.max_score:g} 分") and "未通过" in table and "提示：" in table
    assert "FAILED" not in table and "hint:" not in table and result.note.startswith("已检查 ")
    assert "<th>检查项</th>" in result._repr_html_()
    assert "  未通过  test_download  0/1\n" in table and "（尚未编写）" in table  # aligned, Chinese brackets


def test_check_ftp_is_english_by_default(english_locale):
    result = check("ftp", STARTERS)
    assert result.checks and all(not CJK.search(c["hint"] + c["message"]) for c in result.checks)
    assert "FAILED" in repr(result) and result.note.startswith("checked ")


def test_check_follows_a_chinese_locale(monkeypatch, english_locale):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    result = check("ftp", STARTERS)
    assert result.checks and all(c["hint"] in CHINESE_HINTS for c in result.checks)


def test_unknown_lab_in_chinese():
    with pytest.raises(ValueError, match="没有名为 'gopher' 的实验"):
        check("gopher", lang="zh")


def test_notes_in_chinese_and_english_by_default(english_locale, monkeypatch):
    document = {"labs": {"ftp": {"timeouts": 1, "errors": 0, "not_run": 2}},
                "tests": [{"lab": "ftp", "name": "test_upload", "reason": "timeout"}],
                "complete": False, "isolation": "no user namespaces"}
    assert report.notes(document, "zh") == ("ftp：1 项检查超时（test_upload）；运行被中断，2 项检查未运行；"
                                            "沙箱隔离不完整：no user namespaces")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")  # the gradebook's notes stay English on any locale
    assert report.notes(document) == ("ftp: 1 test(s) timed out (test_upload); run cut off, 2 test(s) not run; "
                                      "sandbox degraded: no user namespaces")


def test_the_command_line_check_takes_lang(english_locale):
    """python -m grader check ftp --lang zh (what course.py check runs) prints the Chinese table."""
    done = subprocess.run([sys.executable, "-m", "grader", "check", "ftp", "--labs-dir", str(STARTERS), "--lang", "zh"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout.startswith("ftp：0/"), done.stdout + done.stderr
    assert "提示：登录，进入目录" in done.stdout
