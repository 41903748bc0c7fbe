"""The student's process: loads the lab modules and runs their functions on request.

Started by sandbox.py (the trusted side), never by hand. It is the only
process where a student's code runs. Before loading that code it shuts
itself in (Linux, as root): new mount and PID namespaces (the folders of
the hidden tests, solutions, other submissions and reports are covered by
empty mounts; the grader's processes are out of sight), limits
(setrlimit), a private working directory, then an unprivileged uid of its
own, so it cannot write the course's files nor signal the grader.

It answers one JSON line per request (wire.py) on two pipes it inherits:
getattr / call / setattr on the lab modules and on handles, plus a few
probes the tests use (threads, serve_handler, spy). An audit hook notes
attempts to tamper (writes outside its folders, reading hidden paths,
importing pytest or the grader); they come back as "flags" with each
answer. The hook is a witness, not the wall: the wall is the uid, the
mounts and the namespaces.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import threading
import traceback
import types

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import wire  # noqa: E402  (a sibling, imported by path: this file runs as a script)

try:
    import resource

    import linux  # noqa: E402
except ImportError:  # Windows: no setrlimit, no namespaces
    resource = linux = None

sys.path.remove(_HERE)

SUSPECT_IMPORTS = ("pytest", "_pytest", "pluggy", "grader", "local_servers", "xdist", "pytest_timeout")
MAX_FLAGS = 20


class Worker:
    def __init__(self, config: dict):
        self.config = config
        self.modules: dict[str, object] = {}
        self.import_errors: dict[str, str] = {}
        self.handles: dict[int, object] = {}
        self.flags: list[str] = []
        self.new_flags: list[str] = []
        allowed = [config["cwd"], *config.get("writable", []), "/dev/null", "/tmp", "/dev/shm", "/var/tmp",
                   "/proc/self"]
        self.allowed = tuple(os.path.normpath(p) for p in allowed)
        self.fresh_fds = _open_fds()  # what a fresh process holds: "settled" compares with it
        self.watched = tuple(os.path.normpath(p) for p in config.get("hide", []))

    # ------------------------------------------------------------ flags

    def flag(self, text: str) -> None:
        if text not in self.flags and len(self.flags) < MAX_FLAGS:
            self.flags.append(text)
            self.new_flags.append(text)

    def audit(self, event: str, args) -> None:
        try:
            if event == "open":
                path, mode, flags = args
                if not isinstance(path, (str, bytes)):
                    return
                path = os.path.normpath(os.path.join(os.getcwd(), os.fsdecode(path)))
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                    (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
                if "/__pycache__/" in path:
                    return  # Python caching its own compiled modules
                if any(_under(path, w) for w in self.watched):
                    self.flag(f"tried to {'write' if writing else 'read'} {path}")
                elif writing and not any(_under(path, a) for a in self.allowed):
                    self.flag(f"tried to write {path}")
            elif event in ("os.remove", "os.rename", "os.rmdir", "shutil.rmtree", "os.truncate", "os.chmod"):
                path = args[0]
                if isinstance(path, (str, bytes)):
                    path = os.path.normpath(os.path.join(os.getcwd(), os.fsdecode(path)))
                    if not any(_under(path, a) for a in self.allowed):
                        self.flag(f"tried to change {path} ({event})")
            elif event in ("os.listdir", "os.scandir", "glob.glob"):
                path = args[0]
                if isinstance(path, (str, bytes)):
                    path = os.path.normpath(os.path.join(os.getcwd(), os.fsdecode(path)))
                    if any(_under(path, w) for w in self.watched):
                        self.flag(f"tried to read {path}")
            elif event in ("os.kill", "os.killpg"):
                if args[0] not in (0, os.getpid()):
                    self.flag("sent signals to other processes")
            elif event == "import":
                top = str(args[0]).split(".")[0]
                if top in SUSPECT_IMPORTS:
                    self.flag(f"imported {top} (the grader's or pytest's code)")
            elif event == "sys.addaudithook":
                self.flag("added an audit hook")
        except Exception:
            pass

    def limit_hit(self, exc: BaseException) -> None:
        import errno

        if isinstance(exc, MemoryError):
            self.flag("hit the memory limit")
        elif isinstance(exc, OSError) and exc.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
            self.flag("hit the disk or file size limit")

    # ------------------------------------------------------------ encoding

    def handle(self, obj) -> dict:
        if isinstance(obj, type) and issubclass(obj, BaseException):
            return {"$c": _mro(obj)}
        key = id(obj)
        self.handles[key] = obj
        return {"$h": key, "t": type(obj).__name__, "f": callable(obj)}

    def exception(self, exc: BaseException) -> dict:
        attrs = {}
        for name, value in list(vars(exc).items())[:20] if hasattr(exc, "__dict__") else []:
            if not name.startswith("_"):
                try:
                    attrs[name] = wire.encode(value, _not_data)
                except (TypeError, wire.WireError, RecursionError):
                    pass
        try:
            args = wire.encode(list(exc.args), _not_data)
        except (TypeError, wire.WireError, RecursionError):
            args = [str(a)[:wire.MAX_TEXT] for a in exc.args]
        try:
            message = str(exc)[:wire.MAX_TEXT]
        except Exception:
            message = "(its message could not be shown)"
        return {"$x": {"mro": _mro(type(exc)), "message": message, "args": args, "attrs": attrs,
                       "where": self.where(exc.__traceback__)}}

    def where(self, tb) -> str:
        """The last line of the student's own code in a traceback: "ftp_lab.py, line 42"."""
        found = ""
        student_files = {os.path.normpath(p) for p in self.config["modules"].values()}
        folders = {os.path.dirname(p) for p in student_files}
        for frame, line in traceback.walk_tb(tb):
            name = os.path.normpath(frame.f_code.co_filename)
            if name in student_files or os.path.dirname(name) in folders:
                found = f"{os.path.basename(name)}, line {line}"
        return found

    def decode(self, data):
        return wire.decode(data, lambda d: self.handles[d["$h"]])

    # ------------------------------------------------------------ the labs' modules

    def module(self, lab: str):
        if lab in self.import_errors:
            return None
        if lab not in self.modules:
            path = self.config["modules"][lab]
            name = os.path.splitext(os.path.basename(path))[0]
            folder = os.path.dirname(path)
            if not os.path.exists(path):
                self.import_errors[lab] = f"{os.path.basename(folder)}/{os.path.basename(path)} is missing"
                return None
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, folder)  # the student's helper modules beside it import too
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException as exc:  # noqa: B036: SystemExit from student code is an import error too
                sys.modules.pop(name, None)
                self.limit_hit(exc)
                line = ""
                if isinstance(exc, SyntaxError) and exc.lineno:
                    line = f"{os.path.basename(path)}, line {exc.lineno}"
                line = line or self.where(exc.__traceback__) or os.path.basename(path)
                detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
                self.import_errors[lab] = f"{line}: {type(exc).__name__}: {detail}"[:wire.MAX_TEXT]
                return None
            self.modules[lab] = module
        return self.modules[lab]

    # ------------------------------------------------------------ requests

    def answer(self, request: dict) -> dict:
        op = request.get("op")
        if op in ("getattr", "call", "setattr") and request.get("lab") is not None and request.get("target") is None:
            module = self.module(request["lab"])
            if module is None:
                return {"import_error": self.import_errors[request["lab"]]}
            target = module
        elif "target" in request:
            target = self.handles[request["target"]]
        else:
            target = None
        try:
            if op == "getattr":
                name = request["name"]
                if target in self.modules.values() and not hasattr(target, name):
                    raise AttributeError(f"{os.path.basename(target.__file__)} has no {name!r}: "
                                         "keep the names the starter defines")
                value = getattr(target, name)
            elif op == "setattr":
                setattr(target, request["name"], self.decode(request["value"]))
                value = None
            elif op == "call":
                args = self.decode(request.get("args", []))
                kwargs = self.decode(request.get("kwargs", {"$d": []}))
                value = target(*args, **kwargs)
            elif op == "threads":
                value = {t.ident: t.name for t in threading.enumerate()
                         if t is not threading.main_thread() and t.is_alive()}
            elif op == "settled":  # as fresh as at start: no thread, live object or extra open file
                fds = _open_fds()  # (a handle to a module's function or class holds no state)
                live = [h for h in self.handles.values() if not isinstance(h, (type, types.FunctionType))]
                value = (fds is not None and self.fresh_fds is not None and fds <= self.fresh_fds
                         and not live and threading.active_count() == 1)
            elif op == "serve_handler":
                module = self.module(request["lab"])
                if module is None:
                    return {"import_error": self.import_errors[request["lab"]]}
                value = _Served(getattr(module, request["name"]))
            elif op == "spy":
                value = _Spy(request["path"])
            elif op == "release":
                self.handles.pop(request["target"], None)
                value = None
            else:
                raise ValueError(f"unknown request {op!r}")
        except BaseException as exc:  # noqa: B036: whatever the student's code raises goes back
            self.limit_hit(exc)
            return {"raised": self.exception(exc)}
        try:
            return {"ok": wire.encode(value, self.handle, self.exception)}
        except (wire.WireError, RecursionError) as exc:
            return {"raised": self.exception(TypeError(f"the value returned cannot be checked: {exc}"))}

    def serve(self, requests, answers) -> None:
        while True:
            try:
                request = wire.read_message(requests)
            except (wire.WireError, ValueError) as exc:
                print(f"grader worker: a request it cannot read ({exc})", file=sys.stderr)
                return
            if request is None:
                return
            answer = self.answer(request)
            answer["id"] = request.get("id")
            answer["flags"], self.new_flags = self.new_flags, []
            try:
                data = wire.dumps(answer)
            except (TypeError, ValueError) as exc:
                data = wire.dumps({"raised": self.exception(TypeError(f"the answer cannot be sent: {exc}")),
                                   "flags": answer["flags"]})
            if len(data) > wire.MAX_LINE:
                data = wire.dumps({"raised": self.exception(ValueError("the value returned is too large to check")),
                                   "flags": answer["flags"]})
            answers.write(data)
            answers.flush()


class _Served:
    """A student's http.server handler class, served in this process (what a test asks over HTTP)."""

    def __init__(self, handler):
        from http.server import ThreadingHTTPServer

        errors = self.errors = []
        raised = self._raised = []

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                exc = sys.exc_info()[1]
                raised.append(exc)
                errors.append(f"{type(exc).__name__}: {exc}"[:wire.MAX_TEXT])

        self._server = Server(("127.0.0.1", 0), handler)
        self.server_address = self._server.server_address
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def raise_last(self):
        """Raise again what the handler last raised (the test shows it instead of a dropped connection)."""
        if self._raised:
            raise self._raised[-1]

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class _Spy:
    """Counts calls of a library function ("smtplib.SMTP.connect") made by the student's code."""

    def __init__(self, path: str):
        module_name, *attrs = path.split(".")
        owner = importlib.import_module(module_name)
        for attr in attrs[:-1]:
            owner = getattr(owner, attr)
        original = getattr(owner, attrs[-1])
        self.args: list = []
        calls = self.args

        def spy(*args, **kwargs):
            calls.append([repr(a)[:200] for a in args[1:]] if isinstance(owner, type) else [repr(a)[:200] for a in args])
            return original(*args, **kwargs)

        setattr(owner, attrs[-1], spy)
        self._restore = lambda: setattr(owner, attrs[-1], original)

    def calls(self):
        return list(self.args)

    def restore(self):
        self._restore()


def _not_data(obj):
    raise TypeError("not data")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _mro(cls) -> list:
    return [[c.__module__, c.__qualname__] for c in cls.__mro__ if c is not object]


# ---------------------------------------------------------------- shutting itself in

def _enter_namespaces() -> None:
    """New mount and PID namespaces; the caller continues as PID 1 of the new one."""
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    linux.unshare(linux.CLONE_NEWNS | linux.CLONE_NEWPID)
    child = os.fork()
    if child:  # the keeper: lives as long as the namespace's first process
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # imported before the fork: the child's mounts are ours too
        os.closerange(3, 4096)  # the channel belongs to the child: its end is the grader's end of file
        _, status = os.waitpid(child, 0)
        if os.WIFSIGNALED(status):  # die the same way, so the grader sees which limit was hit
            try:
                signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
            except (OSError, ValueError):
                pass  # SIGKILL and SIGSTOP keep their default anyway
            os.kill(os.getpid(), os.WTERMSIG(status))
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    linux.make_mounts_private()
    try:
        linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV)  # only this namespace's processes
    except OSError:
        pass


def _hide(paths: list[str]) -> None:
    for path in paths:
        try:
            if os.path.isdir(path):
                linux.tmpfs(path, "4k", mode="000", flags=linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV)
            elif os.path.exists(path):
                linux.bind("/dev/null", path)
        except OSError:
            pass


def _expose(paths: list[str]) -> None:
    """Make Python itself readable to the student's uid when it lives in a closed folder (/root/.pyenv).

    The first closed folder above each path gets an empty tmpfs, and the path
    is bound back at the same place: the student sees Python and nothing
    else of that folder.
    """
    import stat

    closed: dict[str, list[str]] = {}
    for path in dict.fromkeys(os.path.realpath(p) for p in paths if p and os.path.isdir(p)):
        parts = path.split("/")
        for i in range(2, len(parts)):
            ancestor = "/".join(parts[:i]) or "/"
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                closed.setdefault(ancestor, []).append(path)
                break
    for ancestor, inside in closed.items():
        fds = {path: os.open(path, os.O_RDONLY | getattr(os, "O_PATH", 0)) for path in inside}
        linux.tmpfs(ancestor, "1m", mode="755")
        for path, fd in fds.items():
            os.makedirs(path, exist_ok=True)
            linux.bind(f"/proc/self/fd/{fd}", path, linux.MS_REC)
            os.close(fd)


def _limits(limits: dict) -> None:
    if resource is None:
        return
    table = {"as": "RLIMIT_AS", "cpu": "RLIMIT_CPU", "nproc": "RLIMIT_NPROC", "fsize": "RLIMIT_FSIZE",
             "nofile": "RLIMIT_NOFILE", "core": "RLIMIT_CORE"}
    for key, value in limits.items():
        which = getattr(resource, table.get(key, ""), None)
        if which is not None and value is not None:
            try:
                resource.setrlimit(which, (int(value), int(value)))
            except (ValueError, OSError):
                pass


def _open_fds() -> int | None:
    """How many files this process has open (Linux), else None."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def main() -> int:
    config = json.loads(sys.argv[1])
    # The channel is our stdin and stdout; the student's prints go to the output file (our stderr) instead.
    requests = os.fdopen(os.dup(0), "rb", buffering=1 << 16)
    answers = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    if config.get("namespaces"):
        _enter_namespaces()
        _hide(config.get("hide", []))
        import site
        import sysconfig

        _expose([sys.base_prefix, sys.prefix, sysconfig.get_paths()["stdlib"], *site.getsitepackages(),
                 _HERE, os.path.dirname(_HERE)])
    os.chdir(config["cwd"])
    os.environ.update(HOME=config["cwd"], TMPDIR="/tmp", PWD=config["cwd"])
    _limits(config.get("limits", {}))
    if config.get("uid") is not None:
        os.setgroups([])
        os.setgid(config["gid"])
        os.setuid(config["uid"])
        try:
            linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # changing uid cleared it
        except OSError:
            pass
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the file size limit fails instead
    worker = Worker(config)
    sys.addaudithook(worker.audit)
    worker.serve(requests, answers)
    answers.flush()
    os._exit(0)  # a student's thread that never ends must not keep this process alive


if __name__ == "__main__":
    sys.exit(main())
