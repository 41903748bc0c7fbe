"""Where the servers live: ports, accounts and the state directory.

Every default is chosen so a student can guess it: each service listens on 10000 + its well-known port (FTP 21 ->
10021, HTTP 80 -> 10080), so the number they read in an RFC is still visible, and no port needs root.
"""

from __future__ import annotations

import hmac
import os
import sys
from pathlib import Path

#: The environment variable that moves the state directory (data, certificates, logs, the state file).
HOME_ENV = "LOCAL_SERVERS_HOME"

#: The environment variable that overrides ports: "ftp=2121,http=8080".
PORTS_ENV = "LOCAL_SERVERS_PORTS"

#: Servers bind here unless a user asks for another host explicitly.
DEFAULT_HOST = "127.0.0.1"

#: Every listening socket, by name: 10000 + the well-known port.
DEFAULT_PORTS: dict[str, int] = {
    "echo": 10007, "time": 10013,  # TCP and UDP: echo (RFC 862) and the chapter's timestamps (daytime is 13)
    "ftp": 10021, "smtp": 10025, "http": 10080, "pop3": 10110, "nntp": 10119, "imap": 10143,  # the plain ports
    "https": 10443, "smtps": 10465, "nntps": 10563, "imaps": 10993, "pop3s": 10995,  # implicit TLS
    "inspector": 10888,  # the inspector's web page (always on 127.0.0.1); no standard port, so one that is free
}

#: The course's named accounts: the same users on every service.
ACCOUNTS: dict[str, str] = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}

#: The mail domain of the course's accounts (alice@example.test).
MAIL_DOMAIN = "example.test"

#: The host names that mean "this machine only".
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str | None) -> bool:
    """The one loopback rule: beyond these addresses the servers are "public" and stricter."""
    return host in LOOPBACK_HOSTS


def check_login(user: str, password: str) -> str | None:
    """The one login rule: the account's name, or None. ``Alice`` is alice; passwords match exactly (constant time)."""
    name = user.lower()
    expected = ACCOUNTS.get(name)
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode("utf-8", "surrogateescape")):
        return None
    return name


class StateDir:
    """The per-user folder that the command line, the notebooks and the server process share: its files' names."""

    STATE, ERROR, LOG, DATA, TLS, LOCK = "state.json", "start-error.json", "server.log", "data", "tls", "lock"

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else state_dir()

    state_file = property(lambda self: self.path / self.STATE, doc="written by the server once all listen")
    error_file = property(lambda self: self.path / self.ERROR, doc="why the last start failed")
    log_file = property(lambda self: self.path / self.LOG)
    data = property(lambda self: self.path / self.DATA, doc="each service's files, one folder each")
    tls = property(lambda self: self.path / self.TLS, doc="the local CA and the server certificate")
    lock = property(lambda self: self.path / self.LOCK, doc="held while a process starts or stops the servers")


def state_dir() -> Path:
    """The per-user directory that holds the running servers' state."""
    if override := os.environ.get(HOME_ENV):
        return Path(override).expanduser().resolve()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return (base / "python-internet-course").resolve()


def parse_ports(text: str) -> dict[str, int]:
    """Parse "ftp=2121,http=8080" into a dict, naming what is wrong if anything."""
    ports: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in DEFAULT_PORTS:
            known = ", ".join(sorted(DEFAULT_PORTS))
            raise ValueError(f"bad port setting {item!r}: expected NAME=PORT with NAME one of {known}")
        try:
            port = int(value)
        except ValueError:
            raise ValueError(f"bad port setting {item!r}: {value!r} is not a number") from None
        if not 0 <= port <= 65535:
            raise ValueError(f"bad port setting {item!r}: a port is between 0 and 65535")
        ports[name] = port
    return ports


def ports(overrides: dict[str, int] | None = None, *, ephemeral: bool = False) -> dict[str, int]:
    """The ports to bind: defaults, then the environment, then explicit overrides; ephemeral: all 0 (tests)."""
    if ephemeral:
        return {**dict.fromkeys(DEFAULT_PORTS, 0), **(overrides or {})}
    return {**DEFAULT_PORTS, **parse_ports(os.environ.get(PORTS_ENV, "")), **(overrides or {})}
