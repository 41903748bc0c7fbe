"""The batch command as an instructor uses it: folders as they come, paths as typed, errors in one line."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from grader import LABS, batch

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, STARTERS = ROOT / "solutions", ROOT / "labs"
LAB = "sockets"


def _repository_state() -> set[Path]:
    """The checkout's top-level entries (a reports/ folder would show), less Python's own byte-code cache:
    pytest compiles the root conftest.py there the first time any run imports it."""
    return {path for path in ROOT.iterdir() if path.name != "__pycache__"}


def _command(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=600)


def test_missing_submissions_folder_is_one_line_and_exit_2(tmp_path):
    done = _command("batch", "no-such-folder", "--out", "grades.csv", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "no-such-folder" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "grades.csv").exists()


def test_nested_submissions_relative_paths_from_anywhere(tmp_path):
    """student/labs/01_sockets/... (a zip with a labs/ folder) is found; relative paths work from outside the repo."""
    elsewhere = tmp_path / "instructor"
    submissions = elsewhere / "subs"
    shutil.copytree(SOLUTIONS / LABS[LAB].folder, submissions / "nested" / "labs" / LABS[LAB].folder)
    shutil.copytree(SOLUTIONS / LABS[LAB].folder, submissions / "flat" / LABS[LAB].folder)
    shutil.copytree(STARTERS / LABS[LAB].folder, submissions / "untouched" / LABS[LAB].folder)
    before = _repository_state()
    done = _command("batch", "subs", "--out", "out/grades.csv", "--labs", LAB, "--jobs", "3", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    rows = {row["student"]: row for row in csv.DictReader((elsewhere / "out" / "grades.csv").open(encoding="utf-8"))}
    maximum = rows["(maximum)"][LAB]
    assert rows["nested"][LAB] == rows["flat"][LAB] == maximum, rows
    assert rows["untouched"][LAB] == "0"
    assert "sockets:test_timestamp_reply" in rows["untouched"]["failed"]
    assert (elsewhere / "out" / "grades-reports" / "nested.json").is_file()
    assert _repository_state() == before, "grading wrote into the repository"
    assert not (ROOT / "reports").exists() or not any((ROOT / "reports").glob("grade-nested*"))


def test_labs_folder_is_found_one_or_two_levels_down(tmp_path):
    (tmp_path / "a" / "01_sockets").mkdir(parents=True)
    (tmp_path / "b" / "labs" / "02_ftp").mkdir(parents=True)
    (tmp_path / "c" / "project-main" / "labs" / "03_nntp").mkdir(parents=True)
    (tmp_path / "d" / "nothing").mkdir(parents=True)
    assert batch.labs_folder(tmp_path / "a") == tmp_path / "a"
    assert batch.labs_folder(tmp_path / "b") == tmp_path / "b" / "labs"
    assert batch.labs_folder(tmp_path / "c") == tmp_path / "c" / "project-main" / "labs"
    assert batch.labs_folder(tmp_path / "d") == tmp_path / "d"


def test_default_jobs_use_the_waiting():
    assert batch.default_jobs() == (os.cpu_count() or 1) * batch.JOBS_PER_CORE


def test_rows_are_recomputed_from_the_tests_never_from_claimed_scores():
    """A report claiming 9999 points (or points on failed tests) cannot raise a row."""
    from grader import report

    claimed = {"student": "x", "score": 9999, "max_score": 18, "labs": {"ftp": {"score": 9999, "max": 18}},
               "tests": [{"lab": "ftp", "name": "test_a", "points": 3, "earned": 9999, "outcome": "failed"},
                         {"lab": "ftp", "name": "test_b", "points": 2, "earned": 2, "outcome": "passed"},
                         {"lab": "ftp", "name": "test_c", "points": -50, "earned": 0, "outcome": "failed"}]}
    row = report.csv_row(claimed)
    assert row["total"] == 2 and row["labs"] == {"ftp": 2} and row["max"] == 5
    assert row["failed"] == ["ftp:test_a", "ftp:test_c"]


def _chinese(*args, cwd):
    env = {key: value for key, value in os.environ.items() if key not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(PYTHONPATH=str(ROOT), COURSE_LANG="zh")
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=600)


def test_the_console_speaks_chinese_and_the_csv_stays_english(tmp_path):
    """An instructor with COURSE_LANG=zh (or a zh locale) reads progress, errors and the summary in Chinese;
    the CSV is data that shards graded under other locales must merge into, so its words stay English."""
    missing = _chinese("batch", "no-such-folder", "--out", "grades.csv", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"错误：找不到作业文件夹：{tmp_path / 'no-such-folder'}", missing.stderr
    shutil.copytree(STARTERS / LABS[LAB].folder, tmp_path / "subs" / "untouched" / LABS[LAB].folder)
    done = _chinese("batch", "subs", "--out", "grades.csv", "--labs", LAB, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[1/1] untouched：0/" in done.stderr and "秒）" in done.stderr, done.stderr
    assert done.stdout.startswith("已评分 1 份作业"), done.stdout
    rows = {row["student"]: row for row in csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8"))}
    assert "sockets:test_timestamp_reply" in rows["untouched"]["failed"]
    assert not re.search(r"[\u4e00-\u9fff]", (tmp_path / "grades.csv").read_text(encoding="utf-8"))
