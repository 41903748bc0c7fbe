"""Which ports a user's servers take when several users share one machine (decision 0008).

Block 0 is the course's well-known ports, 10000 + the standard port (FTP on 10021).
Block k (1..54) keeps the standard port in the last three digits: 10000 + 1000*k + N,
so block 3 has FTP on 13021 and SMTP on 13025. The first user on a machine gets block 0;
every other user gets a block of their own, and keeps it:

- the block chosen is remembered in the user's state directory (ports.json), so the
  table a student reads today is true tomorrow;
- the blocks a user tries are ordered by their uid, so two users rarely probe the same one;
- a block is taken only if every one of its ports binds, and a claim file in a shared,
  sticky folder (CLAIMS) marks blocks 1..54 as some uid's, so a block stays its owner's
  while their servers are down; two users starting at the same instant are told apart
  by the claim file (created exclusively) and, last of all, by the bind itself.

Explicit ports (LOCAL_SERVERS_PORTS, --port) bypass all this: control.start only asks
here when nothing was configured.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import tempfile
from pathlib import Path

from . import config
from .config import StateDir
from .files import write_atomically

#: Blocks beyond 0: 1..22 sit below Linux's ephemeral range (32768+), 23..54 above it.
BLOCKS = range(1, 55)
_LOW = range(1, 23)

#: The remembered choice, in the user's state directory.
REMEMBERED = "ports.json"

#: Listeners that also bind UDP (echo and time answer datagrams too).
_UDP = ("echo", "time")


def block_ports(block: int) -> dict[str, int]:
    """Every listener's port in a block: block 0 is config.DEFAULT_PORTS."""
    return {name: port + 1000 * block for name, port in config.DEFAULT_PORTS.items()}


def block_of(ports: dict[str, int]) -> int | None:
    """The block these ports (all listeners, or those of the services running) belong to, or None.

    None means explicit or OS-chosen ports: some port is not where its block puts it.
    """
    if not ports or not set(ports) <= set(config.DEFAULT_PORTS):
        return None
    name, port = next(iter(ports.items()))
    block, rest = divmod(port - config.DEFAULT_PORTS[name], 1000)
    if rest or not (block == 0 or block in BLOCKS):
        return None
    expected = block_ports(block)
    return block if all(expected[k] == v for k, v in ports.items()) else None


def claims_dir() -> Path:
    """The machine-wide folder of claim files: one per block, naming the uid that owns it."""
    return Path(tempfile.gettempdir()) / "python-internet-course-ports"


def _uid() -> int:
    return os.getuid() if hasattr(os, "getuid") else 0


def candidates(uid: int | None = None) -> list[int]:
    """The blocks a user tries, in order: 0, then 1..54 rotated by the uid (low ones first)."""
    uid = _uid() if uid is None else uid
    low, high = list(_LOW), [b for b in BLOCKS if b not in _LOW]
    return [0] + low[uid % len(low):] + low[:uid % len(low)] + high[uid % len(high):] + high[:uid % len(high)]


def all_bind(host: str, ports: dict[str, int]) -> bool:
    """True if every port is free on host right now (TCP, and UDP where the service uses it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for name, port in ports.items():
        kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if name in _UDP else (socket.SOCK_STREAM,)
        for kind in kinds:
            with socket.socket(family, kind) as sock:
                if kind == socket.SOCK_STREAM and os.name != "nt":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
                try:
                    sock.bind((host, port))
                except OSError:
                    return False
    return True


def _claims() -> Path | None:
    """The claims folder, made world-writable and sticky (as /tmp) if we create it; None if unusable."""
    folder = claims_dir()
    try:
        folder.mkdir(exist_ok=True)
        if folder.stat().st_uid == _uid():
            os.chmod(folder, 0o1777)
        return folder
    except OSError:
        return None


def owner(block: int) -> int | None:
    """The uid that claimed a block, or None if nobody did (block 0 is never claimed)."""
    # The folder is writable by everyone, so a claim may be anything: read a few bytes of a regular
    # file only, never waiting (a FIFO would block an ordinary open).
    try:
        fd = os.open(claims_dir() / f"block-{block:02d}", os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return int(os.read(fd, 32).strip())
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def claim(block: int) -> bool:
    """Make a block this user's, unless another uid's claim is there first (blocks 1..54)."""
    if block == 0:
        return True
    folder = _claims()
    if folder is None:
        return True  # no shared folder: the bind alone decides
    path = folder / f"block-{block:02d}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return owner(block) == _uid()
    except OSError:
        return True
    with os.fdopen(fd, "w") as f:
        f.write(f"{_uid()}\n")
    return True


def remembered(state_dir: Path) -> dict[str, int] | None:
    """The ports this user's servers used last time, if any."""
    try:
        ports = json.loads((Path(state_dir) / REMEMBERED).read_text(encoding="utf-8"))["ports"]
        return {str(k): int(v) for k, v in ports.items()} if set(ports) == set(config.DEFAULT_PORTS) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def remember(state_dir: Path, ports: dict[str, int]) -> None:
    """Keep the ports that worked, so the next start takes the same ones."""
    write_atomically(Path(state_dir) / REMEMBERED,
                     json.dumps({"block": block_of(ports), "ports": ports}, indent=2))


def choose(state_dir: Path, host: str, skip: set[int] = frozenset()) -> dict[str, int]:
    """The ports to try for this user: the remembered ones if free, else the first free block.

    skip: blocks that just failed to bind (another user won the race); they are passed over.
    When no block is free, every port is 0 (the OS chooses) and remember() keeps what it chose.
    """
    last = remembered(state_dir)
    if last is not None and _still_mine(block_of(last), skip) and all_bind(host, last):
        return last
    for block in candidates():
        if block in skip or (block and owner(block) not in (None, _uid())):
            continue
        ports = block_ports(block)
        if all_bind(host, ports) and claim(block):
            return ports
    return {name: 0 for name in config.DEFAULT_PORTS}


def _still_mine(block: int | None, skip: set[int]) -> bool:
    """A remembered block is still this user's unless it just failed or another uid claims it now.

    The claim is renewed (a cleaned /tmp loses it), so other users keep passing it over.
    """
    if block in skip:
        return False
    if block is None or block == 0:
        return True
    return owner(block) in (None, _uid()) and claim(block)


def describe(ports: dict[str, int]) -> str:
    """One line for `course.py status`: which block, in words a student can check against the table."""
    block = block_of(ports)
    if block == 0:
        return "Port block 0: the course's well-known ports (10000 + the standard port, FTP on 10021)."
    if block is not None:
        ftp = block_ports(block)["ftp"]
        return (f"Port block {block}: {10000 + 1000 * block} + the standard port (FTP on {ftp}), "
                f"because another user on this machine has the well-known ports.")
    return "Ports chosen by hand or by the system (no block): see the table above."


def main(argv: list[str] | None = None) -> int:
    """`python -m local_servers.ports`: print describe() for the running servers (course.py status)."""
    from . import control

    handle = control.find(StateDir().path)
    if handle is None:
        return 3
    print(describe(control._ports_of(handle)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
