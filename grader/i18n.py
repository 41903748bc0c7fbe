"""The grader's words in English and Simplified Chinese, side by side, and which of the two to use.

A student who reads the course in Chinese gets check()'s table, its notes and the hints in Chinese:
`check("ftp", lang="zh")`, or a Chinese locale (LC_ALL, LC_MESSAGES or LANG starting with "zh", in
POSIX's order of precedence), or COURSE_LANG=zh, which `course.py --lang zh` sets for everything it starts
(so the notebooks' kernels answer in Chinese too). Everything else is English.

The hints themselves stay in the tests, in English (tests/labs, tests/exercises/checks); their Chinese is
in hints_zh.py, keyed by the English text, so a changed English hint has no Chinese until it is translated
again (tests/grading/test_i18n.py fails on it) and is shown in English meanwhile, never a stale translation.
The chapter sections a Chinese hint names are shown by the Chinese edition's headings (sections.py).
"""

from __future__ import annotations

import os

LANGUAGES = ("en", "zh")

#: key -> (English, Chinese). Placeholders are str.format fields, the same in both.
MESSAGES: dict[str, tuple[str, str]] = {
    "points": ("{lab}: {score}/{max} points", "{lab}：{score}/{max} 分"),
    "passed": ("passed", "通过"),
    "failed": ("FAILED", "未通过"),
    "hint": ("hint: {detail}", "提示：{detail}"),
    "detail": ("{hint} ({message})", "{hint}（{message}）"),
    "col_check": ("check", "结果"),
    "col_test": ("test", "检查项"),
    "col_points": ("points", "得分"),
    "col_hint": ("hint", "提示"),
    "not_run_import": ("not run: your module did not import (see above)", "未运行：你的模块无法导入（见上文）"),
    "todo": ("not written yet", "尚未编写"),
    "checked": ("checked {path}", "已检查 {path}"),
    "import_error": ("{where}. Your module could not be imported: {error}", "{where}。你的模块无法导入：{error}"),
    "could_not_run": ("{where}. The checks could not run: {tail}", "{where}。检查未能运行：{tail}"),
    "stopped": ("stopped after {seconds} s. ", "{seconds} 秒后已停止。"),
    "unknown_lab": ("unknown lab {lab!r}; the labs are: {labs}; the exercises: {exercises}",
                    "没有名为 {lab!r} 的实验；实验有：{labs}；练习有：{exercises}"),
    # report.notes(): one short line on what went wrong beyond failed checks
    "note_timeouts": ("{lab}: {count} test(s) timed out ({names})", "{lab}：{count} 项检查超时（{names}）"),
    "note_errors": ("{lab}: {count} grader error(s)", "{lab}：评分程序自身出错 {count} 次"),
    "note_cut_off": ("run cut off, {count} test(s) not run", "运行被中断，{count} 项检查未运行"),
    "note_degraded": ("sandbox degraded: {why}", "沙箱隔离不完整：{why}"),
    # the batch grader's console lines (instructors)
    "batch_done": ("graded {count} submission(s) in {seconds:.1f} s: {out}",
                   "已评分 {count} 份作业，用时 {seconds:.1f} 秒：{out}"),
    "batch_progress": ("[{number}/{count}] {student}: {total:g}/{max:g} ({seconds:.1f} s){note}",
                       "[{number}/{count}] {student}：{total:g}/{max:g} 分（{seconds:.1f} 秒）{note}"),
    "batch_shard_empty": ("shard {shard} has no submissions ({everyone} in all, {shards} shards)",
                          "分片 {shard} 中没有作业（共 {everyone} 份，分为 {shards} 片）"),
    "no_submissions": ("no submissions folder at {folder}", "找不到作业文件夹：{folder}"),
    "no_hidden_tests": ("hidden tests folder not found: {folder}", "找不到隐藏测试的文件夹：{folder}"),
    "error": ("error: {message}", "错误：{message}"),
    "merged": ("merged {shards} shard(s), {count} submission(s): {out}",
               "已合并 {shards} 个分片，共 {count} 份作业：{out}"),
    "merge_no_details": ("no details JSON written: {missing} missing (bring them beside the CSVs)",
                         "未写出详情 JSON：缺少 {missing}（请把它们放在 CSV 文件旁边）"),
}
#: The batch grader's CSV and its notes stay English whatever the console speaks: a data file that shards
#: graded on machines with different locales merge into byte for byte (grader/shards.py).


def language(lang: str | None = None) -> str:
    """"zh" or "en": lang if given, else COURSE_LANG, else the locale's messages language."""
    if lang:
        chosen = lang
    else:
        chosen = os.environ.get("COURSE_LANG", "")
        if not chosen:
            for name in ("LC_ALL", "LC_MESSAGES", "LANG"):  # POSIX: the first one set wins
                if os.environ.get(name):
                    chosen = os.environ[name]
                    break
    return "zh" if chosen.lower().replace("-", "_").startswith("zh") else "en"


def text(key: str, lang: str | None = None, **fields) -> str:
    """The message `key` in the chosen language, its fields filled in."""
    english, chinese = MESSAGES[key]
    return (chinese if language(lang) == "zh" else english).format(**fields)


def hint(english: str, lang: str | None = None) -> str:
    """A check's hint in the chosen language; the English one while it has no translation."""
    if language(lang) != "zh":
        return english
    from .hints_zh import HINTS_ZH
    from .sections import in_chinese

    return in_chinese(HINTS_ZH[english]) if english in HINTS_ZH else english
