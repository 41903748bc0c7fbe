"""POP3 (RFC 1939) with CAPA (RFC 2449) and STLS (RFC 2595), plus POP3 over implicit TLS.

A POP3 session moves through three states (RFC 1939 section 3):

    AUTHORIZATION --USER/PASS or APOP--> TRANSACTION --QUIT--> UPDATE
                                          (STAT LIST RETR TOP UIDL DELE RSET NOOP)

COMMANDS below is the protocol at a glance: for each command, the states it
is valid in, whether it takes an argument, and its help. POP3Session checks
a command line against that table and then calls the one ``pop_<CMD>``
method that implements it. Every reply, a status line and any multi-line
data, goes out in one write (two small writes can cost a 40 ms delayed ACK).

Maildrop is the store side: a numbered snapshot of the user's INBOX taken at
login (the Maildir's new/ and cur/, in arrival order). DELE only marks a
message; the marked messages are removed when the client QUITs (the UPDATE
state), so a dropped connection deletes nothing. While a session holds a
maildrop, a second login to it gets ``-ERR [IN-USE]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import os
import socket
import time
from typing import NamedTuple

from . import config, mailstore
from .mail_service import MailService
from .service import close_servers, listen

AUTHORIZATION, TRANSACTION = "AUTHORIZATION", "TRANSACTION"
#: RFC 2449: a command line is at most 255 octets, CRLF included.
MAX_LINE = 255
IDLE_TIMEOUT = 600.0  # RFC 1939: an autologout timer of at least 10 minutes
HOSTNAME = f"mail.{config.MAIL_DOMAIN}"


class Command(NamedTuple):
    states: tuple[str, ...]
    arg: str  # "none", "optional" or "required"
    help: str


BOTH = (AUTHORIZATION, TRANSACTION)
COMMANDS: dict[str, Command] = {
    "USER": Command((AUTHORIZATION,), "required", "USER name: the mailbox to open"),
    "PASS": Command((AUTHORIZATION,), "required", "PASS password: after USER, the password"),
    "APOP": Command((AUTHORIZATION,), "required", "APOP name digest: MD5 of the greeting's <timestamp> and the password"),
    "STLS": Command((AUTHORIZATION,), "none", "STLS: switch this connection to TLS before logging in"),
    "CAPA": Command(BOTH, "none", "CAPA: list the server's capabilities"),
    "QUIT": Command(BOTH, "none", "QUIT: end the session (and remove the messages marked with DELE)"),
    "STAT": Command((TRANSACTION,), "none", "STAT: number of messages and their total size"),
    "LIST": Command((TRANSACTION,), "optional", "LIST [msg]: size of each message (or of one)"),
    "RETR": Command((TRANSACTION,), "required", "RETR msg: the whole message"),
    "TOP": Command((TRANSACTION,), "required", "TOP msg n: the headers and the first n body lines"),
    "UIDL": Command((TRANSACTION,), "optional", "UIDL [msg]: the unique id of each message (or of one)"),
    "DELE": Command((TRANSACTION,), "required", "DELE msg: mark a message for deletion at QUIT"),
    "RSET": Command((TRANSACTION,), "none", "RSET: unmark every message marked with DELE"),
    "NOOP": Command((TRANSACTION,), "none", "NOOP: do nothing, say +OK"),
}


def to_wire(data: bytes) -> bytes:
    """A stored message (LF line endings) as it is sent: CRLF line endings, ending in CRLF."""
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if not data or data.endswith(b"\r\n") else data + b"\r\n"


def dot_stuff(wire: bytes) -> bytes:
    """Double every line's leading "." so that no line of the message reads as the final "." """
    stuffed = wire.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def unique_id(key: str) -> str:
    """The UIDL of a message: its Maildir key (RFC 1939 allows 1-70 printable characters)."""
    if 0 < len(key) <= 70 and all(0x21 <= ord(c) <= 0x7E for c in key):
        return key
    return hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()


class Maildrop:
    """One user's INBOX as a POP3 session sees it: numbered 1..n at login, deletions applied at QUIT."""

    def __init__(self, mail_dir, user: str, known_sizes: dict[str, int]):
        """known_sizes: key -> size on the wire, from earlier sessions (a message never changes)."""
        self.box = mailstore.open_box(mail_dir, user, create=True)
        self.keys: list[str] = []
        self.sizes: list[int] = []
        for entry in mailstore.messages(mailstore.user_dir(mail_dir, user)):
            size = known_sizes.get(entry.key)
            if size is None:
                try:
                    size = len(to_wire(self.box.get_bytes(entry.key)))
                except (KeyError, OSError):  # removed by an IMAP client meanwhile
                    continue
            self.keys.append(entry.key)
            self.sizes.append(size)
        known_sizes.clear()  # keep only what is still there
        known_sizes.update(zip(self.keys, self.sizes))
        self.deleted: set[int] = set()

    def numbers(self) -> list[int]:
        """The message numbers not marked as deleted."""
        return [n for n in range(1, len(self.keys) + 1) if n not in self.deleted]

    def exists(self, n: int) -> bool:
        return 1 <= n <= len(self.keys) and n not in self.deleted

    def size(self, n: int) -> int:
        return self.sizes[n - 1]

    def uid(self, n: int) -> str:
        return unique_id(self.keys[n - 1])

    def stat(self) -> tuple[int, int]:
        numbers = self.numbers()
        return len(numbers), sum(self.size(n) for n in numbers)

    def wire(self, n: int) -> bytes:
        """Message n with CRLF line endings (looked up by key: IMAP may have renamed its file)."""
        return to_wire(self.box.get_bytes(self.keys[n - 1]))

    def expunge(self) -> int:
        """The UPDATE state: remove the marked messages; return how many could not be removed."""
        failed = 0
        for n in sorted(self.deleted):
            try:
                self.box.remove(self.keys[n - 1])
            except KeyError:
                pass  # already gone (an IMAP client expunged it): the goal is reached
            except OSError:
                failed += 1
        return failed


class POP3Session(asyncio.Protocol):
    """One client connection: read command lines, check them against COMMANDS, call pop_<CMD>."""

    _ids = itertools.count(1)

    def __init__(self, service: "POP3Service", tls: bool):
        self.service = service
        self.log = service.log
        self.tls = tls
        self.state = AUTHORIZATION
        self.user: str | None = None
        self.maildrop: Maildrop | None = None
        self.buffer = bytearray()
        self.discarding = False  # inside the tail of an overlong line
        self.upgrading = False  # STLS: waiting for the TLS handshake
        self.paused = False  # the client is not reading our replies fast enough
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.banner = f"<{os.getpid()}.{next(self._ids)}.{int(time.time())}@{HOSTNAME}>"

    # -- the connection --------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        if sock is not None:  # no Nagle delay for a short reply that follows another
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reset_timer()
        self.send(self.ok(f"POP3 server ready {self.banner}"))

    def connection_lost(self, exc) -> None:
        # No UPDATE state without QUIT: marked messages stay (RFC 1939 section 6).
        self.release()
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.upgrading:
            # Reading the plain socket stopped at STLS, so this is already decrypted: a client
            # may speak as soon as its handshake ends, before start_tls() returns to us.
            return
        while self.transport is not None and not self.transport.is_closing() and not self.upgrading \
                and not self.paused:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > MAX_LINE:
                    self.buffer.clear()
                    if not self.discarding:
                        self.discarding = True
                        self.send(self.err(f"line too long (at most {MAX_LINE} octets)"))
                return
            line = bytes(self.buffer[:end + 1])
            del self.buffer[:end + 1]
            if self.discarding:  # the end of a line already answered
                self.discarding = False
            elif len(line) > MAX_LINE:
                self.send(self.err(f"line too long (at most {MAX_LINE} octets)"))
            else:
                self.reset_timer()
                self.send(self.execute(line.rstrip(b"\r\n")))
        if self.upgrading:
            self.buffer.clear()  # plaintext sent after STLS is discarded (RFC 2595 section 4)

    def pause_writing(self) -> None:
        """The client reads slower than we answer: stop taking its commands for a while."""
        self.paused = True
        if self.transport is not None and not self.upgrading:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.upgrading:
            self.transport.resume_reading()
            self.data_received(b"")  # the commands that were waiting

    def send(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)

    def reset_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.service.idle_timeout, self.autologout)

    def autologout(self) -> None:
        self.send(self.err("autologout: idle for too long"))
        if self.transport is not None:
            self.transport.close()

    def release(self) -> None:
        if self.maildrop is not None:
            self.service.locked.discard(self.user)
            self.maildrop = None

    # -- replies ---------------------------------------------------------

    @staticmethod
    def ok(text: str = "", data: bytes | None = None) -> bytes:
        """+OK and, for a multi-line reply, the data (already CRLF, dot-stuffed) and the final "."."""
        status = f"+OK {text}".rstrip().encode() + b"\r\n"
        return status if data is None else status + data + b".\r\n"

    @staticmethod
    def err(text: str) -> bytes:
        return f"-ERR {text}\r\n".encode()

    def execute(self, line: bytes) -> bytes:
        """Check a command line against COMMANDS and run its pop_<CMD> method."""
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            return self.err("commands are ASCII text")
        if not text.isprintable():
            return self.err("control characters in the command line")
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        command = COMMANDS.get(verb)
        if command is None:
            return self.err(f"unknown command {verb[:20]!r}; CAPA lists what this server can do")
        if self.state not in command.states:
            return self.err(f"{verb} is not valid in the {self.state} state")
        if command.arg == "none" and arg:
            return self.err(f"{verb} takes no argument")
        if command.arg == "required" and not arg.strip():
            return self.err(f"usage: {command.help}")
        try:
            return getattr(self, f"pop_{verb}")(arg)
        except Exception:  # a bug must cost this command, never the server
            self.log.exception("%s failed for %s", verb, self.peer)
            return self.err(f"[SYS/TEMP] internal error in {verb}")

    def message_number(self, arg: str) -> int | None:
        """The message number in arg if it names a message that exists and is not deleted."""
        word = arg.split(" ")[0]
        if not word.isdigit() or not self.maildrop.exists(int(word)):
            return None
        return int(word)

    # -- AUTHORIZATION state -------------------------------------------

    def plaintext_refused(self) -> bool:
        """On a public address, passwords are only accepted over TLS."""
        return self.service.ctx.public and not self.tls

    def pop_USER(self, arg: str) -> bytes:
        if self.plaintext_refused():
            return self.err("[AUTH] use STLS (or the POP3S port) before logging in")
        self.user = arg.strip()
        return self.ok(f"send PASS for {self.user}")

    def pop_PASS(self, arg: str) -> bytes:
        if self.user is None:
            return self.err("send USER first")
        user, self.user = self.user, None
        password = config.ACCOUNTS.get(user.lower())
        if password is None or not hmac.compare_digest(password.encode(), arg.encode()):
            self.log.info("POP3 login failed for %r from %s", user, self.peer)
            return self.err("[AUTH] invalid user name or password")
        return self.login(user.lower())

    def pop_APOP(self, arg: str) -> bytes:
        if self.plaintext_refused():
            return self.err("[AUTH] use STLS (or the POP3S port) before logging in")
        name, _, digest = arg.strip().partition(" ")
        password = config.ACCOUNTS.get(name.lower())
        expected = hashlib.md5((self.banner + (password or "")).encode()).hexdigest()
        if password is None or not hmac.compare_digest(expected, digest.strip().lower()):
            return self.err("[AUTH] invalid user name or digest")
        return self.login(name.lower())

    def login(self, user: str) -> bytes:
        if user in self.service.locked:
            return self.err("[IN-USE] the maildrop is already open in another session")
        self.service.locked.add(user)
        self.user = user
        try:
            self.maildrop = Maildrop(self.service.data_dir, user, self.service.sizes.setdefault(user, {}))
        except OSError:
            self.service.locked.discard(user)
            self.log.exception("cannot open the maildrop of %s", user)
            return self.err("[SYS/TEMP] cannot open the maildrop")
        self.state = TRANSACTION
        count, octets = self.maildrop.stat()
        return self.ok(f"{user} has {count} messages ({octets} octets)")

    def pop_STLS(self, arg: str) -> bytes:
        if self.tls:
            return self.err("already using TLS")
        self.upgrading = True
        self.transport.pause_reading()  # the next bytes are the TLS handshake, not commands
        self.upgrade = asyncio.get_running_loop().create_task(self.start_tls())
        return self.ok("begin TLS negotiation")

    async def start_tls(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.transport = await loop.start_tls(self.transport, self, self.service.ssl_context,
                                                  server_side=True, ssl_handshake_timeout=30)
        except (OSError, asyncio.TimeoutError, ConnectionError) as exc:
            self.log.info("STLS handshake with %s failed: %s", self.peer, exc)
            if self.transport is not None:
                self.transport.close()
            return
        self.tls, self.upgrading = True, False
        self.user = None  # RFC 2595: forget everything learned before TLS
        self.data_received(b"")  # commands that arrived during the handshake

    def pop_CAPA(self, arg: str) -> bytes:
        caps = ["TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER"]
        if not self.tls and self.state == AUTHORIZATION:
            caps.append("STLS")
        caps.append("IMPLEMENTATION python-internet-course")
        return self.ok("capability list follows", "".join(f"{c}\r\n" for c in caps).encode())

    def pop_QUIT(self, arg: str) -> bytes:
        reply = self.ok(f"{HOSTNAME} POP3 server signing off")
        if self.state == TRANSACTION:
            failed = self.maildrop.expunge()  # the UPDATE state
            removed = len(self.maildrop.deleted) - failed
            left = len(self.maildrop.keys) - removed
            if removed:
                self.log.info("%s: removed %d message(s)", self.user, removed)
            reply = (self.err(f"[SYS/TEMP] {failed} message(s) could not be removed") if failed
                     else self.ok(f"{HOSTNAME} POP3 server signing off ({left} messages left)"))
            self.release()
        self.send(reply)
        self.transport.close()  # after the reply: close() sends what is buffered first
        return b""

    # -- TRANSACTION state -----------------------------------------------

    def pop_STAT(self, arg: str) -> bytes:
        count, octets = self.maildrop.stat()
        return self.ok(f"{count} {octets}")

    def pop_LIST(self, arg: str) -> bytes:
        if arg.strip():
            n = self.message_number(arg)
            return self.err("no such message") if n is None else self.ok(f"{n} {self.maildrop.size(n)}")
        count, octets = self.maildrop.stat()
        lines = "".join(f"{n} {self.maildrop.size(n)}\r\n" for n in self.maildrop.numbers())
        return self.ok(f"{count} messages ({octets} octets)", lines.encode())

    def pop_UIDL(self, arg: str) -> bytes:
        if arg.strip():
            n = self.message_number(arg)
            return self.err("no such message") if n is None else self.ok(f"{n} {self.maildrop.uid(n)}")
        lines = "".join(f"{n} {self.maildrop.uid(n)}\r\n" for n in self.maildrop.numbers())
        return self.ok("unique-id listing follows", lines.encode())

    def pop_RETR(self, arg: str) -> bytes:
        n = self.message_number(arg)
        if n is None:
            return self.err("no such message")
        try:
            wire = self.maildrop.wire(n)
        except KeyError:
            return self.err("message was removed by another client")
        return self.ok(f"{len(wire)} octets", dot_stuff(wire))

    def pop_TOP(self, arg: str) -> bytes:
        words = arg.split()
        if len(words) != 2 or not words[1].isdigit():
            return self.err(f"usage: {COMMANDS['TOP'].help}")
        n = self.message_number(words[0])
        if n is None:
            return self.err("no such message")
        try:
            wire = self.maildrop.wire(n)
        except KeyError:
            return self.err("message was removed by another client")
        head, sep, body = wire.partition(b"\r\n\r\n")
        if not sep:  # no body at all
            top = wire
        else:
            lines = body.split(b"\r\n")[:-1][:int(words[1])]
            top = head + b"\r\n\r\n" + b"".join(line + b"\r\n" for line in lines)
        return self.ok("top of message follows", dot_stuff(top))

    def pop_DELE(self, arg: str) -> bytes:
        word = arg.split(" ")[0]
        if word.isdigit() and int(word) in self.maildrop.deleted:
            return self.err(f"message {word} already deleted")
        n = self.message_number(arg)
        if n is None:
            return self.err("no such message")
        self.maildrop.deleted.add(n)
        return self.ok(f"message {n} deleted")

    def pop_RSET(self, arg: str) -> bytes:
        self.maildrop.deleted.clear()
        count, octets = self.maildrop.stat()
        return self.ok(f"maildrop has {count} messages ({octets} octets)")

    def pop_NOOP(self, arg: str) -> bytes:
        return self.ok()


class POP3Service(MailService):
    """POP3 on "pop3" (with STLS) and "pop3s" (implicit TLS), reading the mail store's INBOXes."""

    name = "pop3"
    listeners = ("pop3", "pop3s")
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.locked: set[str] = set()  # users with an open maildrop
        self.sizes: dict[str, dict[str, int]] = {}  # user -> {key: size on the wire}, so LIST needs no reading
        self.idle_timeout = float(self.ctx.options.get("pop3_idle_timeout", IDLE_TIMEOUT))
        self.ssl_context = self.ctx.server_ssl_context()
        plain_sock, tls_sock = listen(self.ctx, "pop3"), listen(self.ctx, "pop3s")
        self.servers = [
            await loop.create_server(lambda: POP3Session(self, tls=False), sock=plain_sock),
            await loop.create_server(lambda: POP3Session(self, tls=True), sock=tls_sock,
                                     ssl=self.ssl_context, ssl_handshake_timeout=30),
        ]
        self.port, self.tls_port = plain_sock.getsockname()[1], tls_sock.getsockname()[1]

    async def stop(self) -> None:
        await close_servers(self.servers)

    def extra_info(self) -> dict:
        return {"apop": True}
