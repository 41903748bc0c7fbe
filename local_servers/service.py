"""What every bundled server has in common.

A service is one protocol (FTP, HTTP, ...). The server process (serve.py) gives each service a Context, awaits its
start(), publishes its info() in the state file, and awaits its stop() on shutdown. Services written for asyncio
run on the process's one event loop; those built on a library with its own loop (pyftpdlib, http.server) run that
loop in a thread of their own. Every listening socket is made by listen(), so that a taken port gives the same
clear message everywhere and every server gets the same generous accept queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .config import ACCOUNTS
from .handle import ServiceInfo

#: Deep enough that 100 clients connecting at once are never refused (vsftpd's 32 overflowed in that test).
BACKLOG = 1024


class PortInUseError(OSError):
    """A port the course wants is taken by another program."""

    def __init__(self, name: str, host: str, port: int, reason: str):
        self.name, self.host, self.port = name, host, port
        super().__init__(f"port {port} on {host} ({name}) is already in use by another program ({reason}). Stop "
                         f"that program, or choose another port, in the course's folder: {_another_port(name)}.")


def _another_port(name: str) -> str:
    """The commands that move one service to another port, as typed in the course's folder."""
    if sys.platform == "win32":
        return (f"`set LOCAL_SERVERS_PORTS={name}=NNNNN` then `py course.py start` (the servers alone: "
                f"`.venv\\Scripts\\python -m local_servers up --port {name}=NNNNN`)")
    return (f"`LOCAL_SERVERS_PORTS={name}=NNNNN python3 course.py start` (the servers alone: "
            f"`.venv/bin/python -m local_servers up --port {name}=NNNNN`)")


@dataclass
class Context:
    """What the server process hands to each service."""

    host: str
    ports: dict[str, int]  # the port each listener should bind (0: any free one)
    data_dir: Path  # the services' files: data_dir / <service>
    tls: "TLSFiles"
    public: bool = False  # bound beyond loopback: be stricter (no anonymous writes)
    options: dict = field(default_factory=dict)  # per-service settings, e.g. {"ftp_idle_timeout": 900}
    bound: dict[str, int] = field(default_factory=dict)  # the port each listener got (listen() records it)
    classroom: object = None  # a class server's ClassSet (classroom/server.py), else None

    def server_ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        return context

    def passwords_allowed(self, tls: bool) -> bool:
        """The one rule for every service: beyond loopback, passwords travel only over TLS."""
        return tls or not self.public


@dataclass(frozen=True)
class Option:
    """A setting a service declares: `--option <service>_<name>=VALUE` on the command line."""

    type: type
    default: object
    help: str

    def parse(self, key: str, value) -> object:
        try:
            return self.type(value)
        except (TypeError, ValueError):
            raise ValueError(f"option {key}={value!r}: expected {self.type.__name__} ({self.help})") from None


def validate_options(options: dict, services: list) -> dict:
    """The options typed; a ValueError names an unknown key and lists the known ones."""
    known = {f"{cls.name}_{name}": option for cls in services for name, option in cls.options.items()}
    if unknown := [key for key in options if key not in known]:
        raise ValueError(f"unknown option {unknown[0]!r}; known options: {', '.join(sorted(known))}")
    return {key: known[key].parse(key, value) for key, value in options.items()}


@dataclass
class TLSFiles:
    """The local CA and the server certificate it signed (see tls.py)."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def listen(ctx: Context, name: str, kind: int = socket.SOCK_STREAM, port: int | None = None) -> socket.socket:
    """Bind the listener `name` on ctx.host at ctx.ports[name], or at `port` (a UDP socket on its TCP twin's)."""
    host = ctx.host
    port = ctx.ports[name] if port is None else port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Name the protocol: asyncio sets TCP_NODELAY on accepted connections only when sock.proto says TCP,
    # and without it a reply split in two writes can wait 40 ms for the client's delayed ACK.
    sock = socket.socket(family, kind, socket.IPPROTO_TCP if kind == socket.SOCK_STREAM else socket.IPPROTO_UDP)
    try:
        # SO_REUSEADDR lets a restarted server bind again at once despite TIME_WAIT; on Windows it would let two
        # servers share a port, so there the exclusive kind.
        reuse = socket.SO_EXCLUSIVEADDRUSE if sys.platform == "win32" else socket.SO_REUSEADDR
        sock.setsockopt(socket.SOL_SOCKET, reuse, 1)
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno in _ADDR_IN_USE:
            raise PortInUseError(name, host, port, exc.strerror or str(exc)) from None
        raise OSError(exc.errno, f"cannot listen on {host}:{port} ({name}): {exc.strerror or exc}") from None
    ctx.bound[name] = sock.getsockname()[1]
    return sock


_ADDR_IN_USE = {98, 48, 10048}  # EADDRINUSE on Linux, macOS, Windows


async def close_servers(servers: list, timeout: float = 2.0) -> None:
    """Stop asyncio servers: refuse new connections, end open ones, wait a bounded time."""
    for server in servers:
        server.close()
        if hasattr(server, "close_clients"):  # 3.13+: also end open sessions
            server.close_clients()
    for server in servers:
        with contextlib.suppress(asyncio.TimeoutError):  # since 3.12 wait_closed() also waits for open connections
            await asyncio.wait_for(server.wait_closed(), timeout)


class Service:
    """Base class: one protocol. Subclasses set `name` and `listeners`."""

    name: str = ""  # the service's name in the state file and on the command line
    listeners: tuple[str, ...] = ()  # the listener names (keys of config.DEFAULT_PORTS) it binds
    data_name: str = ""  # its folder under the data directory, if not `name`: SMTP, POP3 and IMAP share "mail"
    options: dict[str, Option] = {}  # the settings it takes, by name without the "<service>_" prefix
    starttls = False  # the plain port upgrades to TLS (STARTTLS, STLS, AUTH TLS)
    uses_accounts = False  # the course's accounts log in (published in the state file)

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.log = logging.getLogger(f"local_servers.{self.name}")
        self.data_dir = ctx.data_dir / (self.data_name or self.name)

    def option(self, name: str):
        """The typed value of one of this service's options (its default if not given)."""
        return self.ctx.options.get(f"{self.name}_{name}", self.options[name].default)

    @property
    def ports(self) -> dict[str, int]:
        """The bound port of each of this service's listeners."""
        return {name: self.ctx.bound[name] for name in self.listeners if name in self.ctx.bound}

    @classmethod
    def seed(cls, data_dir: Path) -> None:
        """Create the service's seeded data under data_dir (only called when it is missing)."""

    async def start(self) -> None:
        """Bind every listener and begin serving. Raise PortInUseError when a port is taken."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop serving and release the ports."""

    def extra_info(self) -> dict:
        """Service-specific facts for the state file's "extra"."""
        return {}

    def info(self) -> ServiceInfo:
        """What clients need to know (handle.py's schema): the first listener's port, the others' as TLS ports."""
        first, *others = self.listeners
        return ServiceInfo(name=self.name, host=self.ctx.host, port=self.ctx.bound[first],
                           tls_ports={name: self.ctx.bound[name] for name in others}, starttls=self.starttls,
                           accounts=dict(ACCOUNTS) if self.uses_accounts else {}, ca_file=str(self.ctx.tls.ca_file),
                           extra=self.extra_info())

