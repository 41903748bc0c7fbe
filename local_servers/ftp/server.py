"""The course's FTP server (RFC 959), with explicit FTPS (AUTH TLS, RFC 4217).

What a client finds:

- anonymous (user "anonymous", any password): the public tree, read-only.
  /pub holds a README, text and binary files, nested folders, a file with
  a non-ASCII name and a 32 MiB file for progress bars and resumed
  downloads (REST);
- alice, bob and carol (password "<name>-pw"): each a private, writable home
  folder that is "/" for them; none of them can see another's home;
- passive (PASV/EPSV) and active (PORT/EPRT) data connections, MLSD, SIZE,
  MDTM, REST, UTF-8 file names, and AUTH TLS on the same port.

On disk (under the data directory's "ftp" folder):

    public/pub/...          what anonymous users see (their "/")
    home/alice/welcome.txt  alice's "/", and the same for bob and carol

The protocol itself is pyftpdlib's, adjusted in handlers.py (atomic
uploads, a stricter STOU, faster downloads). pyftpdlib has its own event
loop, so the server runs in a thread of its own; handlers.py (and with it
pyOpenSSL, slow to import) is only imported in that thread, so the server
process is ready as soon as the port listens. A client that connects in the
first few milliseconds simply gets its 220 greeting a moment later.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import random
import shutil
import socket
import threading
from pathlib import Path

from .. import config
from ..limits import OPTIONS, ConnectionLimit
from ..files import png
from ..handle import ServiceInfo
from ..service import BACKLOG, Option, Service, listen

#: The greeting (220) every client sees first.
BANNER = "Python internet client programming course FTP server ready."

#: Seconds a logged-in or not yet logged-in client may stay silent (pyftpdlib: 300).
DEFAULT_IDLE_TIMEOUT = 900

#: The big file of the public tree: deterministic bytes, generated at seed time.
LARGE_FILE = "pub/large/random-32MiB.bin"
LARGE_FILE_SIZE = 32 * 1024 * 1024

_SEED_DIR = Path(__file__).parent.parent / "seed" / "ftp"

log = logging.getLogger("local_servers.ftp")


def _write_large_file(path: Path, size: int) -> str:
    """Write `size` deterministic, non-repeating bytes; return their SHA-256.

    One random MiB (fixed seed), rotated by a different amount each time: every MiB differs (a download resumed
    at the wrong offset fails its checksum) without generating 32 MiB of random numbers at every first start.
    """
    block_size = 1024 * 1024
    block = random.Random(21).randbytes(block_size)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for index, written in enumerate(range(0, size, block_size)):
            shift = (index * 7919) % block_size
            piece = (block[shift:] + block[:shift])[: size - written]
            out.write(piece)
            digest.update(piece)
    return digest.hexdigest()


class _Waker:
    """A socket pair in pyftpdlib's loop, so that another thread can wake it up to stop."""

    def __init__(self, ioloop):
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._fileno = self._reader.fileno()
        ioloop.register(self._fileno, self, ioloop.READ)
        self._ioloop = ioloop

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # already woken (buffer full) or closed: either way the loop notices
            self._writer.send(b"x")

    # What pyftpdlib's loop calls on the objects it polls.
    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def handle_read_event(self) -> None:
        with contextlib.suppress(OSError):
            self._reader.recv(4096)

    def handle_error(self) -> None:
        log.exception("FTP loop waker failed")

    def close(self) -> None:
        self._ioloop.unregister(self._fileno)
        self._reader.close()
        self._writer.close()

    handle_close = close


class FTPService(Service):
    """FTP and explicit FTPS on one port, anonymous read-only plus the course's accounts."""

    name = "ftp"
    listeners = ("ftp",)
    starttls = True  # AUTH TLS on the same port
    options = {"idle_timeout": Option(float, DEFAULT_IDLE_TIMEOUT, "seconds of silence before a session ends"),
               "login_delay": Option(float, 1.0, "seconds before '530' after a refused login (slows guessing)"),
               **OPTIONS}
    _stopping = False
    _thread: threading.Thread | None = None  # the FTP thread, started by start()
    _waker: _Waker | None = None

    @classmethod
    def seed(cls, data_dir: Path) -> None:
        """The public tree (copied from seed/ftp, plus generated binaries) and one home per account."""
        shutil.copytree(_SEED_DIR / "public", data_dir / "public")
        pub = data_dir / "public" / "pub"
        (pub / "images").mkdir(parents=True, exist_ok=True)
        # A 64x64 picture: blue to yellow, the colours of a well-known snake.
        (pub / "images" / "gradient.png").write_bytes(
            png(64, 64, lambda x, y: (55 + 3 * x, 118 + 2 * y, 171 - 2 * (x + y) // 2)))
        large = data_dir / "public" / LARGE_FILE
        large.parent.mkdir(parents=True, exist_ok=True)
        checksum = _write_large_file(large, LARGE_FILE_SIZE)
        large.with_name(large.name + ".sha256").write_bytes(f"{checksum}  {large.name}\n".encode())
        for user in config.ACCOUNTS:
            home = data_dir / "home" / user
            home.mkdir(parents=True)
            (home / "welcome.txt").write_text(
                f"Hello {user}!\n\nThis is your own folder on the course's FTP server. You may upload,\n"
                "rename and delete files here, and make folders. Nobody else can see it.\n",
                encoding="utf-8", newline="\n")  # the same bytes on Windows

    async def start(self) -> None:
        self._sock = listen(self.ctx, "ftp")
        self._thread = threading.Thread(target=self._run, name="ftp-server", daemon=True)
        self._thread.start()

    def _make_server(self):
        """Build pyftpdlib's server around our listening socket (runs in the FTP thread)."""
        from pyftpdlib.ioloop import IOLoop
        from pyftpdlib.servers import FTPServer

        from . import handlers
        from ..wire import fault_hooks

        ftp_logger = logging.getLogger("pyftpdlib")
        ftp_logger.setLevel(logging.INFO)  # sessions, logins, transfers; DEBUG would log every command
        if not ftp_logger.handlers:  # else pyftpdlib would print to stderr when nobody configured logging
            ftp_logger.addHandler(logging.NullHandler())

        homes = {user: (password, str(self.data_dir / "home" / user)) for user, password in config.ACCOUNTS.items()}
        cert, key = str(self.ctx.tls.cert_file), str(self.ctx.tls.key_file)
        handler = type("FTPHandler", (handlers.CourseFTPHandler,), {
            "banner": BANNER,
            "timeout": self.option("idle_timeout") or None,
            "auth_failed_timeout": self.option("login_delay"),  # pyftpdlib: 3 s
            "authorizer": handlers.make_authorizer(str(self.data_dir / "public"), homes),
            # bad certificates on demand (fault injection)
            "ssl_context": fault_hooks.watch_ftp_tls(handlers.make_ssl_context(cert, key),
                                                     handlers.make_ssl_context),
            **self._newer_settings(handlers, cert, key),
        })
        ioloop = IOLoop.factory()
        server = FTPServer(self._sock, handler, ioloop=ioloop, backlog=BACKLOG)
        # pyftpdlib counts and answers "421 Too many connections" itself (its total counts data connections too).
        limit = ConnectionLimit.of(self)  # only its numbers
        server.max_cons, server.max_cons_per_ip = limit.total, limit.per_address
        self._waker = _Waker(ioloop)
        return server

    def _newer_settings(self, handlers, cert: str, key: str) -> dict:
        """The session's settings that later issues added: transcripts (11); for a class server, USER and PASS
        only over TLS beyond loopback and per-account limits (10); TLS 1.2 data connections (8 Build 6)."""
        from OpenSSL import SSL

        classroom = self.ctx.classroom
        return {"service": self, "tls_control_required": self.ctx.public, "classroom": classroom,
                **({"dtp_handler": classroom.ftp_dtp_handler(handlers.CourseDTPHandler)} if classroom else {}),
                "data_ssl_context": handlers.make_ssl_context(cert, key, newest=SSL.TLS1_2_VERSION)}

    def _run(self) -> None:
        """The FTP thread: build the server, then poll until stop() says otherwise."""
        try:
            server = self._make_server()
        except Exception:
            log.exception("the FTP server could not start; closing its port")
            self._sock.close()
            return
        ioloop = server.ioloop
        log.info("FTP server listening on %s:%s (idle timeout %s s)", self.ctx.host, self.ports["ftp"],
                 self.option("idle_timeout"))
        try:
            timeout = None
            while not self._stopping:
                try:
                    ioloop.poll(timeout)  # wait for sockets (or the waker), then handle them
                    timeout = ioloop.sched.poll()  # run due timers; None means "no timer pending"
                except Exception:  # a bug in one session must not end everyone's
                    log.exception("error in the FTP server's loop")
                    timeout = 0.01
        finally:
            server.close_all()  # the listening socket, every session, every data connection, the waker

    async def stop(self) -> None:
        self._stopping = True
        if self._waker is not None:
            self._waker.wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                log.warning("the FTP thread did not stop within 5 s")
        with contextlib.suppress(OSError):
            self._sock.close()  # already closed by the thread in the normal case

    def info(self) -> ServiceInfo:
        return dataclasses.replace(super().info(), accounts={"anonymous": "", **config.ACCOUNTS})

    def extra_info(self) -> dict:
        sha_file = self.data_dir / "public" / (LARGE_FILE + ".sha256")
        try:
            checksum = sha_file.read_text(encoding="utf-8").split()[0]
        except (OSError, IndexError):
            checksum = None
        return {"public_dir": "/pub", "large_file": "/" + LARGE_FILE, "large_file_size": LARGE_FILE_SIZE,
                "large_file_sha256": checksum, "idle_timeout": self.option("idle_timeout")}
