"""The grading plugin for pytest: points, hints, per-test timeouts, the report.

A graded test is an ordinary pytest test with a points marker::

    pytestmark = pytest.mark.lab("ftp")          # or: name the file test_ftp*.py

    @pytest.mark.points(3, hint="Remove the partial file when the transfer fails.")
    def test_partial_file_removed(student, lab_servers, tmp_path):
        '''A failed download leaves no partial file behind.'''
        ...

`student` is the lab's module from the labs folder under test (--labs-dir,
default labs/), loaded from its file when the test body first touches it,
so a module that does not import, or hangs while importing, fails the
tests (it is the student's error), never the grader's set-up.

Servers: `lab_servers` (for tests that only read the seeded data) and
`lab_writable` (for tests that change data: they use unique names, so
they never depend on one another) are the same set, this run's own,
started before pytest collects (servers.py). They are isolated from the
student's own servers and from every other run's.

The student's code never runs in this process: `student` is a proxy to
the student's process (sandbox.py), so nothing it does can patch pytest,
this plugin or the report. Each graded test gets a time limit
(--lab-timeout) for the student's calls: a call that overruns is stopped
by killing the student's process, which the next test gets fresh (also
after a failure that left a thread, an open file or a live object), so one hung function never costs another test its
result. The report (JSON, see report.py; through a pipe with
--grade-report-fd, else a file and a CSV beside it) is rewritten after every test, so a
run that is killed still leaves what it graded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from . import linux, servers
from . import report as reports
from .labs import LABS, UNITS, lab_of_file
from .sandbox import LabImportError, RemoteModule, Sandbox, StudentCrash, StudentTimeout  # noqa: F401

from .servers import SERVER_OPTIONS, SHARED_SERVERS_ENV, service_names  # noqa: F401 (where they were)
DEFAULT_TIMEOUT = 10.0
_TIMEOUT_TEXT = "from pytest-timeout"
BACKSTOP = 10  # pytest-timeout, for the test's own code, fires this long after the student's limit

_graded_key = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("grading", "grading the course's labs")
    group.addoption("--labs-dir", default=None, metavar="PATH",
                    help="the labs folder to grade: labs/ (default), solutions/ or a student's folder")
    group.addoption("--grade-report", default=None, metavar="PATH",
                    help="where to write the JSON report (the CSV goes beside it); default reports/grade-<student>.json")
    group.addoption("--student", default=None, help="the name in the report (default: the labs folder's name)")
    group.addoption("--lab-timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                    help=f"time limit of each graded test (default {DEFAULT_TIMEOUT:g})")
    group.addoption("--timeout-budget", type=int, default=None, metavar="N",
                    help="no longer used: a hung call is stopped alone and never costs another test")
    group.addoption("--grade-report-fd", type=int, default=None, metavar="FD",
                    help="write the JSON report as lines to this inherited file descriptor (the batch grader)")
    group.addoption("--sandbox-hide", action="append", default=[], metavar="PATH",
                    help="a folder the student's process must not see (repeatable)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if _grading(config) and not config.option.basetemp and linux.available() \
            and not os.environ.get("PYTEST_XDIST_WORKER"):
        # pytest's shared /tmp/pytest-of-<user> is closed (0700) again by every other pytest that
        # starts: a private base folder keeps the tmp_path folders reachable by the student's uid.
        config.option.basetemp = tempfile.mkdtemp(prefix="grading-tmp-")
        config._grading_basetemp = config.option.basetemp
    config.addinivalue_line("markers", "points(n, hint=None): a graded test worth n points; hint helps students")
    config.addinivalue_line("markers", "lab(name): the lab a graded test belongs to (sockets, ftp, ...)")
    config.pluginmanager.register(Grader(config), "local_servers_grader")


# ---------------------------------------------------------------- the student's code, in its own process

@pytest.fixture(scope="session")
def _sandbox(request, labs_dir, tmp_path_factory):
    """The student's process for this run (started while pytest collects, restarted after a failure that
    left state)."""
    grader = request.config.pluginmanager.get_plugin("local_servers_grader")
    box = grader.sandbox or _make_sandbox(request.config, tmp_path_factory, grader.labs())
    grader.sandbox = box
    box.deadline = grader.deadline  # made during a test's set-up: that phase's limit holds already
    yield box
    box.close()


def _make_sandbox(config, tmp_path_factory, labs: list[str]) -> Sandbox:
    labs_dir = _labs_dir(config)
    basetemp = tmp_path_factory.getbasetemp()
    for folder in (basetemp, *basetemp.parents):  # the student's uid may reach the tmp_path folders it is given
        info = folder.stat()
        if folder == Path(folder.anchor) or info.st_uid != os.geteuid() or info.st_mode & 0o001:
            break
        os.chmod(folder, info.st_mode | 0o111)
    hide = [Path(p) for p in config.getoption("--sandbox-hide") or []]
    hide = list(dict.fromkeys(hide + _private_paths(config, labs_dir)))
    return Sandbox({lab: UNITS[lab].path(labs_dir) for lab in labs or LABS if lab in UNITS},
                   hide=hide, writable=[basetemp])


def _private_paths(config, labs_dir: Path) -> list[Path]:
    """What the student's process must not read: solutions, tests (hidden ones too), the repository's history."""
    root = Path(config.rootpath)
    paths = [root / "solutions", root / "tests", root / ".git", root / "reports", Path(labs_dir)]
    git = root / ".git"
    if git.is_file():  # a worktree: .git names the real folder
        text = git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text.split(":", 1)[1].strip())
            paths += [gitdir, gitdir.parent.parent] if gitdir.parent.name == "worktrees" else [gitdir]
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path.exists():
            paths.append(path if path.is_dir() else path.parent)
    report = config.getoption("--grade-report")
    if report:
        paths.append(Path(report).resolve().parent)
    return list(dict.fromkeys(p for p in paths if p.exists()))


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def labs_dir(request) -> Path:
    """The labs folder under test."""
    return _labs_dir(request.config)


@pytest.fixture
def student(request, labs_dir, _sandbox) -> RemoteModule:
    """The module of this test's lab, from the labs folder under test, running in the student's process."""
    lab = _item_lab(request.node)
    if lab not in UNITS:
        raise pytest.UsageError(f"{request.node.nodeid}: no lab marker and no lab in the file name")
    if "tmp_path" in request.fixturenames:
        _sandbox.folders = [request.getfixturevalue("tmp_path")]
    return RemoteModule(_sandbox, lab, UNITS[lab].module)


@pytest.fixture(scope="session")
def _run_servers(request):
    """This run's one set of servers, started before pytest collects (see Grader.start_servers)."""
    grader = request.config.pluginmanager.get_plugin("local_servers_grader")
    handle = grader.servers()
    if handle is None:
        raise RuntimeError("the grading servers could not start: " + grader.servers_error)
    return handle


@pytest.fixture(scope="session")
def lab_servers(_run_servers):
    """Servers with seeded data for the labs of this run: tests only read from them."""
    from local_servers import control

    shared = os.environ.get(SHARED_SERVERS_ENV)
    if shared:
        handle = control.find(Path(shared))
        if handle is not None:
            return handle
    return _run_servers


@pytest.fixture(scope="session")
def lab_writable(_run_servers):
    """This run's own servers, for tests that change data (use unique names in them)."""
    return _run_servers


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _labs_of_args(config) -> list[str] | None:
    """The labs of the test files named on the command line (by their names), or None if one is unknown."""
    return servers.labs_of_tests([Path(arg.split("::")[0]).resolve() for arg in config.args])


def pytest_unconfigure(config):
    own = getattr(config, "_grading_basetemp", None)
    if own:
        shutil.rmtree(own, ignore_errors=True)


def _grading(config) -> bool:
    """Is this run grading labs (tests/labs named, or --labs-dir given)?"""
    if config.getoption("--labs-dir", None):
        return True
    labs = Path(config.rootpath, "tests", "labs")
    return any(labs == p or labs in p.parents for p in (Path(a.split("::")[0]).resolve() for a in config.args))


def _labs_dir(config) -> Path:
    option = config.getoption("--labs-dir")
    return Path(option).resolve() if option else Path(config.rootpath, "labs")


def _item_lab(item) -> str | None:
    marker = item.get_closest_marker("lab")
    if marker is not None and marker.args:
        return marker.args[0]
    return lab_of_file(item.path)


# ---------------------------------------------------------------- the grader

class Grader:
    """Collects each graded test's outcome and keeps the report up to date."""

    def __init__(self, config):
        self.config = config
        self.tests: dict[str, dict] = {}
        self.sandbox: Sandbox | None = None
        self.servers_error = ""
        self.deadline: float | None = None
        self.started = time.monotonic()
        self.exitstatus = 0
        labs_dir = _labs_dir(config)
        self.student = config.getoption("--student") or labs_dir.name
        self.labs_dir = labs_dir
        option = config.getoption("--grade-report")
        self.path = Path(option) if option else Path(config.rootpath, "reports", f"grade-{self.student}.json")

    def labs(self) -> list[str]:
        return list(dict.fromkeys(test["lab"] for test in self.tests.values()))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session):
        if self.config.option.collectonly:
            return
        timeout = self.config.getoption("--lab-timeout")
        for item in session.items:
            marker = item.get_closest_marker("points")
            if marker is None:
                continue
            lab = _item_lab(item)
            if lab is None:
                raise pytest.UsageError(f"{item.nodeid}: a graded test needs a lab marker or a test_<lab>.py name")
            hint = marker.kwargs.get("hint") or _docstring(item)
            self.tests[item.nodeid] = {
                "lab": lab, "nodeid": item.nodeid, "name": item.name,
                "points": marker.args[0] if marker.args else 1, "earned": 0,
                "outcome": "not run", "reason": "", "message": "", "hint": hint, "duration": 0.0}
            item.stash[_graded_key] = self.tests[item.nodeid]
            if item.get_closest_marker("timeout") is None and timeout > 0:
                method = "signal" if hasattr(__import__("signal"), "SIGALRM") else "thread"
                # The student's calls are held to `timeout` by the sandbox; this only stops a test's own code.
                item.add_marker(pytest.mark.timeout(timeout + BACKSTOP, method=method, func_only=True))
        if self.tests:
            self.write(complete=False)
            needed = service_names(self.labs())
            started = getattr(self, "_servers_names", None)
            if started is not None and not set(needed) <= set(started):  # a marker named another lab
                self.stop_servers()
                needed = list(dict.fromkeys([*started, *needed]))
            if getattr(self, "_servers_thread", None) is None:
                self.start_servers(needed)
            self.start_sandbox(session)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session):
        """Start the servers the test files' names call for before pytest collects them (~0.1-0.2 s sooner)."""
        if self.config.option.collectonly or not _grading(self.config):
            return
        labs = _labs_of_args(self.config)
        if labs:
            self.start_servers(service_names(labs))

    def start_sandbox(self, session) -> None:
        """Start the student's process now, while the servers start, rather than in the first check's time."""
        if self.sandbox is not None or not any(lab in UNITS for lab in self.labs()):
            return
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is None:  # pytest's tmpdir plugin is off: the fixture makes it on first use
            return
        self.sandbox = _make_sandbox(self.config, factory, self.labs())
        self.sandbox.start()

    def start_servers(self, names: list[str] | None = None) -> None:
        """Start this run's servers in the background while the tests are collected and the first set up
        (or take the set grader.isolate started before pytest even imported itself)."""
        names = names or service_names(self.labs())
        self._servers_names = names

        def start():
            try:
                early = servers.take_early(names)
                if early is not None:
                    self._servers_dir, self._servers_handle = early
                    return
                own = os.environ.get("GRADER_SERVERS_DIR")
                root = Path(own) if own and os.path.isdir(own) else None
                self._servers_dir = Path(tempfile.mkdtemp(prefix="grading-servers-", dir=root))
                self._servers_handle = servers.start(self._servers_dir, names)
            except Exception as exc:  # reported by the fixture, as a grader error
                self.servers_error = f"{type(exc).__name__}: {exc}"

        self._servers_thread = threading.Thread(target=start, name="grading-servers", daemon=True)
        self._servers_thread.start()

    def servers(self):
        thread = getattr(self, "_servers_thread", None)
        if thread is None:
            self.start_servers()
            thread = self._servers_thread
        thread.join()
        return getattr(self, "_servers_handle", None)

    def stop_servers(self, final: bool = False) -> None:
        from local_servers import control

        thread = getattr(self, "_servers_thread", None)
        if thread is not None:
            thread.join()
            self._servers_thread = None
            if final and os.getpid() == 1 and os.environ.get("GRADER_ISOLATION") == "ok":
                return  # the run's PID namespace ends with this process: the kernel kills the servers, their
                # tmpfs goes with the mount namespace (a polite stop cost ~0.05 CPU-s and up to 0.3 s)
            servers_dir = getattr(self, "_servers_dir", None)
            if servers_dir is not None:
                control.stop(servers_dir)
                shutil.rmtree(servers_dir, ignore_errors=True)

    def _limited(self, item, phase: str):
        """Each phase of a graded test (set-up, the test, tear-down) holds the student's calls to the time limit.

        The student's process is kept from one passed test to the next (starting one costs ~0.05 CPU-s);
        after a failed one it is replaced (see pytest_runtest_logreport).
        """
        test = item.stash.get(_graded_key, None)
        if test is None:
            yield
            return
        timeout = self.config.getoption("--lab-timeout")
        self.deadline = time.monotonic() + timeout if timeout > 0 else None
        if self.sandbox is not None:
            self.sandbox.deadline = self.deadline
        try:
            yield
        finally:
            self.deadline = None
            if self.sandbox is not None:
                self.sandbox.deadline = None
                if phase == "teardown":
                    self.sandbox.folders = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        yield from self._limited(item, "setup")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        yield from self._limited(item, "call")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item):
        yield from self._limited(item, "teardown")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        """Why a graded test failed, from its exception's class (never from text the student wrote)."""
        yield
        test = item.stash.get(_graded_key, None)
        if test is None or call.when != "call" or call.excinfo is None:
            return
        kind = call.excinfo.type
        if issubclass(kind, StudentTimeout) or _TIMEOUT_TEXT in str(call.excinfo.value)[:200]:
            test["reason"] = "timeout"
        elif issubclass(kind, LabImportError):
            test["reason"] = "import"
        elif issubclass(kind, StudentCrash):
            test["reason"] = "crash"
        elif kind.__name__ == "NotImplementedError":
            test["reason"] = "todo"

    def pytest_runtest_logreport(self, report):
        test = self.tests.get(report.nodeid)
        if test is None:
            return
        test["duration"] = round(test["duration"] + report.duration, 3)
        if report.when == "call":
            if report.passed:
                test["outcome"], test["earned"] = "passed", test["points"]
            elif report.skipped:
                test["outcome"] = "skipped"
            else:
                test["outcome"], test["earned"] = "failed", 0
                test["message"] = _message(report)
                if self.sandbox is not None and not self.sandbox.settled():
                    self.sandbox.stop()  # what the failure left behind (sessions, threads) never reaches the next check
        elif report.failed:  # set-up or tear-down broke: the grader's fault, not the student's
            test["outcome"], test["earned"] = "error", 0
            test["message"] = f"grader error in {report.when}: {_message(report)}"
        elif report.when == "setup" and report.skipped:
            test["outcome"], test["message"] = "skipped", _message(report)

    def pytest_runtest_logfinish(self, nodeid, location):
        if nodeid in self.tests:
            self.write(complete=False)

    def pytest_sessionfinish(self, session, exitstatus):
        if self.sandbox is not None:  # started while collecting: closed here if no test used it
            self.sandbox.close()
        self.stop_servers(final=True)
        self.exitstatus = int(exitstatus)
        if self.tests:
            self.write(complete=True)

    def pytest_terminal_summary(self, terminalreporter):
        if not self.tests:
            return
        terminalreporter.section(f"grades: {self.student}")
        for line in reports.table(self.document(complete=True)).splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"report: {self.path} (and {self.path.with_suffix('.csv').name})")

    def document(self, complete: bool) -> dict:
        tests = list(self.tests.values())
        labs = reports.summarize(tests)
        return {"schema": reports.SCHEMA, "student": self.student, "labs_dir": str(self.labs_dir),
                "complete": complete, "duration": round(time.monotonic() - self.started, 2),
                "score": sum(lab["score"] for lab in labs.values()),
                "max_score": sum(lab["max"] for lab in labs.values()), "labs": labs, "tests": tests,
                "flags": list(self.sandbox.flags) if self.sandbox else [],
                "sandbox": self.sandbox.description if self.sandbox else "",
                "isolation": os.environ.get("GRADER_ISOLATION", "")}

    def write(self, complete: bool) -> None:
        document = self.document(complete)
        fd = self.config.getoption("--grade-report-fd")
        if fd is not None:  # the batch grader reads it from a pipe: no file a student could touch
            data = (json.dumps(document, ensure_ascii=True) + "\n").encode("ascii")
            while data:
                data = data[os.write(fd, data):]
            return
        reports.write_json(self.path, document)
        if complete:
            csv_path = self.path.with_suffix(".csv")
            tmp = csv_path.with_name(f".{csv_path.name}.tmp")
            tmp.write_text(reports.csv_text([reports.csv_row(document)], list(document["labs"])), encoding="utf-8")
            os.replace(tmp, csv_path)


def _docstring(item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    text = text.strip()
    for prefix in ("grader.sandbox.LabImportError: ", "grader.sandbox.StudentTimeout: ",
                   "grader.sandbox.StudentCrash: ", "LabImportError: ", "Failed: "):
        text = text[len(prefix):] if text.startswith(prefix) else text
    if "\nassert " in text:  # keep the student's message, drop pytest's expression dump
        text = text.split("\nassert ")[0]
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)  # memory addresses say nothing to a student
    return text[:400]
