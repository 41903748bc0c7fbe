"""Start one grading run in namespaces of its own (Linux, as root), then exec pytest.

    python -m grader.isolate [--carry PATH ...] [--tmp-size 256m] [--servers-for LAB,...] -- python -m pytest ...

- a network namespace with only loopback up: the run's servers and the
  student's process see each other and nothing else (not the course's
  servers on the default ports, not another submission's servers);
- a PID namespace: when the run ends or is killed, every process it
  started (servers, the student's process and what that forked) ends too;
- a mount namespace with a private, size-limited tmpfs on /tmp (and
  /var/tmp, /dev/shm): everything the run writes, and all a student can
  fill, lives there and vanishes with the run. Folders under /tmp the run
  needs (--carry: the submission, hidden tests) are bind-mounted back at
  the same path.

--servers-for: the server set these labs need starts here, in a child,
while pytest imports itself (grader/servers.py); the plugin takes it.

Anywhere else (not root, not Linux, or a call fails) it execs the command
as it is and says why in GRADER_ISOLATION, which the report shows.
"""

from __future__ import annotations

import os
import signal
import sys

from . import linux

ISOLATION_ENV = "GRADER_ISOLATION"
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
SERVERS_DIR = "/tmp/grading-servers"
SERVERS_ENV = "GRADER_SERVERS_DIR"


def isolate(carry: list[str], tmp_size: str) -> str:
    """Enter new namespaces; return "" on success (in the child), else what is missing.

    The calling process forks: the parent stays outside and only waits (it
    exits with the child's status; killing it kills the whole namespace),
    the child is the first process of a new PID namespace and goes on to
    exec pytest. Everything the run starts (servers, the student's process,
    whatever they fork) dies with it.
    """
    if not linux.available():
        return "no network, mount or PID namespace (needs Linux and root)"
    os.environ.setdefault("GRADER_UID", str(1_000_000 + os.getpid()))  # the student's uid: unique on the host
    try:
        linux.unshare(linux.CLONE_NEWNET | linux.CLONE_NEWNS | linux.CLONE_NEWPID)
    except OSError as exc:
        return f"no namespaces ({exc})"
    child = os.fork()
    if child:
        _, status = os.waitpid(child, 0)
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    linux.make_mounts_private()
    keep = {}  # opened in the new mount namespace (a mount of another one cannot be bound here)
    for path in carry:
        real = os.path.realpath(path)
        if os.path.exists(real) and any(real == s or real.startswith(s + "/") for s in SCRATCH):
            keep[real] = os.open(real, os.O_RDONLY | getattr(os, "O_PATH", 0))
    linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV)
    linux.loopback_up()
    for scratch in SCRATCH:
        if os.path.isdir(scratch) and not os.path.islink(scratch):
            linux.tmpfs(scratch, tmp_size if scratch == "/tmp" else "16m")
    os.makedirs(SERVERS_DIR, mode=0o700)  # a tmpfs of its own: a student filling /tmp cannot starve the servers
    linux.tmpfs(SERVERS_DIR, "128m", mode="700")
    os.environ[SERVERS_ENV] = SERVERS_DIR
    for real, fd in keep.items():
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(real, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(real), exist_ok=True)
            open(real, "a").close()
        linux.bind(f"/proc/self/fd/{fd}", real, linux.MS_REC)
        os.close(fd)
    return ""


def main(argv: list[str]) -> int:
    carry, tmp_size, servers = [], "256m", []
    while argv and argv[0] != "--":
        option = argv.pop(0)
        if option == "--carry":
            carry.append(argv.pop(0))
        elif option == "--tmp-size":
            tmp_size = argv.pop(0)
        elif option == "--servers-for":
            servers = [name for name in argv.pop(0).split(",") if name]
        else:
            print(f"isolate: unknown option {option}", file=sys.stderr)
            return 2
    command = argv[1:]
    missing = isolate(carry, tmp_size)
    os.environ[ISOLATION_ENV] = missing or "ok"
    if servers and not missing:  # they start while pytest imports itself; the plugin takes them
        from .servers import start_early

        start_early(SERVERS_DIR, servers)
    os.execv(command[0], command)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
