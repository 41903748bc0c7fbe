"""The trusted side of the sandbox: the student's process, started, asked, timed and killed.

The tests, their points and the report stay in the pytest process; the
student's code runs in worker.py, another process, reached through two
pipes carrying JSON (wire.py). `student.download(...)` in a test is a
request to that process; its answer comes back as data, as a handle to an
object that stays there, or as the student's exception, rebuilt here under
the same class name with the same message (never unpickled).

A call that overruns the test's time limit is not waited for: the whole
student process (and everything it forked) is killed and the test fails
with StudentTimeout; the next test gets a fresh process. The same happens
after any failed test, so no state leaks from one failure into the next
check.

As root on Linux the student's process gets a uid of its own (so it cannot
write the course's files or signal the grader's processes), new mount and
PID namespaces, and limits; see docs/decisions/0006-grading-sandbox.md.
"""

from __future__ import annotations

import builtins
import importlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import linux, wire

WORKER = Path(__file__).with_name("worker.py")

#: Limits of the student's process (setrlimit; per process, CPU per start of the process).
LIMITS = {"as": 2 * 1024**3, "cpu": 120, "nproc": 64, "fsize": 32 * 1024**2, "nofile": 256, "core": 0}
#: What a student's process may print before further output fails (the file size limit applies too).
OUTPUT_LIMIT = LIMITS["fsize"]
FIRST_UID = 1_000_000  # the student's uid is FIRST_UID + the grading process's pid: unique while it runs
UID_ENV = "GRADER_UID"
PID_RANGE = 4_194_304  # Linux's largest pid_max
#: Seconds a call gets once the same function has overrun a test's limit in this run: a hung
#: start_tcp_server() costs each of its eight checks the full limit otherwise. Far above any honest
#: call's time (the solutions' slowest call takes ~1 s), so only a function that hung once can lose by it.
HUNG_BEFORE_LIMIT = 3.0


class StudentTimeout(BaseException):
    """The student's code did not answer within the test's time limit (its process was stopped).

    A BaseException, like pytest's own outcomes, so `except Exception` in a test cannot swallow it.
    """


class StudentCrash(Exception):
    """The student's process ended while running a call (a limit, os._exit, a crash)."""


class LabImportError(Exception):
    """The student's module could not be imported."""


class Sandbox:
    """One student process at a time for one grading run; restarted when it must be."""

    _made = 0

    def __init__(self, modules: dict[str, Path], *, hide: list[Path] = (), writable: list[Path] = (),
                 isolate: bool | None = None, limits: dict | None = None):
        self.isolate = linux.available() if isolate is None else isolate
        # Unique while the run lives: the run passes its outer pid (inside its PID namespace this one is 1);
        # each further sandbox of the same process gets a uid one pid range higher.
        Sandbox._made += 1
        base = int(os.environ.get(UID_ENV) or FIRST_UID + os.getpid())
        self.uid = base + (Sandbox._made - 1) * PID_RANGE if self.isolate else None
        self.area = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
        os.chmod(self.area, 0o711)
        self.home = self.area / "home"
        self.labs = self.area / "labs"
        self.modules = {}
        for lab, path in modules.items():  # the student works on a copy: the submission stays as it was
            self.modules[lab] = self._copy_lab(Path(path))
        self.home.mkdir()
        self._own(self.home)
        self._own(self.labs)
        self.output = self.area / "output.txt"
        self.hide = [str(p) for p in hide if p]
        self.writable = [str(p) for p in writable]
        self.limits = dict(LIMITS, **(limits or {}))
        self.process: subprocess.Popen | None = None
        self.deadline: float | None = None
        self.flags: list[str] = []
        self.import_errors: dict[str, str] = {}
        self.starts = 0
        self.closed = False
        self._answers: queue.Queue | None = None
        self._answered = 0
        self.folders: list[Path] = []  # the running test's tmp_path: handed to the student's uid before each call
        self.overran: set[str] = set()  # the calls ("start_tcp_server()") that did not finish in time

    # ------------------------------------------------------------ set-up

    def _copy_lab(self, path: Path) -> str:
        folder = path.parent
        target = self.labs / folder.name
        if folder.is_dir():
            shutil.copytree(folder, target, symlinks=False, ignore=_ignore_big, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
        return str(target / path.name)

    def _own(self, path: Path) -> None:
        """Give the student's uid a folder (and what is in it) to work in."""
        if self.uid is None:
            return
        for root, dirs, files in os.walk(path):
            os.chown(root, self.uid, self.uid)
            for name in files:
                os.chown(os.path.join(root, name), self.uid, self.uid, follow_symlinks=False)

    def give(self, folder: Path) -> None:
        """Let the student's process write in folder (a test's tmp_path) and what the test put there."""
        if self.uid is not None and Path(folder).exists():
            self._own(Path(folder))

    @property
    def description(self) -> str:
        if self.isolate:
            return "own process, own uid, own mount and PID namespaces, limits"
        if not sys.platform.startswith("linux"):
            missing = "not Linux"
        elif os.geteuid() != 0:
            missing = "not root"
        else:
            missing = "turned off"
        return f"own process and limits only ({missing}: no separate uid, no namespaces)"

    # ------------------------------------------------------------ the process

    def start(self) -> None:
        """The channel is the worker's stdin and stdout (portable: Windows has no pass_fds)."""
        config = {"modules": self.modules, "output": str(self.output),
                  "cwd": str(self.home), "writable": self.writable + [str(self.labs)], "hide": self.hide,
                  "limits": self.limits, "namespaces": self.isolate,
                  "uid": self.uid, "gid": self.uid}
        output = open(self.output, "ab")
        kwargs = {"start_new_session": True} if os.name == "posix" else \
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", str(WORKER), wire.json.dumps(config)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=output, cwd=str(self.home), bufsize=0, **kwargs)
        finally:
            output.close()
        self._requests = self.process.stdin
        self._answers = queue.Queue()
        threading.Thread(target=_read_lines, args=(self.process.stdout, self._answers), daemon=True,
                         name="student-answers").start()
        self.starts += 1
        self._answered = 0

    def stop(self) -> None:
        """Kill the student's process and everything it started (its PID namespace, its uid's processes)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if self._leftovers(process.pid):  # looked at while the worker still runs (an exiting one looks odd)
            self._flag("left process(es) running after its calls")
        try:
            self._requests.close()
        except OSError:
            pass
        _kill_group(process.pid)
        self._sweep()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            process.stdout.close()
        except (OSError, ValueError, RuntimeError):
            pass

    def settled(self) -> bool:
        """Whether the student's process is as a fresh one (no thread, live object, open file or process
        it started), so the next check may keep it after a failure instead of paying for a new one."""
        if self.process is None or self.process.poll() is not None or self._leftovers(self.process.pid):
            return False
        saved, self.deadline = self.deadline, time.monotonic() + 2
        try:
            return self.request({"op": "settled"}, "looking at the student's process") is True
        except (Exception, StudentTimeout):
            return False
        finally:
            self.deadline = saved

    def _leftovers(self, pid: int) -> list[int]:
        """The processes of the student's uid other than its worker (Linux: by /proc)."""
        if self.uid is None:
            return []
        return [p for p in _pids_of(self.uid) if p != pid and not _is_namespace_init(p, self.uid)]

    def _sweep(self) -> None:
        if self.uid is None:
            return
        for _ in range(50):  # each round kills all it sees; fork limits bound the rounds
            pids = _pids_of(self.uid)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.stop()
        try:
            size = self.output.stat().st_size
        except OSError:
            size = 0
        if size >= OUTPUT_LIMIT:
            self._flag(f"printed more than {OUTPUT_LIMIT // 1024**2} MiB (output limit)")
        if os.environ.get("GRADER_ISOLATION") == "ok":  # the run's /tmp is a tmpfs of its own: nearly full = filled
            disk = os.statvfs(self.area)
            if disk.f_bavail < disk.f_blocks * 0.1:
                self._flag("filled its disk space (the run's /tmp)")
        shutil.rmtree(self.area, ignore_errors=True)

    def _flag(self, text: str) -> None:
        if text not in self.flags and len(self.flags) < 20:
            self.flags.append(text)

    # ------------------------------------------------------------ requests

    def request(self, message: dict, what: str, _retry: bool = True):
        for folder in self.folders:
            self.give(folder)
        if self.process is None or self.process.poll() is not None:
            if self.process is not None:
                self.stop()
            self.start()
        self._sequence = getattr(self, "_sequence", 0) + 1
        message["id"] = self._sequence
        fresh = self._answered == 0
        try:
            self._requests.write(wire.dumps(message))
            self._requests.flush()
            answer = self._read(what, self._limit(what))
            if answer.get("id") != self._sequence or not ({"ok", "raised", "import_error"} & set(answer)):
                self._flag("wrote into the grader's channel")
                raise StudentCrash(f"{what}: the student's process answered out of turn")
        except (StudentCrash, BrokenPipeError) as exc:
            self.stop()
            if fresh and _retry and "out of turn" not in str(exc):
                # A process that never answered may have failed to start (a loaded machine): once more.
                return self.request(message, what, _retry=False)
            if isinstance(exc, BrokenPipeError):
                raise StudentCrash(f"{what} ended the student's process") from None
            raise
        except BaseException:
            self.stop()  # a half-answered request (timeout, interrupt): this process cannot be trusted to go on
            raise
        self._answered += 1
        for flag in answer.get("flags") or []:
            if isinstance(flag, str):
                self._flag(flag[:300])
        if "import_error" in answer:
            raise LabImportError(str(answer["import_error"]))
        if "raised" in answer:
            raise self.rebuild(answer["raised"])
        return self.decode(answer.get("ok"))

    def _limit(self, what: str) -> float | None:
        """When this call must be answered: the test's deadline, sooner for a call that hung before."""
        if what not in self.overran:
            return self.deadline
        sooner = time.monotonic() + HUNG_BEFORE_LIMIT
        return sooner if self.deadline is None else min(self.deadline, sooner)

    def _read(self, what: str, deadline: float | None = None) -> dict:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            line = self._answers.get(timeout=wait)
        except queue.Empty:
            again = " (nor in an earlier check: a shorter limit this time)" if what in self.overran else ""
            self.overran.add(what)
            raise StudentTimeout(f"{what} did not finish in time{again}: stopped (the next check gets a fresh "
                                 "process)") from None
        if line is None:
            raise StudentCrash(f"{what} ended the student's process ({self._death()})")
        if line is _TOO_LONG:
            raise StudentCrash(f"{what}: the answer is too large to check")
        try:
            return wire.loads(line)
        except (ValueError, wire.WireError) as exc:
            raise StudentCrash(f"{what}: the student's process sent something that is not an answer ({exc})") from None

    def _death(self) -> str:
        try:
            code = self.process.wait(2)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        if code < 0:
            name = signal.Signals(-code).name
            if -code == getattr(signal, "SIGXCPU", None):
                self._flag("hit the CPU time limit")
                return f"{name}: the CPU time limit"
            return f"killed by {name}"
        return f"it exited with code {code}"

    # ------------------------------------------------------------ values

    def decode(self, data):
        return wire.decode(data, lambda d: RemoteObject(self, d["$h"], d.get("t", "object"), d.get("f", False)),
                           self.rebuild)

    def reach(self, obj: "RemoteObject") -> "Sandbox":
        """The sandbox, if obj still lives in its process; a restarted process never had it."""
        if self.process is None or object.__getattribute__(obj, "_generation") != self.starts:
            raise StudentCrash(f"the student's {object.__getattribute__(obj, '_type')} is gone: its process was "
                               "stopped after an earlier failure")
        return self

    def encode(self, value):
        def handle(obj):
            if isinstance(obj, RemoteObject):
                self.reach(obj)
                return {"$h": object.__getattribute__(obj, "_id")}
            raise TypeError(f"a {type(obj).__name__} cannot be passed to the student's code")
        return wire.encode(value, handle)

    def rebuild(self, data: dict):
        """An exception (or exception class) of the student's process, as a local one of the same name."""
        if "$c" in data:
            return exception_class(data["$c"])
        info = data["$x"]
        cls = exception_class(info.get("mro") or [["builtins", "Exception"]])
        exc = cls.__new__(cls)
        try:
            args = wire.decode(info.get("args", []), _no_handle)
        except (wire.WireError, KeyError, TypeError):
            args = []
        exc.args = tuple(args) if isinstance(args, list) else ()
        for name, value in (info.get("attrs") or {}).items():
            try:
                setattr(exc, name, wire.decode(value, _no_handle))
            except Exception:
                pass
        message = str(info.get("message", ""))[:wire.MAX_TEXT]
        where = str(info.get("where") or "")
        if issubclass(cls, MemoryError):
            self._flag("hit the memory limit")
        try:
            exc._grader_text = message + (f" ({where})" if where else "")
        except AttributeError:
            pass
        return exc


_TOO_LONG = object()


def _read_lines(stream, lines: queue.Queue) -> None:
    """The student's answers, line by line, into a queue (None at the end); never more than MAX_LINE at once."""
    try:
        while True:
            line = stream.readline(wire.MAX_LINE + 1)
            if not line:
                break
            if not line.endswith(b"\n"):
                lines.put(_TOO_LONG)
                break
            lines.put(line)
    except (OSError, ValueError):
        pass
    lines.put(None)


def _no_handle(data):
    raise TypeError("not data")


# ---------------------------------------------------------------- exception classes

_classes: dict[tuple, type] = {}


def exception_class(mro: list) -> type:
    """The local class standing for an exception class of the student's process.

    A built-in or standard-library exception keeps its real class (a subclass
    of it, so `pytest.raises(ftplib.error_perm)` and `except OSError` work);
    a class of the student's module becomes a class of the same name whose
    bases follow the same chain. The same names give the same class object,
    so `pytest.raises(student.DownloadError)` catches what download() raised.
    """
    chain = [tuple(x) for x in mro if isinstance(x, (list, tuple)) and len(x) == 2][:30]
    if not chain:
        chain = [("builtins", "Exception")]
    key = tuple(chain)
    if key in _classes:
        return _classes[key]
    module, qualname = (str(chain[0][0]), str(chain[0][1]))
    real = _known_class(module, qualname)
    if real is not None:
        if module == "builtins":
            cls = type(qualname, (real,), {"__str__": _text, "__module__": "builtins", "__qualname__": qualname})
        else:
            cls = type(qualname, (real,), {"__str__": _text, "__module__": module, "__qualname__": qualname})
    else:
        base = exception_class(chain[1:]) if len(chain) > 1 else Exception
        cls = type(qualname.rsplit(".", 1)[-1], (base,),
                   {"__str__": _text, "__module__": "builtins", "__qualname__": qualname})
    _classes[key] = cls
    return cls


def _text(self) -> str:
    text = getattr(self, "_grader_text", None)
    return text if text is not None else BaseException.__str__(self)


def _known_class(module: str, qualname: str):
    """A built-in or standard-library exception class by name, or None (never the student's code)."""
    top = module.split(".")[0]
    if module == "builtins":
        cls = getattr(builtins, qualname, None)
    elif top in getattr(sys, "stdlib_module_names", ()) or top in ("nntplib",):
        try:
            cls = importlib.import_module(module)
            for part in qualname.split("."):
                cls = getattr(cls, part)
        except Exception:
            return None
    else:
        return None
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else None


# ---------------------------------------------------------------- what the tests hold

class RemoteObject:
    """An object that stays in the student's process (a server, a function): used through the channel."""

    def __init__(self, sandbox: Sandbox, ident: int, type_name: str, is_callable: bool):
        object.__setattr__(self, "_sandbox", sandbox)
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_generation", sandbox.starts)  # which start of the process holds it

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        sandbox = object.__getattribute__(self, "_sandbox").reach(self)
        return sandbox.request({"op": "getattr", "target": object.__getattribute__(self, "_id"), "name": name},
                               f"{object.__getattribute__(self, '_type')}.{name}")

    def __setattr__(self, name: str, value) -> None:
        sandbox = object.__getattribute__(self, "_sandbox").reach(self)
        sandbox.request({"op": "setattr", "target": object.__getattribute__(self, "_id"), "name": name,
                         "value": sandbox.encode(value)}, f"setting {name}")

    def __call__(self, *args, **kwargs):
        sandbox = object.__getattribute__(self, "_sandbox").reach(self)
        return sandbox.request({"op": "call", "target": object.__getattribute__(self, "_id"),
                                "args": sandbox.encode(list(args)), "kwargs": sandbox.encode(kwargs)},
                               f"{object.__getattribute__(self, '_type')}()")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.close()
        except AttributeError:
            pass
        return False

    def __repr__(self) -> str:
        return f"<the student's {object.__getattribute__(self, '_type')}>"


class RemoteModule:
    """A lab's module in the student's process; `student.download(...)` in a test calls it there."""

    def __init__(self, sandbox: Sandbox, lab: str, filename: str):
        object.__setattr__(self, "_sandbox", sandbox)
        object.__setattr__(self, "_lab", lab)
        object.__setattr__(self, "_filename", filename)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        sandbox = object.__getattribute__(self, "_sandbox")
        lab = object.__getattribute__(self, "_lab")
        if lab in sandbox.import_errors:
            raise LabImportError(sandbox.import_errors[lab])
        try:
            value = sandbox.request({"op": "getattr", "lab": lab, "name": name}, f"importing {self._filename}")
        except LabImportError as exc:
            sandbox.import_errors[lab] = str(exc)
            raise
        except StudentTimeout:
            sandbox.import_errors.setdefault(lab, f"{self._filename} did not finish importing in time")
            raise
        if isinstance(value, RemoteObject):
            object.__setattr__(value, "_type", f"{name}")
        return value

    def __repr__(self) -> str:
        return f"<the student's {object.__getattribute__(self, '_filename')}>"


# ---------------------------------------------------------------- processes

def _kill_group(pid: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(pid, signal.SIGKILL)
        else:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(pid)], capture_output=True)
    except OSError:
        pass


def _pids_of(uid: int) -> list[int]:
    pids = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return pids
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status", "rb") as status:
                    for line in status:
                        if line.startswith(b"State:") and line.split()[1] in (b"Z", b"X"):
                            break  # dead already, waiting to be reaped
                        if line.startswith(b"Uid:"):
                            if int(line.split()[1]) == uid:
                                pids.append(int(entry))
                            break
            except (OSError, ValueError):
                pass
    return pids


def _is_namespace_init(pid: int, uid: int) -> bool:
    """The worker itself, seen from outside its PID namespace (NSpid: <outer> 1); unknown counts as it."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"NSpid:"):
                    return line.split()[-1] == b"1"
    except OSError:
        pass
    return True  # gone or unreadable: never flag a student on a guess


def _ignore_big(folder, names):
    skip = []
    for name in names:
        path = os.path.join(folder, name)
        if name in ("__pycache__", ".git", ".ipynb_checkpoints") or os.path.islink(path):
            skip.append(name)
        elif os.path.isfile(path) and os.path.getsize(path) > 5 * 1024**2:
            skip.append(name)
    return skip
