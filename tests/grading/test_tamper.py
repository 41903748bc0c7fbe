"""Submissions that attack the grader score what their functions earn, are flagged, and harm no one.

Each attacker is an untouched starter (worth 0) with an attack appended to
its sockets module, run when the module is imported: the attacks of issue
14 (forging the report, patching pytest, a pytest hook, reading the hidden
tests, running the reference solutions, a process that outlives grading
and edits grades.csv, killing or wiping the servers, overwriting a
classmate's module, planting tests/labs/conftest.py, filling the disk,
holding 6 GiB, printing 300 MiB) and a few more. They are graded in one
batch between honest submissions (the reference solutions), graded before,
beside (jobs=3) and after them; then a second batch and check() grade
honest work again. The repository must be unchanged.

The attacker knows every path (the repository, the submissions, the
reports): the sandbox must hold without secrecy.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from grader import LABS, batch, check, linux

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, STARTERS = ROOT / "solutions", ROOT / "labs"
LAB = "sockets"

pytestmark = pytest.mark.skipif(not linux.available(), reason="the full sandbox needs Linux and root")

# Each attack is Python appended to a starter; {out}, {reports}, {root}, {submissions} are filled in.
ATTACKS = {
    "report_atexit": '''
import atexit, json, os, sys
FAKE = json.dumps({{"schema": 1, "student": "x", "complete": True, "score": 9999, "max_score": 16,
                   "labs": {{"sockets": {{"score": 9999, "max": 16}}}},
                   "tests": [{{"lab": "sockets", "name": "test_timestamp_reply", "points": 9999,
                              "earned": 9999, "outcome": "passed"}}], "flags": []}}) + "\\n"
def _forge():
    for fd in range(3, 64):                      # every inherited descriptor, in case one is the report
        try:
            os.write(fd, FAKE.encode())
        except OSError:
            pass
    for name in os.listdir({reports!r}) if os.path.isdir({reports!r}) else []:
        try:
            open(os.path.join({reports!r}, name), "w").write(FAKE)
        except OSError:
            pass
    try:
        open({reports!r} + "/report_atexit.json", "w").write(FAKE)
    except OSError:
        pass
atexit.register(_forge)
_forge()
''',
    "patch_pytest": '''
try:
    import _pytest.reports, _pytest.runner
    _pytest.reports.TestReport.passed = property(lambda self: True)
    _pytest.reports.TestReport.failed = property(lambda self: False)
    _orig = _pytest.runner.call_and_report
    _pytest.runner.call_and_report = lambda *a, **k: _orig(*a, **k)
except Exception:
    pass
try:
    import grader.plugin
    grader.plugin.Grader.pytest_runtest_logreport = lambda self, report: None
except Exception:
    pass
''',
    "pytest_hook": '''
def pytest_runtest_makereport(item, call):   # a hook, in case the grader loads this as a plugin
    call.excinfo = None
def pytest_configure(config):
    config.option.lab_timeout = 0
import sys
try:
    import pytest
    sys.modules["conftest"] = sys.modules[__name__]
except Exception:
    pass
''',
    "read_hidden_and_solutions": '''
import glob, os
for _path in [{root!r} + "/solutions/01_sockets/sockets_lab.py", {root!r} + "/tests/labs/test_sockets.py",
              *glob.glob({root!r} + "/solutions/**/*.py", recursive=True)]:
    try:
        exec(compile(open(_path).read(), _path, "exec"), globals())   # run the reference solution as our own
        break
    except Exception:
        pass
''',
    "run_solutions_by_import": '''
import importlib.util, sys
try:
    sys.path.insert(0, {root!r} + "/solutions/01_sockets")
    _spec = importlib.util.spec_from_file_location("_ref", {root!r} + "/solutions/01_sockets/sockets_lab.py")
    _ref = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_ref)
    globals().update({{k: v for k, v in vars(_ref).items() if not k.startswith("__")}})
except Exception:
    pass
''',
    "daemon_edits_grades": '''
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(40):      # outlive the grading, then rewrite the grades
            time.sleep(0.25)
            for path in ({out!r}, {reports!r} + "/daemon_edits_grades.json"):
                try:
                    open(path, "w").write("student,total\\ndaemon_edits_grades,9999\\n")
                except OSError:
                    pass
        os._exit(0)
    os._exit(0)
''',
    "kill_and_wipe_servers": '''
import glob, os, shutil, signal, socket
for _pid in range(2, 4096):
    try:
        os.kill(_pid, signal.SIGKILL)
    except OSError:
        pass
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
for _dir in glob.glob("/tmp/**/data", recursive=True) + glob.glob("/tmp/**/local-servers*", recursive=True):
    shutil.rmtree(_dir, ignore_errors=True)
for _port in (10013, 10021, 10110):   # the course's servers on the default ports
    try:
        socket.create_connection(("127.0.0.1", _port), timeout=0.2).close()
    except OSError:
        pass
''',
    "overwrite_classmate": '''
import glob
for _path in glob.glob({submissions!r} + "/*/01_sockets/sockets_lab.py"):
    try:
        open(_path, "w").write("raise SystemExit('overwritten by a classmate')\\n")
    except OSError:
        pass
''',
    "plant_conftest": '''
for _path in ({root!r} + "/tests/labs/conftest.py", {root!r} + "/tests/conftest.py", {root!r} + "/conftest.py"):
    try:
        open(_path, "w").write("import pytest\\n@pytest.fixture\\ndef student():\\n    raise RuntimeError('planted')\\n")
    except OSError:
        pass
''',
    "fill_disk": '''
import errno, os
_chunk = b"x" * (1 << 20)
for _folder in ({reports!r}, "/tmp", os.getcwd()):
    for _n in range(100):           # many files: a per-file size limit alone does not stop this
        try:
            with open(os.path.join(_folder, f"fill-{{_n}}.bin"), "wb") as _f:
                for _ in range(64):
                    _f.write(_chunk)
        except OSError as _exc:
            if _exc.errno != errno.EFBIG:
                break
''',
    "hold_memory": '''
_hog = bytearray(6 * 1024 ** 3)
''',
    "print_lots": '''
import sys
for _ in range(300):
    sys.stdout.write("x" * (1 << 20))
''',
    "fork_bomb": '''
import os
_children = []
for _ in range(500):
    try:
        _pid = os.fork()
    except OSError:
        break
    if _pid == 0:
        import time
        time.sleep(30)
        os._exit(0)
    _children.append(_pid)
''',
}

#: What each attack must be flagged for (a word of its flag).
FLAGGED_FOR = {
    "report_atexit": "channel",
    "patch_pytest": "imported",
    "pytest_hook": "imported",
    "read_hidden_and_solutions": "tried to read",
    "run_solutions_by_import": "tried to read",
    "daemon_edits_grades": "process(es) running",
    "kill_and_wipe_servers": "sent signal",
    "overwrite_classmate": "tried to",
    "plant_conftest": "tried to write",
    "fill_disk": "disk",
    "hold_memory": "memory limit",
    "print_lots": "output limit",
    "fork_bomb": "process",
}


def _honest(folder: Path) -> None:
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__", "exercises"))


def _attacker(folder: Path, code: str) -> None:
    shutil.copytree(STARTERS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    module = LABS[LAB].path(folder)
    module.write_text(module.read_text(encoding="utf-8") + "\n" + code, encoding="utf-8")


def _git_state() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=all",
                           "--", "tests", "solutions", "labs", "grader", "conftest.py"],
                          capture_output=True, text=True, check=True).stdout


def _rows(out: Path) -> dict[str, dict]:
    return {row["student"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One batch: honest, every attacker, honest; graded 3 at a time; the repository's state before and after."""
    tmp = tmp_path_factory.mktemp("tamper")
    submissions, out = tmp / "submissions", tmp / "grades.csv"
    reports = tmp / "grades-reports"
    submissions.mkdir()
    before = _git_state()
    _honest(submissions / "00-honest-before")
    for name, code in ATTACKS.items():
        _attacker(submissions / name, code.format(out=str(out), reports=str(reports), root=str(ROOT),
                                                  submissions=str(submissions)))
    _honest(submissions / "zz-honest-after")
    started = time.monotonic()
    batch.grade(submissions, out, jobs=3, lab_timeout=5, submission_timeout=120, labs=[LAB])
    took = time.monotonic() - started
    time.sleep(2)  # time for a process that outlived grading to strike (it must not exist)
    return {"rows": _rows(out), "out": out, "tmp": tmp, "before": before, "took": took,
            "submissions": submissions}


def test_honest_submissions_keep_full_marks(graded):
    rows = graded["rows"]
    maximum = rows["(maximum)"][LAB]
    for name in ("00-honest-before", "zz-honest-after"):
        assert rows[name][LAB] == maximum, f"{name}: {rows[name]}"
        assert rows[name]["flags"] == "", f"{name} flagged: {rows[name]['flags']}"
    assert float(maximum) >= 10


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attacker_scores_zero_and_is_flagged(graded, attack):
    row = graded["rows"][attack]
    assert float(row[LAB]) == 0 and float(row["total"]) == 0, f"{attack}: {row}"
    assert FLAGGED_FOR[attack] in row["flags"], f"{attack} was not flagged for it: {row['flags']!r} ({row['note']})"
    assert row["note"].startswith("FLAGGED"), row["note"]


def test_grades_written_once_and_never_changed_after(graded):
    text = graded["out"].read_text(encoding="utf-8")
    assert "9999" not in text
    assert len(_rows(graded["out"])) == len(ATTACKS) + 3  # the maximum, two honest, every attacker
    reports = graded["tmp"] / "grades-reports"
    assert not any("9999" in p.read_text(errors="replace") for p in reports.glob("*.json"))
    assert not list(reports.glob("fill-*"))


def test_submissions_and_repository_unchanged(graded):
    assert _git_state() == graded["before"], "the attacks changed the repository"
    assert not (ROOT / "tests" / "labs" / "conftest.py").exists()
    honest = LABS[LAB].path(graded["submissions"] / "00-honest-before").read_text(encoding="utf-8")
    assert honest == LABS[LAB].path(SOLUTIONS).read_text(encoding="utf-8")


def test_next_batch_and_check_grade_honest_work_fully(graded, tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    _honest(submissions / "honest")
    rows = {r["student"]: r for r in batch.grade(submissions, tmp_path / "next.csv", jobs=1, labs=[LAB])}
    assert rows["honest"]["total"] == rows["honest"]["max"] > 0
    result = check(LAB, SOLUTIONS)
    assert result.passed and result.score == result.max_score


def test_attackers_are_graded_in_bounded_time(graded):
    # 15 submissions of one lab, 3 at a time; the slowest attacks hit their limits quickly.
    assert graded["took"] < 120, f"the batch took {graded['took']:.0f} s"


def test_attack_on_the_ftp_servers_stays_in_its_own_run(tmp_path):
    """Deleting the FTP server's files as alice (a real login) costs the attacker, never a neighbour."""
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    _honest(submissions / "a-honest")
    attacker = submissions / "b-wiper"
    _honest(attacker)
    module = LABS["ftp"].path(attacker)
    module.write_text(module.read_text(encoding="utf-8") + '''

_real_download = download
def download(host, port, remote_path, local_path, user="anonymous", password="", timeout=10.0):
    """Wipes what it can reach as alice, then downloads as the honest one does."""
    import ftplib
    try:
        with ftplib.FTP() as ftp:
            ftp.connect(host, port, timeout=5)
            ftp.login("alice", "alice-pw")
            for name in ftp.nlst():
                try:
                    ftp.delete(name)
                except ftplib.all_errors:
                    pass
    except ftplib.all_errors:
        pass
    return _real_download(host, port, remote_path, local_path, user, password, timeout)
''', encoding="utf-8")
    _honest(submissions / "c-honest")
    rows = {r["student"]: r for r in batch.grade(submissions, tmp_path / "g.csv", jobs=3, labs=["ftp"])}
    for name in ("a-honest", "c-honest"):
        assert rows[name]["total"] == rows[name]["max"] > 0, rows[name]
