"""The Chinese edition is built from the English notebooks plus the catalogs (i18n/): these tests prove
that its code cannot drift, that the committed build is the build, and that a stale translation is caught.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from i18n import build, catalogs, comments, notebooks, printed

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


def code_tokens(source: str) -> tuple[list[tuple], list[tokenize.TokenInfo]] | None:
    """A cell's tokens without its comments (type, text, row, and column but where a comment's length
    moves it: the end of a line), and its comments; None for a cell Python cannot tokenize."""
    try:
        found = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    code = [(t.type, t.string, t.start[0], None if t.type in (tokenize.NL, tokenize.NEWLINE) else t.start[1])
            for t in found if t.type != tokenize.COMMENT]
    return code, [t for t in found if t.type == tokenize.COMMENT]


def source_text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def label_table(chapter: str) -> dict[str, str]:
    """The printed labels the catalog translates (English -> Chinese): the only strings that may differ."""
    return {m.id: m.string for m in catalogs.load(LANG, chapter)
            if m.context == printed.CONTEXT and m.string and not m.fuzzy and m.string != m.id}


def same_token(en: tuple, zh: tuple, labels: dict[str, str]) -> bool:
    """Equal, or a string literal the catalog lists, translated between the same quotes."""
    if en[:2] == zh[:2]:
        return True
    quote = en[1][:1]
    return (en[0] == zh[0] == tokenize.STRING and quote in "'\"" and en[1][-1:] == quote
            and labels.get(en[1][1:-1]) is not None and zh[1] == quote + labels[en[1][1:-1]] + quote)


def same_output_line(en: str, zh: str, labels: dict[str, str]) -> bool:
    """A line that a label translated in the cell's code starts (alone or followed by a space) has only the
    label replaced; every other line is the English one."""
    for label in sorted(labels, key=len, reverse=True):
        if en == label or en.startswith(label + " "):
            return zh == labels[label] + en[len(label):]
    return zh == en


def stdout_lines(cell: dict) -> list[str]:
    return ["".join(o["text"]) if isinstance(o["text"], list) else o["text"]
            for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stdout"]


@pytest.mark.parametrize("path", BUILT, ids=lambda p: p.name)
def test_code_cells_equal_the_english(path):
    """Same cells in the same order. Every code cell's code is the English once comments are removed (the
    same tokens on the same lines, at the same columns where no label was translated), but for the printed
    labels the catalog lists; its outputs are the English ones but for those labels at the start of a
    printed line; execution counts and metadata are identical."""
    english, chinese = cells(ROOT / "notebooks" / path.name), cells(path)
    assert [(c["cell_type"], c.get("id")) for c in chinese] == [(c["cell_type"], c.get("id")) for c in english]
    labels = label_table(path.stem)
    for en, zh in zip(english, chinese):
        if en["cell_type"] != "code":
            continue
        where = f"{path.name} {en.get('id')}"
        assert {k: v for k, v in zh.items() if k not in ("source", "outputs")} == \
            {k: v for k, v in en.items() if k not in ("source", "outputs")}, f"{where}: counts or metadata differ"
        en_tokens, zh_tokens = code_tokens(source_text(en)), code_tokens(source_text(zh))
        if en_tokens is None:
            assert zh == en, f"{where}: a cell Python cannot read must be copied as it is"
            continue
        assert zh_tokens is not None, f"{where}: the Chinese cell no longer tokenizes"
        assert len(zh_tokens[0]) == len(en_tokens[0]), f"{where}: the code differs from the English"
        moved = {e[2] for e, z in zip(en_tokens[0], zh_tokens[0]) if e[:2] != z[:2]}
        translated = {e[1][1:-1]: z[1][1:-1] for e, z in zip(en_tokens[0], zh_tokens[0]) if e[:2] != z[:2]}
        for e, z in zip(en_tokens[0], zh_tokens[0]):
            assert same_token(e, z, labels), f"{where}: the code differs from the English: {e} / {z}"
            assert e[2] == z[2] and (e[2] in moved or e[3] == z[3]), f"{where}: {z} moved"
        assert len(zh_tokens[1]) == len(en_tokens[1])
        for en_comment, zh_comment in zip(en_tokens[1], zh_tokens[1]):
            assert en_comment.start[0] == zh_comment.start[0]
            assert en_comment.start[1] == zh_comment.start[1] or en_comment.start[0] in moved
            kept = re.match(r"#\s*(nbval-[a-z-]+:?\s*)?", en_comment.string).group(0)
            assert zh_comment.string.startswith(kept), f"{where}: {zh_comment.string!r} lost {kept!r}"
            if not re.search(r"[^\W\d_]", en_comment.string[len(kept):]) or en_comment.string.startswith("#!"):
                assert zh_comment.string == en_comment.string, f"{where}: a comment without words changed"
        assert [o.get("output_type") for o in zh["outputs"]] == [o.get("output_type") for o in en["outputs"]]
        for en_out, zh_out in zip(en["outputs"], zh["outputs"]):
            if not (en_out.get("output_type") == "stream" and en_out.get("name") == "stdout"):
                assert zh_out == en_out, f"{where}: an output other than printed text differs"
        for en_text, zh_text in zip(stdout_lines(en), stdout_lines(zh)):
            en_lines, zh_lines = en_text.split("\n"), zh_text.split("\n")
            assert len(en_lines) == len(zh_lines), f"{where}: the printed output has other lines"
            for a, b in zip(en_lines, zh_lines):
                assert same_output_line(a, b, translated), f"{where}: printed {b!r} where the English printed {a!r}"


@pytest.mark.parametrize("path", BUILT, ids=lambda p: p.name)
def test_comments_are_translated(path):
    """Every English comment with words is Chinese in the built notebook, or kept on purpose (a msgstr
    equal to its msgid, such as `socket() + connect()`); no line is made too wide by a translation."""
    english, chinese = cells(ROOT / "notebooks" / path.name), cells(path)
    kept_on_purpose = {m.id for m in catalogs.load(LANG, path.stem)
                       if m.context == comments.CONTEXT and m.string == m.id}
    seen = 0
    for en, zh in zip(english, chinese):
        if en["cell_type"] != "code":
            continue
        en_lines, zh_lines = source_text(en).split("\n"), source_text(zh).split("\n")
        zh_comments = {token.start[0]: token.string for token in code_tokens(source_text(zh))[1]}
        for comment in comments.comments(source_text(en)):
            seen += 1
            translated = zh_comments[comment.line]
            if comment.text in kept_on_purpose:
                assert translated == comment.token
            else:
                assert re.search(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", translated), \
                    f"{path.name} {en.get('id')} line {comment.line}: comment not translated: {translated}"
            line = zh_lines[comment.line - 1]
            assert comments.width(line) <= max(comments.WIDTH, comments.width(en_lines[comment.line - 1])), line
    if path.stem != "00_start_here":
        assert seen, f"{path.name}: no comment found: the extraction is broken"


@pytest.mark.parametrize("path", BUILT, ids=lambda p: p.name)
def test_translated_code_lines_are_not_wider(path):
    """No code line is made wider on screen by a translated comment or label (beyond 100 columns and the
    English line's width; a Chinese character takes two columns)."""
    for en, zh in zip(cells(ROOT / "notebooks" / path.name), cells(path)):
        if en["cell_type"] == "code":
            for a, b in zip(source_text(en).split("\n"), source_text(zh).split("\n")):
                assert comments.width(b) <= max(comments.WIDTH, comments.width(a)), f"{path.name}: {b}"


def test_comment_extraction():
    """Markers, shebangs and comments without letters stay; a `#` inside a string is no comment; an
    nbval marker that explains itself keeps the marker and offers the explanation."""
    source = ("#!/usr/bin/env python3\n"
              "# nbval-ignore-output: it varies, because of the clock\n"
              "import os  # noqa: F401\n"
              "x = '# not a comment'   # the first value  \n"
              "for i in range(3):  # 0 .. 2\n"
              "    pass  # type: ignore\n")
    found = comments.comments(source)
    assert [(c.line, c.kept, c.text) for c in found] == [
        (2, "# nbval-ignore-output: ", "it varies, because of the clock"), (4, "# ", "the first value")]
    out = comments.translate(source, {"the first value": "第一个值", "it varies, because of the clock": "随时钟而变"})
    assert out == source.replace("# the first value  ", "# 第一个值  ").replace(
        "it varies, because of the clock", "随时钟而变")
    assert comments.translate("print(1)  # a\n(\n", {"a": "甲"}) == "print(1)  # a\n(\n"  # unreadable: as it is


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
    """Every catalog holds exactly the current English paragraphs, code comments and printed labels
    (`python -m i18n update` changes nothing)."""
    for chapter in notebooks.translated_chapters(LANG):
        catalog = catalogs.load(LANG, chapter)
        keys = {(message.id, message.context) for message in catalog if message.id}
        expected = {(text, None) for _, _, text in catalogs.markdown_paragraphs(chapter)}
        expected |= {(comment.text, comments.CONTEXT) for _, comment in catalogs.code_comments(chapter)}
        expected |= {(label.text, printed.CONTEXT) for _, label in catalogs.printed_labels(chapter)}
        assert keys == expected, chapter


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


def test_links_to_a_page_with_a_translation_lead_to_the_translation():
    """A Chinese chapter's link to a lab's README goes to README.zh-CN.md, which exists for every lab."""
    links = [link for path in BUILT for cell in cells(path) if cell["cell_type"] == "markdown"
             for link in link_targets("".join(cell["source"])) if "labs/" in link and link.endswith(".md")]
    assert links, "no Chinese chapter links to a lab README any more"
    english = [link for link in links if (ROOT / "labs" / link.split("labs/", 1)[1]).with_suffix(".zh-CN.md").exists()]
    assert not english, f"links to English pages that have a Chinese translation: {sorted(set(english))}"


# --- the check catches a stale translation: run the real command on a copy of the checkout ------------

@pytest.fixture()
def copy(tmp_path):
    """i18n/, the English notebooks, the catalogs, notebooks/zh/ and the labs' Chinese pages, copied: the command works on the copy."""
    shutil.copytree(ROOT / "i18n", tmp_path / "i18n", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    (tmp_path / "notebooks").mkdir()
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(path, tmp_path / "notebooks")
    shutil.copytree(ZH, tmp_path / "notebooks" / "zh")
    for page in ROOT.glob("labs/**/*.zh-CN.md"):  # the build links to a page's translation if it exists
        (tmp_path / page.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(page, tmp_path / page.relative_to(ROOT))
    return tmp_path


def run(root: Path, *words: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "i18n", *words], cwd=root, capture_output=True, text=True)


def edit_paragraph(root: Path, chapter: str, old: str, new: str) -> None:
    path = root / "notebooks" / f"{chapter}.ipynb"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def assert_update_is_stable(root: Path, chapter: str) -> None:
    """A second `update` before the translator has looked changes nothing: the fuzzy entry keeps its
    `#| msgid` (Babel reads it back as a translator comment, which became `# | msgid`)."""
    path = root / "locale" / LANG / "LC_MESSAGES" / f"{chapter}.po"
    before = path.read_bytes()
    assert run(root, "update").returncode == 0
    assert path.read_bytes() == before
    assert b"\n# | " not in before


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
    assert_update_is_stable(copy, "01a_sockets")
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


def test_update_changes_nothing_on_the_committed_catalogs(copy):
    po = {path.name: path.read_bytes() for path in (copy / "locale" / LANG / "LC_MESSAGES").glob("*.po")}
    done = run(copy, "update")
    assert done.returncode == 0 and done.stdout == "", done.stdout
    assert po == {path.name: path.read_bytes() for path in (copy / "locale" / LANG / "LC_MESSAGES").glob("*.po")}


def test_check_fails_on_a_changed_english_comment(copy):
    """A changed comment is caught like a paragraph: missing, then fuzzy (matched to the old comment, not to
    a paragraph), and the build shows the new English comment until it is translated again."""
    edit_paragraph(copy, "02_ftp", "# the raw reply behind pwd()", "# the raw reply behind ftp.pwd()")
    before_update = run(copy, "check")
    assert before_update.returncode == 1
    assert "missing: notebooks/02_ftp.ipynb, cell cell-19, line 8 (code comment)" in before_update.stdout
    assert run(copy, "update").returncode == 0
    po = (copy / "locale" / LANG / "LC_MESSAGES" / "02_ftp.po").read_text(encoding="utf-8")
    entry = po[po.index("#: 02_ftp.ipynb#cell-19:8"):].split("\n\n")[0]
    assert "#, fuzzy" in entry and '#| msgid "the raw reply behind pwd()"' in entry, entry
    assert 'msgctxt "code comment"' in entry and "pwd() 背后的原始响应" in entry, entry
    assert_update_is_stable(copy, "02_ftp")
    after_update = run(copy, "check")
    assert after_update.returncode == 1
    assert "fuzzy: notebooks/02_ftp.ipynb, cell cell-19, line 8 (code comment)" in after_update.stdout
    assert after_update.stdout.count("fuzzy:") == 1, after_update.stdout  # no paragraph touched
    assert run(copy, "build").returncode == 0
    built = (copy / "notebooks" / "zh" / "02_ftp.ipynb").read_text(encoding="utf-8")
    assert "# the raw reply behind ftp.pwd()" in built and "# 会话的状态，有好几行" in built


def test_check_fails_on_a_too_wide_comment(copy):
    po_path = copy / "locale" / LANG / "LC_MESSAGES" / "02_ftp.po"
    po = po_path.read_text(encoding="utf-8")
    assert 'msgstr "pwd() 背后的原始响应"' in po
    po_path.write_text(po.replace('msgstr "pwd() 背后的原始响应"', 'msgstr "' + "很长的注释" * 8 + '"'),
                       encoding="utf-8")
    done = run(copy, "check")
    assert done.returncode == 1
    assert "too wide: notebooks/02_ftp.ipynb, cell cell-19, line 8 (code comment)" in done.stdout


def test_printed_label_extraction():
    """Only a plain label printed first, by a call with default sep/end outside any function, whose other
    arguments print no words; code and protocol text are not labels."""
    source = ("print('refused:', exc)\n"
              "print(\"received:\", n, \"of\", total, \"bytes\")\n"
              "print('Content-Type:', kind)\n"
              "print('stat() now:', box.stat(), '|')\n"
              "print('tab:\\t', x)\n"
              "print('ended:', x, end='')\n"
              "def show():\n"
              "    print('inside:', 1)\n"
              "for n in range(2):\n"
              "    print('round', n)\n"
              "print(\"alice's home:\", home)\n")
    assert [(label.line, label.text) for label in printed.labels(source)] == [
        (1, "refused:"), (4, "stat() now:"), (10, "round"), (11, "alice's home:")]
    assert printed.usable("alice 的主目录：", "alice's home:") and printed.usable("「她的」", "refused:")
    assert not printed.usable('她的"家"', "alice's home:") and not printed.usable("她's", "refused:")
    code, done = printed.translate_source(source, {"refused:": "被拒绝：", "round": "第几轮", "tab:": "制表符"})
    assert done == {"refused:": "被拒绝：", "round": "第几轮"}
    assert code == source.replace("'refused:'", "'被拒绝：'").replace("'round'", "'第几轮'")
    outputs = [{"output_type": "stream", "name": "stdout", "text": ["refused: ConnectionRefusedError\n",
                                                                   "round 0\n", "round 1\n", "rounds 2\n"]},
               {"output_type": "stream", "name": "stderr", "text": "round 9\n"}]
    aligned, _ = printed.translate_source("print('listening on', addr)    # the port\n", {"listening on": "正在监听"})
    assert aligned == "print('正在监听', addr)        # the port\n"  # the comment stays in its screen column
    printed.translate_outputs(outputs, done)
    assert outputs[0]["text"] == ["被拒绝： ConnectionRefusedError\n", "第几轮 0\n", "第几轮 1\n", "rounds 2\n"]
    assert outputs[1]["text"] == "round 9\n"


def test_check_fails_on_a_changed_printed_label(copy):
    """A changed label is caught like a paragraph; until it is translated again, the build prints it in
    English, in the code and in the output alike."""
    edit_paragraph(copy, "01a_sockets", 'print(\\"timed out:\\", type(exc).__name__)',
                   'print(\\"timed out again:\\", type(exc).__name__)')
    edit_paragraph(copy, "01a_sockets", '"timed out: TimeoutError', '"timed out again: TimeoutError')
    before_update = run(copy, "check")
    assert before_update.returncode == 1
    assert "missing: notebooks/01a_sockets.ipynb, cell cell-50, line 8 (printed text)" in before_update.stdout
    assert run(copy, "update").returncode == 0
    po = (copy / "locale" / LANG / "LC_MESSAGES" / "01a_sockets.po").read_text(encoding="utf-8")
    entry = next(entry for entry in po.split("\n\n") if 'msgid "timed out again:"' in entry)
    assert "#, fuzzy" in entry and '#| msgid "timed out:"' in entry and 'msgctxt "printed text"' in entry, entry
    after_update = run(copy, "check")
    assert "fuzzy: notebooks/01a_sockets.ipynb, cell cell-50, line 8 (printed text)" in after_update.stdout
    assert run(copy, "build").returncode == 0
    built = (copy / "notebooks" / "zh" / "01a_sockets.ipynb").read_text(encoding="utf-8")
    assert 'print(\\"timed out again:\\"' in built and '"timed out again: TimeoutError' in built
    assert '"超时： TimeoutError' not in built and '\\"超时：\\"' not in built


def test_check_fails_on_an_unusable_label(copy):
    po_path = copy / "locale" / LANG / "LC_MESSAGES" / "01a_sockets.po"
    po = po_path.read_text(encoding="utf-8")
    assert 'msgstr "被拒绝："' in po
    po_path.write_text(po.replace('msgstr "被拒绝："', 'msgstr "被\\"拒绝\\"："'), encoding="utf-8")
    done = run(copy, "check")
    assert done.returncode == 1
    assert "unusable: notebooks/01a_sockets.ipynb, cell cell-46, line 8 (printed text)" in done.stdout
    assert run(copy, "build").returncode == 0  # the build keeps the English label in code and output
    built = (copy / "notebooks" / "zh" / "01a_sockets.ipynb").read_text(encoding="utf-8")
    assert '"refused: ConnectionRefusedError' in built


def test_check_fails_on_a_stale_build(copy):
    edit_paragraph(copy, "00_start_here", "print(servers.ftp.address)", "print((servers.ftp.address))")
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
