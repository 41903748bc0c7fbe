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

Servers: `lab_servers` is one set with seeded data that tests only read
(shared by the whole batch when the batch grader provides one);
`lab_writable` is a set of this run's own for tests that change data (they
use unique names, so they never depend on one another). Both are isolated
from the student's own servers.

Each graded test gets a timeout (--lab-timeout, signal method on POSIX:
the test fails, the run goes on). After --timeout-budget timeouts in one
lab, its remaining tests fail at once instead of hanging one by one. The
report (JSON and CSV, see report.py) is rewritten after every test, so a
run that is killed still leaves what it graded.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from . import report as reports
from .labs import LABS, lab_of_file

#: The batch grader puts the state directory of a shared, read-only server set here.
SHARED_SERVERS_ENV = "LOCAL_SERVERS_GRADING_SERVERS"
DEFAULT_TIMEOUT = 10.0
DEFAULT_BUDGET = 2
_TIMEOUT_TEXT = "from pytest-timeout"

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
    group.addoption("--timeout-budget", type=int, default=DEFAULT_BUDGET, metavar="N",
                    help=f"after N timeouts in one lab its other tests fail at once (default {DEFAULT_BUDGET})")


def pytest_configure(config):
    config.addinivalue_line("markers", "points(n, hint=None): a graded test worth n points; hint helps students")
    config.addinivalue_line("markers", "lab(name): the lab a graded test belongs to (sockets, ftp, ...)")
    config.pluginmanager.register(Grader(config), "local_servers_grader")


class LabImportError(Exception):
    """The student's module could not be imported."""


# ---------------------------------------------------------------- loading the student's code

_modules: dict[Path, object] = {}


def load_module(path: Path, lab: str):
    """Import the lab module at path once per run; a failure is remembered and raised again."""
    path = Path(path).resolve()
    cached = _modules.get(path)
    if isinstance(cached, BaseException):
        raise LabImportError(str(cached))
    if cached is not None:
        return cached
    if not path.exists():
        error = LabImportError(f"{path.parent.name}/{path.name} is missing")
        _modules[path] = error
        raise error
    name = f"graded_{lab}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # the student's helper modules beside it import too
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        what = "did not finish importing in time" if _TIMEOUT_TEXT in str(exc) else \
            f"could not be imported: {type(exc).__name__}: {exc}"
        _modules[path] = LabImportError(f"{path.name} {what}")
        if isinstance(exc, Exception):
            raise LabImportError(f"{path.name} {what}") from exc
        raise  # the timeout itself, so the test is reported as timed out
    finally:
        try:
            sys.path.remove(str(path.parent))
        except ValueError:
            pass
    _modules[path] = module
    return module


class LabModule:
    """The student's module, imported on first use inside the test body."""

    def __init__(self, lab: str, path: Path):
        object.__setattr__(self, "_lab", lab)
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name: str):
        module = load_module(self._path, self._lab)
        try:
            return getattr(module, name)
        except AttributeError:
            raise AttributeError(f"{self._path.name} has no {name!r}: keep the names the starter defines") from None

    def __repr__(self):
        return f"<lab module {self._lab}: {self._path}>"


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def labs_dir(request) -> Path:
    """The labs folder under test."""
    return _labs_dir(request.config)


@pytest.fixture
def student(request, labs_dir) -> LabModule:
    """The module of this test's lab, from the labs folder under test."""
    lab = _item_lab(request.node)
    if lab not in LABS:
        raise pytest.UsageError(f"{request.node.nodeid}: no lab marker and no lab in the file name")
    return LabModule(lab, LABS[lab].path(labs_dir))


@pytest.fixture(scope="session")
def _grading_servers(tmp_path_factory):
    from local_servers.pytest_plugin import ServersFactory

    factory = ServersFactory(tmp_path_factory)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def lab_servers(request, _grading_servers):
    """Servers with seeded data for the labs of this run: tests only read from them."""
    from local_servers import control

    shared = os.environ.get(SHARED_SERVERS_ENV)
    if shared:
        handle = control.find(Path(shared))
        if handle is not None:
            return handle
    return _grading_servers(names=_service_names(request.config, "read_only"))


@pytest.fixture(scope="session")
def lab_writable(request, _grading_servers):
    """This run's own servers, for tests that change data (use unique names in them)."""
    return _grading_servers(names=_service_names(request.config, "writable"))


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _service_names(config, kind: str) -> list[str]:
    from local_servers.serve import SERVICES

    grader = config.pluginmanager.get_plugin("local_servers_grader")
    labs = grader.labs() or list(LABS)
    names = []
    for lab in labs:
        for name in getattr(LABS[lab], kind):
            if name not in names and name in SERVICES:
                names.append(name)
    return names or ["echo"]


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
        self.timeouts: dict[str, int] = {}
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
                item.add_marker(pytest.mark.timeout(timeout, method=method, func_only=True))
        if self.tests:
            self.write(complete=False)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        test = item.stash.get(_graded_key, None)
        budget = self.config.getoption("--timeout-budget")
        if test is not None and budget and self.timeouts.get(test["lab"], 0) >= budget:
            test["reason"] = "budget"
            pytest.fail(f"not run: the {test['lab']} lab already timed out {budget} times")

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
                test["reason"] = test["reason"] or _reason(report)
                if test["reason"] == "timeout":
                    self.timeouts[test["lab"]] = self.timeouts.get(test["lab"], 0) + 1
        elif report.failed:  # set-up or tear-down broke: the grader's fault, not the student's
            test["outcome"], test["earned"] = "error", 0
            test["message"] = f"grader error in {report.when}: {_message(report)}"
        elif report.when == "setup" and report.skipped:
            test["outcome"], test["message"] = "skipped", _message(report)

    def pytest_runtest_logfinish(self, nodeid, location):
        if nodeid in self.tests:
            self.write(complete=False)

    def pytest_sessionfinish(self, session, exitstatus):
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

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config):
        # A student's thread that never ends would keep this process alive
        # forever at exit: the report is written, so leave without waiting.
        if self.tests and any(t.is_alive() and not t.daemon for t in threading.enumerate()
                              if t is not threading.main_thread()):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(self.exitstatus)

    def document(self, complete: bool) -> dict:
        tests = list(self.tests.values())
        labs = reports.summarize(tests)
        return {"schema": reports.SCHEMA, "student": self.student, "labs_dir": str(self.labs_dir),
                "complete": complete, "duration": round(time.monotonic() - self.started, 2),
                "score": sum(lab["score"] for lab in labs.values()),
                "max_score": sum(lab["max"] for lab in labs.values()), "labs": labs, "tests": tests}

    def write(self, complete: bool) -> None:
        document = self.document(complete)
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
    for prefix in (f"{__name__}.LabImportError: ", "LabImportError: "):
        text = text[len(prefix):] if text.startswith(prefix) else text
    if "\nassert " in text:  # keep the student's message, drop pytest's expression dump
        text = text.split("\nassert ")[0]
    return text[:400]


def _reason(report) -> str:
    text = str(report.longrepr)
    if _TIMEOUT_TEXT in text:
        return "timeout"
    if "LabImportError" in text:
        return "import"
    if "NotImplementedError" in text:
        return "todo"
    return ""
