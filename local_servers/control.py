"""Starting, finding and stopping the one server process of a user.

Several notebooks (several kernels), the command line and the tests may all ask for the servers at once. They
agree through the state directory:

- a lock file, so that only one of them starts a process;
- state.json, written by the server process when every service listens; whoever finds it, with a live process
  behind it, uses that process.

A server process that was killed leaves a stale state.json behind; the next caller notices (no process, nothing
listening) and starts a new one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from filelock import FileLock

from . import config, serve
from . import ports as port_blocks
from .config import StateDir
from .files import read_json
from .handle import Handle

#: How long `up` waits for a new server process to become ready.
START_TIMEOUT = 30.0

_children: dict[int, subprocess.Popen] = {}  # processes this Python started, so they can be reaped


class StartError(RuntimeError):
    """The servers could not start (the message says why and what to do)."""


def _lock(state_dir: Path) -> FileLock:
    state_dir.mkdir(parents=True, exist_ok=True)
    if os.name == "posix" and state_dir.stat().st_uid == os.getuid():
        os.chmod(state_dir, 0o700)  # one user's mail, files and keys are nobody else's
    return FileLock(str(StateDir(state_dir).lock), timeout=START_TIMEOUT * 2)


def pid_alive(pid: int) -> bool:
    if (child := _children.get(pid)) is not None:
        return child.poll() is None  # also reaps it, so a dead child is not a zombie
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x00100000 | 0x1000, False, pid)  # SYNCHRONIZE | QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            return kernel32.WaitForSingleObject(handle, 0) == 0x102  # WAIT_TIMEOUT: still running
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return isinstance(exc, PermissionError)  # another user's process is alive; ProcessLookupError: gone
    try:  # a zombie (exited, not yet reaped) still answers kill(pid, 0)
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def find(state_dir: Path | None = None) -> Handle | None:
    """The running servers of this state directory, or None."""
    state_dir = Path(state_dir or config.state_dir())
    try:
        handle = Handle.from_dict(read_json(StateDir(state_dir).state_file))
    except (ValueError, KeyError):  # no state file, half a one, or another schema's
        return None
    if not pid_alive(handle.pid):
        return None
    probe = next((s for s in handle.services.values() if s.port), None)
    try:
        if probe is not None:
            socket.create_connection((probe.host, probe.port), timeout=2).close()
    except OSError:
        return None  # a process with that pid, but not listening: not ours, or not any more
    return handle


def _spawn(state_dir: Path, host: str, ports: dict[str, int], names: list[str] | None, options: dict,
           classroom: bool = False) -> Handle:
    home = StateDir(state_dir)
    home.state_file.unlink(missing_ok=True)
    home.error_file.unlink(missing_ok=True)
    launch_id = uuid.uuid4().hex
    cmd = [sys.executable, "-m", "local_servers", "serve", "--state-dir", str(home.path.resolve()), "--host", host,
           "--ports", ",".join(f"{k}={v}" for k, v in ports.items()), "--detach", "--launch-id", launch_id]
    if classroom:  # a class server (classroom/): the roster written by `up --class` in state_dir
        cmd.append("--class")
    if names:
        cmd += ["--only", ",".join(names)]
    for key, value in options.items():
        cmd += ["--option", f"{key}={value}"]
    env = dict(os.environ)
    # The child must import this very package, even if not installed, and not a local_servers folder where the
    # caller happens to be (`python -m` puts the working directory first on sys.path): it runs in our parent folder.
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    if sys.platform == "win32":
        kwargs = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
                  | subprocess.CREATE_NO_WINDOW}
    else:
        kwargs = {"start_new_session": True}  # Ctrl-C in the terminal or notebook does not reach it
    with open(home.log_file, "ab") as log:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 env=env, cwd=package_parent, close_fds=True, **kwargs)
    detaches = hasattr(os, "fork")  # on POSIX the child forks the real server and exits at once
    if not detaches:
        _children[child.pid] = child

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        document = read_json(home.state_file)
        if document.get("launch_id") == launch_id:
            if detaches:
                child.wait(5)  # the intermediate process exited right after its fork: reap it
            return Handle.from_dict(document)
        error = read_json(home.error_file)
        if error.get("launch_id") == launch_id:
            child.poll()
            raise StartError(error.get("error", "the servers could not start"))
        if child.poll() not in (None, 0) or (child.returncode == 0 and not detaches):
            raise StartError(f"the server process exited with status {child.returncode}; see {home.log_file}")
        time.sleep(0.01)
    _stop_locked(state_dir)
    raise StartError(f"the servers did not become ready within {START_TIMEOUT:.0f} s; see {home.log_file}")


def start(state_dir: Path | None = None, *, host: str | None = None, ports: dict[str, int] | None = None,
          ephemeral: bool = False, names: list[str] | None = None, options: dict | None = None,
          classroom: bool = False) -> Handle:
    """Start the servers unless they already run; return the handle either way.

    host: bind here instead of 127.0.0.1 (beyond loopback the servers get stricter: no anonymous writes).
    ports: overrides by listener name. ephemeral: let the OS choose every port (isolated test servers).
    classroom: a class server, from the roster that `up --class` wrote into state_dir (classroom/).
    """
    state_dir = Path(state_dir or config.state_dir())
    with _lock(state_dir):
        if (handle := find(state_dir)) is not None:  # already running
            return handle
        host = host or config.DEFAULT_HOST
        if not (ports or ephemeral or os.environ.get(config.PORTS_ENV) or not config.is_loopback(host) or classroom):
            return _spawn_in_a_block(state_dir, host, names, options or {})
        return _spawn(state_dir, host, config.ports(ports, ephemeral=ephemeral), names, options or {}, classroom)


def _spawn_in_a_block(state_dir: Path, host: str, names: list[str] | None, options: dict) -> Handle:
    """Nothing configured: this user's port block (ports.py), trying the next if another user wins a race."""
    failed: set[int] = set()
    while True:
        chosen = port_blocks.choose(state_dir, host, failed)
        try:
            handle = _spawn(state_dir, host, chosen, names, options)
        except StartError as exc:
            block = port_blocks.block_of(chosen)
            if "already in use" not in str(exc) or block is None or len(failed) >= 3:
                raise
            failed.add(block)
            continue
        port_blocks.remember(state_dir, chosen if port_blocks.block_of(chosen) is not None
                             else {**chosen, **_ports_of(handle)})
        return handle


def ensure_running(state_dir: Path | None = None, **kwargs) -> Handle:
    """The notebooks' entry point: the servers' handle, starting them if needed.

    Idempotent and safe from several kernels at once: all of them share one server process per state directory.
    When LOCAL_SERVERS_URL names a class server (and nothing else is asked for), its handle: nothing starts here.
    """
    if state_dir is None and not kwargs and os.environ.get("LOCAL_SERVERS_URL"):
        from .classroom import remote
        return remote.connect()
    return start(state_dir, **kwargs)


def _terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the process is still there after timeout (on Windows SIGTERM ends it at once)."""
    for sig, wait in ((signal.SIGTERM, timeout), (getattr(signal, "SIGKILL", None), 5.0)):
        if sig is None:
            return
        try:
            os.kill(pid, sig)
        except OSError:  # ProcessLookupError: it has gone already
            return
        deadline = time.monotonic() + wait
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not pid_alive(pid):
            return


def stop(state_dir: Path | None = None) -> bool:
    """Stop the servers of this state directory. True if a process was stopped."""
    state_dir = Path(state_dir or config.state_dir())
    with _lock(state_dir):
        return _stop_locked(state_dir)


def _stop_locked(state_dir: Path) -> bool:
    state_file = StateDir(state_dir).state_file
    if (pid := read_json(state_file).get("pid")) is None:
        return False
    was_alive = pid_alive(pid)
    if was_alive:
        _terminate(pid)
    state_file.unlink(missing_ok=True)
    _children.pop(pid, None)
    return was_alive


def reset(state_dir: Path | None = None, names: list[str] | None = None) -> Handle | None:
    """Restore the seeded data of the named services (all by default): the new handle, or None if not running.

    The servers stop, their data folders go, and a new process on the same host and ports seeds what is
    missing: the seed code runs in the server process, never in a notebook's kernel.
    """
    state_dir = Path(state_dir or config.state_dir())
    names = list(names or serve.SERVICES)
    with _lock(state_dir):
        if (handle := find(state_dir)) is not None:
            _stop_locked(state_dir)
        serve.remove_data(state_dir, names)
        if handle is None:
            return None
        return _spawn(state_dir, handle.host, _ports_of(handle), list(handle.services), {},
                      handle.server_set.get("kind") == "class")


def _ports_of(handle: Handle) -> dict[str, int]:
    """The listener ports a running handle uses, to start again on the same ones."""
    return {name: port for svc in handle.services.values()
            for name, port in [(svc.name, svc.port), *svc.tls_ports.items()] if name in config.DEFAULT_PORTS}
