"""The few Linux system calls the sandbox needs that Python 3.10 does not wrap.

unshare() and mount() through libc (os.unshare exists only from 3.12),
and bringing the loopback interface up in a new network namespace.
Every function raises OSError on failure; callers decide how to degrade.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

_libc = None


def available() -> bool:
    """Namespaces and mounts need Linux and root."""
    return sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0


def _c():
    global _libc
    if _libc is None:
        # The running program's own symbols include libc's. find_library("c") would run `ldconfig -p` in a
        # subprocess, in every student's process that starts.
        _libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(_libc, "unshare"):
            from ctypes.util import find_library

            _libc = ctypes.CDLL(find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    _check(_c().unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_c().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def make_mounts_private() -> None:
    """Mounts made from now on stay in this namespace (and the host's never reach it)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def tmpfs(target: str, size: str, mode: str = "1777", flags: int = MS_NOSUID | MS_NODEV) -> None:
    mount("tmpfs", target, "tmpfs", flags, f"size={size},mode={mode}")


def bind(source: str, target: str, flags: int = 0) -> None:
    mount(source, target, None, MS_BIND | flags)


def prctl(option: int, value: int) -> None:
    _check(_c().prctl(ctypes.c_int(option), ctypes.c_ulong(value), 0, 0, 0), "prctl")


def loopback_up() -> None:
    """`ip link set lo up`, by ioctl: a new network namespace starts with lo down."""
    import fcntl

    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
