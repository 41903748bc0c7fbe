"""The grader is honest: solutions get full marks, untouched starters 0, bad submissions their due.

These tests run the real grader (pytest in a subprocess, as check() and the
batch do) on solutions/, on labs/, and on synthetic submissions made from
both (grader/synthetic.py).
"""

from __future__ import annotations

import ast
import csv
import time
from pathlib import Path

import pytest

from grader import LABS, check, synthetic
from grader import batch as batch_module
from grader import run as runner
from grader.labs import EXERCISES

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, STARTERS = ROOT / "solutions", ROOT / "labs"

#: The 7-submission batch below (two of them hang) must finish within this many seconds
#: (measured: about 15 s on 2 busy cores).
BATCH_TIME_BOUND = 90


def grade(labs_dir: Path, tmp_path: Path, name: str) -> dict:
    result = runner.run([runner.lab_tests()], labs_dir, tmp_path / f"{name}.json", tmp_path / f"{name}.log",
                        wall_timeout=300)
    assert result.report is not None, f"no report; log: {result.log_tail(20)}"
    assert (tmp_path / f"{name}.csv").is_file(), "the CSV report is missing"
    return result.report


@pytest.fixture(scope="module")
def solutions_report(tmp_path_factory):
    return grade(SOLUTIONS, tmp_path_factory.mktemp("solutions"), "solutions")


@pytest.fixture(scope="module")
def starters_report(tmp_path_factory):
    return grade(STARTERS, tmp_path_factory.mktemp("starters"), "starters")


def test_every_lab_is_graded(solutions_report):
    assert list(solutions_report["labs"]) == list(LABS)
    for name, lab in solutions_report["labs"].items():
        assert lab["tests"] >= 4 and lab["max"] >= 10, f"{name}: too few checks"


def test_solutions_get_full_marks(solutions_report):
    failed = [(t["nodeid"], t["outcome"], t["message"]) for t in solutions_report["tests"] if t["outcome"] != "passed"]
    assert not failed
    assert solutions_report["complete"] is True
    assert solutions_report["score"] == solutions_report["max_score"] > 0
    for lab in solutions_report["labs"].values():
        assert lab["score"] == lab["max"]


def test_starters_score_zero_by_failing(starters_report):
    """Every check runs and fails on the starters: none passes, none is a grader error."""
    outcomes = {t["nodeid"]: (t["outcome"], t["reason"]) for t in starters_report["tests"]}
    assert all(outcome == "failed" for outcome, _ in outcomes.values()), outcomes
    assert starters_report["score"] == 0
    assert starters_report["max_score"] > 0
    # Every failure is the starter's "TODO", which check() shows as "not written yet".
    assert all(reason == "todo" for _, reason in outcomes.values()), outcomes


def test_every_check_has_a_hint(solutions_report):
    assert all(t["hint"] for t in solutions_report["tests"])


def _public_api(path: Path) -> dict:
    """Public functions, classes and methods with their signatures and docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    api = {"__doc__": ast.get_docstring(tree)}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            api[node.name] = (ast.dump(node.args) if isinstance(node, ast.FunctionDef) else None,
                              ast.get_docstring(node))
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                        api[f"{node.name}.{item.name}"] = (ast.dump(item.args), ast.get_docstring(item))
    return api


def test_solutions_mirror_the_labs_file_for_file():
    def files(root):
        return sorted(p.relative_to(root).as_posix() for lab in LABS.values() for p in (root / lab.folder).rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts)

    assert files(SOLUTIONS) == files(STARTERS)
    for lab in LABS.values():
        starter, solution = _public_api(lab.path(STARTERS)), _public_api(lab.path(SOLUTIONS))
        assert solution == starter, f"{lab.folder}/{lab.module}: names, signatures or docstrings differ"
        text = lab.path(STARTERS).read_text(encoding="utf-8")
        assert 'raise NotImplementedError("TODO' in text


HIDDEN_TEST = '''
import pytest

pytestmark = pytest.mark.lab("ftp")


@pytest.mark.points(1, hint="Hidden check.")
def test_hidden_download_of_readme(student, lab_servers, tmp_path):
    target = tmp_path / "README.txt"
    student.download(lab_servers.ftp.host, lab_servers.ftp.port, "pub/README.txt", str(target))
    assert target.read_bytes() == (lab_servers.state_dir / "data/ftp/public/pub/README.txt").read_bytes()
'''


def test_batch_of_synthetic_submissions(tmp_path, solutions_report):
    """Seven submissions, two of them hanging, grade into the right CSV within the stated bound."""
    kinds = ["stubborn", "full", "partial", "hang", "import_error", "syntax_error", "starter"]
    synthetic.make_batch(tmp_path / "submissions", kinds, SOLUTIONS, STARTERS)
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_ftp_hidden.py").write_text(HIDDEN_TEST, encoding="utf-8")
    out = tmp_path / "grades.csv"
    started = time.monotonic()
    batch_module.grade(tmp_path / "submissions", out, hidden_tests=hidden, jobs=2, lab_timeout=3,
                       submission_timeout=60)
    took = time.monotonic() - started
    assert took < BATCH_TIME_BOUND, f"the batch took {took:.0f} s"

    rows = {row["student"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert list(rows) == ["(maximum)"] + [f"{i:02d}-{kind}" for i, kind in enumerate(kinds, 1)]
    maxima = {name: lab["max"] for name, lab in solutions_report["labs"].items()}
    maxima["ftp"] += 1  # the hidden test
    assert {lab: float(rows["(maximum)"][lab]) for lab in maxima} == maxima
    points = {t["name"]: t["points"] for t in solutions_report["tests"] if t["lab"] == "sockets"}
    for i, kind in enumerate(kinds, 1):
        row = rows[f"{i:02d}-{kind}"]
        expected = synthetic.expected_scores(kind, maxima, points)
        got = {lab: float(row[lab]) for lab in maxima}
        assert got == expected, f"{kind}: {row}"
        assert float(row["total"]) == sum(expected.values())
        assert float(row["max"]) == sum(maxima.values())
        assert row["flags"] == "", f"{kind} was flagged: {row['flags']}"
    assert rows["02-full"]["note"] == "" and rows["02-full"]["failed"] == ""
    assert rows["07-starter"]["note"] == ""
    assert "sockets:test_timestamp_reply" in rows["07-starter"]["failed"]
    assert "ftp:test_download" in rows["03-partial"]["failed"] and "sockets:test_udp_client" in rows["03-partial"]["failed"]
    # A hung start_tcp_server() is stopped in each of its own tests, and costs no other test.
    hung = [name for name in points if name.startswith(synthetic.HANG_BREAKS)]
    assert f"sockets: {len(hung)} test(s) timed out ({hung[0]}" in rows["04-hang"]["note"], rows["04-hang"]["note"]
    assert "stopped after" not in rows["04-hang"]["note"]
    assert "smtp: smtp_lab.py, line" in rows["05-import_error"]["note"]
    assert "RuntimeError: wrong on purpose" in rows["05-import_error"]["note"]
    assert "mail: mail_lab.py, line" in rows["06-syntax_error"]["note"] and "SyntaxError" in rows["06-syntax_error"]["note"]
    assert "nntp: nntp_lab.py did not finish importing in time" in rows["01-stubborn"]["note"]
    assert (out.with_suffix(".json")).is_file()


def test_check_shows_a_table_with_hints(capfd):
    result = check("sockets", STARTERS)
    assert result.score == 0 and not result.passed
    assert all(not c["ok"] and c["hint"] for c in result.checks)
    assert "FAILED" in repr(result) and "hint:" in repr(result)
    assert "<table>" in result._repr_html_()
    good = check("sockets", SOLUTIONS)
    assert good.passed and good.score == good.max_score > 0
    out, err = capfd.readouterr()
    assert out == "" and err == "", "check() must not print (servers' or tests' output) into the cell"


@pytest.mark.parametrize("unit", sorted(EXERCISES))
def test_check_grades_a_chapters_exercises(unit):
    """check("exNN") grades exercises/exNN_*.py of a labs folder with the labs' sandbox and table."""
    good = check(unit, SOLUTIONS)
    assert good.passed and good.score == good.max_score > 0, repr(good)
    assert f"exercises/{EXERCISES[unit].module}" in good.note
    starter = check(unit, STARTERS)
    assert starter.score == 0 and len(starter.checks) == len(good.checks), repr(starter)
    assert all(not c["ok"] and c["hint"] and c["message"] == "not written yet" for c in starter.checks), repr(starter)


def test_exercise_checks_stay_out_of_the_suite_and_the_lab_grades():
    """Like tests/labs/, the exercises' checks run only when named: graded against labs/ they fail."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly",
                           "tests/exercises"], cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert "test_ex02_ftp.py" in done.stdout and "checks/test_ex02.py" not in done.stdout, done.stdout[-2000:]
    assert not (runner.lab_tests() / "test_ex02.py").exists()  # the batch grades tests/labs/ only


def test_check_rejects_unknown_lab():
    with pytest.raises(ValueError, match="sockets, ftp"):
        check("gopher")


def _solutions_with(tmp_path: Path, lab: str, code: str) -> Path:
    """A copy of the solutions with code appended to one lab's module (it overrides what it redefines)."""
    import shutil

    folder = tmp_path / "labs"
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__", "exercises"))
    path = LABS[lab].path(folder)
    path.write_text(path.read_text(encoding="utf-8") + "\n" + code, encoding="utf-8")
    return folder


def test_failure_lines_show_the_students_exception_without_internals(tmp_path):
    folder = _solutions_with(tmp_path, "sockets", '''
class PortError(Exception):
    pass

def tcp_client(host, port, messages, timeout=5.0):
    raise PortError(f"cannot use port {port} of {object()!r}")

def udp_client(host, port, messages, timeout=5.0):
    return [b"not stamped" for _ in messages]
''')
    result = check("sockets", folder)
    messages = {c["name"]: c["message"] for c in result.checks if not c["ok"]}
    assert set(messages) == {"test_tcp_client", "test_tcp_client_refused", "test_tcp_client_timeout",
                             "test_udp_client", "test_udp_client_lost_reply"}, messages
    assert messages["test_tcp_client"].startswith("PortError: cannot use port"), messages
    assert "sockets_lab.py, line" in messages["test_tcp_client"]
    assert "not stamped" in messages["test_udp_client_lost_reply"]
    for text in messages.values():
        assert "0x" not in text and "grader" not in text and "sandbox" not in text and "Traceback" not in text, text
        assert text.count("\n") <= 2, text


def test_a_hung_function_costs_only_its_own_checks(tmp_path):
    folder = _solutions_with(tmp_path, "sockets", '''
def udp_client(host, port, messages, timeout=5.0):
    import time
    while True:
        time.sleep(0.1)
''')
    started = time.monotonic()
    result = check("sockets", folder, lab_timeout=2)
    failed = {c["name"]: c["message"] for c in result.checks if not c["ok"]}
    hung = {"test_udp_client", "test_udp_client_lost_reply"}  # the two checks that call udp_client()
    assert set(failed) == hung, failed
    assert all("did not finish in time" in failed[name] for name in hung), failed
    # the second check gets a shorter limit: a function that hung once costs little time after
    assert "earlier check" not in failed["test_udp_client"] and "earlier check" in failed["test_udp_client_lost_reply"]
    assert result.score == result.max_score - sum(c["points"] for c in result.checks if c["name"] in hung)
    assert time.monotonic() - started < 60


def test_check_shows_an_import_error_once_with_its_line(tmp_path):
    folder = _solutions_with(tmp_path, "sockets", "\ndef broken(:\n    pass\n")
    result = check("sockets", folder)
    assert result.score == 0
    assert "could not be imported" in result.note and "SyntaxError" in result.note
    assert ", line " in result.note
    text = repr(result)
    assert text.count("SyntaxError") == 1, text
    assert all("did not import" in c["message"] for c in result.checks)


def test_check_says_which_folder_it_checked(tmp_path):
    result = check("sockets", SOLUTIONS)
    assert f"checked {SOLUTIONS / '01_sockets' / 'sockets_lab.py'}" in result.note


def test_student_processes_start_reliably_side_by_side():
    """8 sandboxes restarting at once: every start answers (a keeper importing after the fork lost this race)."""
    import threading

    from grader.sandbox import RemoteModule, Sandbox

    errors = []

    def restarts(index):
        box = Sandbox({lab: LABS[lab].path(SOLUTIONS) for lab in LABS})
        try:
            for _ in range(10):
                try:
                    RemoteModule(box, "http", "http_lab.py").ApiError
                except Exception as exc:
                    errors.append(f"{index}: {exc!r}: {box.output.read_text(errors='replace')[-300:]}")
                box.stop()
        finally:
            box.close()

    threads = [threading.Thread(target=restarts, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_sandbox_without_namespaces_still_separates_and_times_out():
    """The degraded mode (not root, not Linux): a process of its own, data over the channel, per-call limits."""
    from grader.sandbox import RemoteModule, Sandbox, StudentTimeout

    box = Sandbox({lab: LABS[lab].path(SOLUTIONS) for lab in LABS}, isolate=False)
    try:
        assert box.uid is None and "no separate uid" in box.description
        sockets = RemoteModule(box, "sockets", "sockets_lab.py")
        assert sockets.timestamp_reply(b"x").endswith(b"] x")
        server = sockets.start_tcp_server("127.0.0.1", 0)
        assert isinstance(server.server_address, tuple)
        server.close()
        ftp = RemoteModule(box, "ftp", "ftp_lab.py")
        with pytest.raises(ftp.DownloadError):
            ftp.download("127.0.0.1", 1, "a.txt", str(box.home / "a.txt"), timeout=2)
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # receives, never answers
            silent.bind(("127.0.0.1", 0))
            box.deadline = time.monotonic() + 1
            with pytest.raises(StudentTimeout):
                sockets.udp_client("127.0.0.1", silent.getsockname()[1], [b"x"], timeout=30)
            box.deadline = None
        assert sockets.timestamp_reply(b"y").endswith(b"] y")  # a fresh process answers
    finally:
        box.close()


def test_a_handle_of_a_stopped_process_fails_without_starting_another():
    """A failed check stops the student's process; the test's tear-down still holds handles of it (a
    served handler, a server). Using one fails at once: it used to start a fresh process that did not know
    the handle, crashed on it, and started another (two needless starts per failed check)."""
    from grader.sandbox import RemoteModule, Sandbox, StudentCrash

    box = Sandbox({"sockets": LABS["sockets"].path(SOLUTIONS)}, isolate=False)
    try:
        server = RemoteModule(box, "sockets", "sockets_lab.py").start_tcp_server("127.0.0.1", 0)
        assert isinstance(server.server_address, tuple)
        box.stop()  # what a failed check that left a thread behind gets
        starts = box.starts
        with pytest.raises(StudentCrash, match="gone"):
            server.close()
        assert box.starts == starts and box.process is None, "a process was started for a handle it never had"
    finally:
        box.close()


def test_a_failed_check_keeps_the_process_only_when_it_left_nothing_behind():
    """After a failure the next check may keep the student's process (a new one costs ~0.1 CPU-s) only when
    it holds no thread, open file, live object or process besides what a fresh one holds."""
    from grader.sandbox import RemoteModule, Sandbox

    box = Sandbox({lab: LABS[lab].path(STARTERS) for lab in LABS} | {"ftp": LABS["ftp"].path(SOLUTIONS)})
    try:
        starter = RemoteModule(box, "sockets", "sockets_lab.py")
        with pytest.raises(NotImplementedError):
            starter.timestamp_reply(b"x")
        assert box.settled(), "a TODO that raised left nothing behind"
        error_class = RemoteModule(box, "ftp", "ftp_lab.py").DownloadError  # a handle to a class holds no state
        assert error_class is not None and box.settled()
        solved = Sandbox({"sockets": LABS["sockets"].path(SOLUTIONS)})
        try:
            running = RemoteModule(solved, "sockets", "sockets_lab.py").start_tcp_server("127.0.0.1", 0)
            assert not solved.settled(), "a running server (thread, socket, live object) must not reach the next check"
            running.close()
        finally:
            solved.close()
    finally:
        box.close()
