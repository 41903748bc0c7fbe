"""course.py speaks Chinese under --lang zh or a zh locale, English otherwise, from a bare python3.

Run as a student runs it: `python3 course.py ...` in a shell whose python3 is a bare Python (nothing
installed), in a sandbox (fresh HOME, workspace and servers' state in a temporary folder).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest

import sandbox

CJK = re.compile(r"[\u4e00-\u9fff]")
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """(environment, tmp): python3 on PATH is a fresh venv's Python, with nothing installed."""
    tmp = tmp_path_factory.mktemp("lang")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(tmp / "bare-python")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(tmp / "bare-python" / "bin" / "python")
    env = sandbox.environment(tmp, PATH=os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]))
    for name in LOCALE_VARIABLES:
        env.pop(name, None)
    return env, tmp


def course(env: dict, words: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(f"python3 course.py {words}", shell=True, cwd=sandbox.ROOT, env={**env, **extra},
                          capture_output=True, text=True, timeout=timeout)


def test_status_in_a_zh_locale_is_chinese_and_english_otherwise(bare):
    env, tmp = bare
    not_set_up = {"COURSE_VENV": str(tmp / "no-venv-yet")}
    chinese = course(env, "status", LANG="zh_CN.UTF-8", **not_set_up)
    assert chinese.returncode == 3, chinese.stdout + chinese.stderr
    assert chinese.stdout == "课程尚未设置：`python3 course.py start` 会设置并启动它。\n"
    english = course(env, "status", LANG="C.UTF-8", **not_set_up)
    assert english.stdout == "The course is not set up yet: `python3 course.py start` sets it up and starts it.\n"
    # LC_ALL overrides LANG, and --lang overrides both, placed before or after the command
    assert not CJK.search(course(env, "status", LANG="zh_CN.UTF-8", LC_ALL="en_US.UTF-8", **not_set_up).stdout)
    assert CJK.search(course(env, "--lang zh status", LANG="C.UTF-8", **not_set_up).stdout)
    assert not CJK.search(course(env, "status --lang=en", LANG="zh_CN.UTF-8", **not_set_up).stdout)


def test_help_and_mistakes_in_chinese(bare):
    env, _ = bare
    assert "给你的一个实验评分" in course(env, "help --lang zh").stdout
    unknown = course(env, "nonsense", LANG="zh_CN.UTF-8")
    assert unknown.returncode == 2 and unknown.stdout.startswith("course.py：没有 'nonsense' 这个命令。")
    assert course(env, "check", LANG="zh_CN.UTF-8").stdout.startswith("检查哪个实验？例如：`python3 course.py check ftp`")
    fresh = course(env, "fresh nonsense --lang zh")
    assert fresh.returncode == 2 and fresh.stdout.startswith("'nonsense' 不是课程中的章节、实验或文件。")


def test_check_with_lang_zh_grades_in_chinese_end_to_end(bare):
    """course.py check ftp --lang zh: the course's environment grades the untouched starter, in Chinese."""
    env, _ = bare
    result = course(env, "check ftp --lang zh", timeout=300, LANG="C.UTF-8")
    assert result.returncode == 1, result.stdout + result.stderr  # the starter fails its checks
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ftp：0/") and lines[0].endswith(" 分"), result.stdout
    assert "未通过" in result.stdout and "提示：登录，进入目录" in result.stdout and "FAILED" not in result.stdout
    english = course(env, "check ftp", timeout=300, LANG="C.UTF-8")
    assert english.stdout.startswith("ftp: 0/") and "hint: Log in, change to the folder" in english.stdout
    assert not CJK.search(english.stdout)


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return json.loads(reply.read())


@pytest.mark.skipif(importlib.util.find_spec("jupyterlab_language_pack_zh_CN") is None,
                    reason="jupyterlab-language-pack-zh-CN is not installed (the course's [course] extra)")
def test_start_lang_zh_gives_jupyterlab_a_chinese_interface_through_its_own_overrides(tmp_path):
    """start --lang zh: JupyterLab's locale is zh_CN by the workspace's settings overrides, its pack answers."""
    env = sandbox.environment(tmp_path)
    process = subprocess.Popen([sys.executable, str(sandbox.COURSE), "start", "--lang", "zh", "--no-browser",
                                "--ServerApp.port=0"], cwd=sandbox.ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, url = "", None
        deadline = time.monotonic() + 240
        while url is None and time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline()
            output += line
            found = re.search(r"(http://\S+)/lab/tree/\S+\?token=(\w+)", line)
            url = found and found.groups()
        assert url, output
        assert "JupyterLab 正在你的工作区上运行" in output, output
        base, token = url
        plugin = _get_json(f"{base}/lab/api/settings/@jupyterlab/translation-extension:plugin?token={token}")
        assert plugin["schema"]["properties"]["locale"]["default"] == "zh_CN"
        pack = _get_json(f"{base}/lab/api/translations/zh_CN?token={token}")
        assert pack["data"], "the Chinese language pack has no data"
        assert "帮助" in json.dumps(pack["data"], ensure_ascii=False)  # the Help menu, in Chinese
        # set for this workspace's Lab, not in the student's user settings (another Lab stays as it was)
        assert not list(Path(env["HOME"]).rglob("*translation-extension*")), "a user setting was written"
        assert json.loads((tmp_path / "workspace" / ".jupyterlab-zh" / "settings" / "overrides.json")
                          .read_text(encoding="utf-8")) == {"@jupyterlab/translation-extension:plugin": {"locale": "zh_CN"}}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_the_suite_run_by_course_py_test_checks_english_texts_on_a_zh_locale(bare):
    """course.py test on a zh locale: the tests that assert check()'s English words still pass."""
    env, _ = bare
    done = course(env, "test tests/grading/test_grading.py -q -p no:randomly -k table_with_hints", timeout=600,
                  LANG="zh_CN.UTF-8")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
