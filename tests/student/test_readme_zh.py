"""The Chinese README and lab tasks say the same commands as the English ones, and the two link both ways.

A command a student copies from README.zh-CN.md must be one the English README prints (test_hints runs
those as typed), so the translation can never hand out a command that drifted or was mistyped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND_START = ("python3 ", "python ", ".venv/bin/", "conda ", "jupyter ", "py ", "LOCAL_SERVERS_PORTS=",
                 "COURSE_", "from grader", 'check("', "import ", "servers")
#: The glossary's terms named by issue 13, each with its English.
TERMS = {"套接字": "socket", "主动模式": "active mode", "被动模式": "passive mode", "回调函数": "callback",
         "信封": "envelope", "授权码": "authorization code", "数据连接": "data connection",
         "控制连接": "control connection", "邮件头": "mail header", "头部": "header", "响应码": "reply code", "多用途互联网邮件扩展": "MIME", "服务器": "server",
         "客户端": "client", "端口": "port", "阻塞": "blocking", "超时": "timeout", "重定向": "redirect"}


def commands(text: str) -> set[str]:
    """Every command of a text: the lines of its code blocks and its `...` spans that start like one."""
    found = set()
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL):
        found.update(line.split("  #")[0].rstrip() for line in block.splitlines() if line.strip())
    outside = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", outside))  # a span may wrap a line
    found.update(span for span in spans if span.startswith(COMMAND_START))
    return found


def pairs(partial: bool = False) -> list[tuple[Path, Path]]:
    """(English, Chinese) texts; partial adds labs/README.md, whose Chinese leaves the instructors' part out."""
    found = [(ROOT / "README.md", ROOT / "README.zh-CN.md")]
    found += [(ROOT / "labs" / "README.md", ROOT / "labs" / "README.zh-CN.md")] if partial else []
    found += [(english, english.with_name("README.zh-CN.md")) for english in sorted(ROOT.glob("labs/*/README.md"))]
    return found


@pytest.mark.parametrize(("english", "chinese"), pairs(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_chinese_text_gives_the_english_commands(english, chinese):
    assert chinese.is_file(), f"{chinese.relative_to(ROOT)} is missing"
    en, zh = commands(english.read_text(encoding="utf-8")), commands(chinese.read_text(encoding="utf-8"))
    # the Chinese edition's own addition: how to ask for Chinese (--lang zh, lang="zh")
    assert en and sorted(c for c in zh - en if "lang" not in c) == [], "commands the English does not give"
    assert sorted(en - zh) == [], "commands the Chinese left out"


def test_the_labs_overview_in_chinese_gives_only_commands_of_the_english():
    english, chinese = ROOT / "labs" / "README.md", ROOT / "labs" / "README.zh-CN.md"
    zh = commands(chinese.read_text(encoding="utf-8"))
    assert len(zh) >= 5 and sorted(c for c in zh - commands(english.read_text(encoding="utf-8")) if "lang" not in c) == []


@pytest.mark.parametrize(("english", "chinese"), pairs(partial=True), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_two_link_to_each_other(english, chinese):
    assert f"](README.zh-CN.md)" in english.read_text(encoding="utf-8")
    assert f"](README.md)" in chinese.read_text(encoding="utf-8")


def test_links_of_the_chinese_texts_lead_somewhere():
    for path in [ROOT / "README.zh-CN.md", ROOT / "docs" / "glossary.zh-CN.md", *ROOT.glob("labs/**/README.zh-CN.md")]:
        for target in re.findall(r"\]\(([^)#]+)\)", path.read_text(encoding="utf-8")):
            if not target.startswith("http"):
                assert (path.parent / target).exists(), f"{path.relative_to(ROOT)} links to a missing {target}"


def test_the_glossary_gives_each_term_its_english_and_chapter():
    rows = [line for line in (ROOT / "docs" / "glossary.zh-CN.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith(("| 中文", "|---"))]
    for term, english in TERMS.items():
        row = next((r for r in rows if term in r.split("|")[1]), None)
        assert row, f"{term} is not in the glossary"
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert english.lower() in cells[1].lower(), row
        assert len(cells) == 4 and cells[2] and re.match(r"\d[ab]? `\d\d[ab]?_\w+`$", cells[3]), row
        chapter = cells[3].split("`")[1]
        assert (ROOT / "notebooks" / f"{chapter}.ipynb").is_file(), row
