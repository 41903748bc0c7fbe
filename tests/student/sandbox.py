"""A student's machine in a temporary folder: fresh HOME, own workspace, own servers on free ports.

Every test of tests/student runs course.py (or what it runs) in such a sandbox, so it never touches the
real workspace/, the student's servers, the default ports or ~/.local/share/jupyter.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local_servers.config import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course.py"

#: Every listener of the servers on a port the OS chooses (the notebooks read ports from the handle).
FREE_PORTS = ",".join(f"{name}=0" for name in DEFAULT_PORTS)  # every listener, the inspector's too


#: The short folders made for HOMEs, removed when the session ends (tests/student/conftest.py).
MADE: list[Path] = []


def short_home() -> Path:
    """A fresh HOME with a short path: Jupyter's kernels use Unix sockets in it (at most 107 bytes)."""
    MADE.append(Path(tempfile.mkdtemp(prefix="cs-")))
    return MADE[-1] / "home"


def environment(tmp: Path, home: Path | None = None, **extra: str) -> dict:
    """The environment of a student with a fresh HOME, using this test run's Python environment."""
    home = home or short_home()
    home.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("JUPYTER", "PYTEST", "LOCAL_SERVERS", "_LOCAL_SERVERS", "COURSE_"))}
    env.update(HOME=str(home), LOCAL_SERVERS_HOME=str(tmp / "servers"), LOCAL_SERVERS_PORTS=FREE_PORTS,
               COURSE_WORKSPACE=str(tmp / "workspace"), COURSE_VENV=sys.prefix, PYTHONUNBUFFERED="1",
               XDG_DATA_HOME=str(home / ".local" / "share"), XDG_STATE_HOME=str(home / ".local" / "state"))
    env.pop("XDG_RUNTIME_DIR", None)
    env.update(extra)
    return env


def runtime_dir(env: dict) -> Path:
    return Path(env["HOME"]) / ".local" / "share" / "jupyter" / "runtime"


def lab_servers(env: dict) -> list[dict]:
    """The JupyterLab runtime files (jpserver-PID.json) in the sandbox's HOME."""
    found = []
    for path in sorted(runtime_dir(env).glob("jpserver-*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except ValueError:
            pass
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """Every live process below pid (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return [p for p in found if alive(p)]


def wait_until(predicate, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


@contextlib.contextmanager
def course_started(tmp: Path, url: re.Pattern, *args: str, timeout: float = 180):
    """`course.py start --no-browser ARGS` in a sandbox (port 0 for the Lab, the app object exposed so a test
    can read the notebook model): yields (the printed URL's match, env, output()); stopped with Ctrl-C."""
    env = environment(tmp)
    log = open(tmp / "course.log", "w+")
    process = subprocess.Popen([sys.executable, str(COURSE), "start", *args, "--no-browser", "--ServerApp.port=0",
                                "--LabApp.expose_app_in_browser=True"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def output() -> str:
        log.seek(0)
        return log.read()

    try:
        wait_until(lambda: url.search(output()) or process.poll() is not None, timeout, 0.5)
        found = url.search(output())
        assert found, f"course.py start printed no URL:\n{output()}"
        yield found, env, output
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: stops JupyterLab and the servers it started
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(Path(env["HOME"]).parent, ignore_errors=True)
