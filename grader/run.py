"""One grading run: pytest on one labs folder, in a subprocess of its own.

check() and the batch grader both come through here. A subprocess keeps a
student's crash, hang or stray thread away from the caller (a notebook's
kernel, the batch), and its whole process group is killed if it overruns
its wall-clock limit. Its output goes to a log file, never to the caller.

Start-up is kept lean: plugin autoloading is off (nbval alone costs about
3 s of imports) and only the plugins grading needs are loaded. Failures are
reported with --tb=native: pytest's own traceback style parses the source
file of every frame (the grader's sandbox.py among them) for each failed
check, which cost an untouched starter's run 1.1 of its 1.7 CPU-s; the
message a student sees (the exception's last line) is the same either way.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path



from . import linux
from .servers import SHARED_SERVERS_ENV, TEMPLATE_ENV, labs_of_tests

#: The repository: its tests/labs/ holds the graded tests.
ROOT = Path(__file__).resolve().parent.parent
LAB_TESTS = ROOT / "tests" / "labs"


@dataclass
class RunResult:
    report: dict | None  # the JSON report, complete or partial, or None if none was written
    returncode: int | None
    killed: bool  # overran the wall-clock limit and was killed
    duration: float
    log_file: Path

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])


def lab_tests() -> Path:
    if not LAB_TESTS.is_dir():
        raise FileNotFoundError(f"the lab tests are not found (expected {LAB_TESTS}); "
                                "grading needs a clone of the course repository")
    return LAB_TESTS


def exercise_checks() -> Path:
    """The checks of the chapters' exercises (check("ex02")): graded like a lab, never part of a grade."""
    return lab_tests().parent / "exercises" / "checks"


#: pytest's built-in plugins a grading run never uses. unraisableexception ends every run with five full
#: garbage collections (~0.1 CPU-s on a run's heap); threadexception only turns exceptions in the tests' own
#: threads into warnings nobody reads; the others are imported for nothing.
UNUSED_PLUGINS = ("unraisableexception", "threadexception", "doctest", "junitxml", "pastebin", "stepwise",
                  "setuponly", "setupplan")


def pytest_command(test_paths: list[Path], labs_dir: Path, report_fd: int, *, student: str | None = None,
                   lab_timeout: float | None = None, basetemp: Path | None = None,
                   hide: list[Path] = ()) -> list[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
               *(x for name in UNUSED_PLUGINS for x in ("-p", f"no:{name}")),
               "-p", "pytest_timeout", "-p", "local_servers.pytest_plugin", "-p", "grader.plugin",
               "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), "--import-mode=importlib",
               "--continue-on-collection-errors", "-o", "console_output_style=classic", "--tb=native",
               *map(str, test_paths), "--labs-dir", str(labs_dir), "--grade-report-fd", str(report_fd)]
    if student:
        command += ["--student", student]
    if lab_timeout is not None:
        command += ["--lab-timeout", str(lab_timeout)]
    if basetemp is not None:
        command += ["--basetemp", str(basetemp)]
    for path in hide:
        command += ["--sandbox-hide", str(path)]
    return command


def run(test_paths: list[Path], labs_dir: Path, report: Path, log_file: Path, *, student: str | None = None,
        lab_timeout: float | None = None, wall_timeout: float = 600, shared_servers: Path | None = None,
        hide: list[Path] = ()) -> RunResult:
    """Grade labs_dir with the given test files or folders; never raises for the student's faults.

    The report comes back through a pipe (never a file the student's process
    could reach) and is written to `report` (JSON, with a CSV beside it) here.
    hide: more folders the student's process must not see (the other
    submissions, the reports).
    """
    report, log_file = Path(report), Path(log_file)
    report.unlink(missing_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    labs_dir = Path(labs_dir).resolve()
    test_paths = [Path(p).resolve() for p in test_paths]
    isolated = linux.available()
    env = dict(os.environ)
    env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONIOENCODING="utf-8")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the trusted side caches its compiled modules (~0.3 CPU-s a run)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTEST_ADDOPTS", None)
    env.pop(SHARED_SERVERS_ENV, None)
    template = servers_template()
    env[TEMPLATE_ENV] = str(template)
    if shared_servers is not None and not isolated:  # an isolated run cannot reach them: it starts its own
        env[SHARED_SERVERS_ENV] = str(shared_servers)
    if isolated:
        basetemp_root = None
        basetemp = Path("/tmp/grading-run")  # on the run's own tmpfs
    else:
        basetemp_root = Path(tempfile.mkdtemp(prefix="grading-"))
        basetemp = basetemp_root / "t"
    report_r, report_w = os.pipe()
    command = pytest_command(test_paths, labs_dir, report_w, student=student, lab_timeout=lab_timeout,
                             basetemp=basetemp, hide=[*hide, report.parent.resolve(), log_file.parent.resolve(), template])
    if isolated:
        carry = [str(labs_dir), *map(str, test_paths), str(ROOT), str(template)]
        labs = labs_of_tests(test_paths)
        early = ["--servers-for", ",".join(labs)] if labs else []  # they start while pytest imports itself
        command = [sys.executable, "-m", "grader.isolate", *(x for c in carry for x in ("--carry", c)), *early,
                   "--", *command]
    kwargs: dict = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
    else:
        kwargs["start_new_session"] = True  # its own process group: killed as a whole
    started = time.monotonic()
    killed = False
    lines: list[bytes] = []
    with open(log_file, "wb") as log:
        try:
            process = subprocess.Popen(command, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, env=env, pass_fds=(report_w,), **kwargs)
        finally:
            os.close(report_w)
        reader = threading.Thread(target=_read_reports, args=(report_r, lines), daemon=True)
        reader.start()
        try:
            process.wait(wall_timeout)
        except subprocess.TimeoutExpired:
            killed = True
            _kill(process)
        reader.join(10)
    duration = time.monotonic() - started
    if basetemp_root is not None:
        _stop_leftover_servers(basetemp_root)
        shutil.rmtree(basetemp_root, ignore_errors=True)
    document = None
    for line in reversed(lines):  # the last complete report the run sent
        try:
            document = json.loads(line)
            break
        except ValueError:
            continue
    if document is not None:
        write_report(report, document)
    return RunResult(document, process.returncode, killed, duration, log_file)


_template: Path | None = None


def servers_template() -> Path:
    """This process's folder of server certificates and seeded data, shared by the runs it starts.

    The first run whose servers start keeps a copy of their certificates and
    freshly seeded data folders here; later runs copy them instead of making
    a CA and seeding again (~0.15 CPU-s a run). Private to the grading user
    (0700), covered in every student's process, removed when this process
    exits (and, if it was killed, by the next one).
    """
    global _template
    if _template is None or not _template.is_dir():
        prefix = f"grading-template-{os.getpid()}-"
        for old in Path(tempfile.gettempdir()).glob("grading-template-*-*") if os.name == "posix" else ():
            pid = old.name.split("-")[2]
            try:
                if pid.isdigit() and not _alive(int(pid)) and old.stat().st_uid == os.getuid():
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        _template = Path(tempfile.mkdtemp(prefix=prefix))
        atexit.register(shutil.rmtree, _template, True)
    return _template


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def write_report(path: Path, document: dict) -> None:
    from . import report as reports

    reports.write_json(path, document)
    csv_path = path.with_suffix(".csv")
    csv_path.write_text(reports.csv_text([reports.csv_row(document)], list(document.get("labs", {}))),
                        encoding="utf-8")


def _read_reports(fd: int, lines: list[bytes]) -> None:
    """Keep the complete lines the run writes to its report pipe (each one a whole report)."""
    buffer = b""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            chunk = pipe.read(1 << 16)
            if not chunk:
                break
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            if complete:
                lines[:] = [complete[-1]]


def _kill(process: subprocess.Popen) -> None:
    if sys.platform == "win32":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True)
    else:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        pass


def _stop_leftover_servers(basetemp: Path) -> None:
    """A killed run cannot stop the server sets it started: stop them here (isolated runs need not)."""
    from local_servers import control, serve

    for state_file in basetemp.rglob(serve.STATE_FILE):
        try:
            control.stop(state_file.parent)
        except Exception:  # best effort: a leftover server must not fail the grading
            pass
