"""POP3 (RFC 1939) with CAPA (RFC 2449) and STLS (RFC 2595), plus POP3 over implicit TLS.

A POP3 session moves through three states (RFC 1939 section 3):

    AUTHORIZATION --USER/PASS or APOP--> TRANSACTION --QUIT--> UPDATE
                                          (STAT LIST RETR TOP UIDL DELE RSET NOOP)

Maildrop is the store side: a numbered snapshot of the user's INBOX taken at
login (the Maildir's new/ and cur/, in arrival order). DELE only marks a
message; the marked messages are removed when the client QUITs (the UPDATE
state), so a dropped connection deletes nothing. While a session holds a
maildrop, a second login to it gets ``-ERR [IN-USE]``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import os
import time
from functools import partialmethod

from .. import config
from . import mailstore
from ..engine import Command, LineService, LineSession, dot_stuff
from .mail_service import MailService
from ..service import Option
from ..wire import profiles

AUTHORIZATION, TRANSACTION = "AUTHORIZATION", "TRANSACTION"
IDLE_TIMEOUT = 600.0  # RFC 1939: an autologout timer of at least 10 minutes
HOSTNAME = f"mail.{config.MAIL_DOMAIN}"
#: RETR and TOP of a message bigger than this run in a thread (see in_thread_if_big()).
BIG_MESSAGE = 256 * 1024
#: A maildrop of at most this many files is numbered on the loop (open_without_stalling()): at most
#: ~1 ms with every size known, ~5 ms if none is (each message read once; measured, 2-core machine).
SMALL_MAILDROP = 200


#: RFC 1939's arguments: a message number; TOP's line count. At most 9 digits, so
#: "TOP 1 99999999999999999999" gets -ERR, as any number a maildrop cannot have.
MSG = r"[1-9]\d{0,8}"
NAME = r"[\x21-\x7e]{1,64}"  # a user name: printable, no spaces
COMMANDS: dict[str, Command] = {
    "USER": Command("name", "the mailbox to open", NAME, (AUTHORIZATION,)),
    "PASS": Command("password", "after USER, the password", r"[^\r\n]{1,200}", (AUTHORIZATION,)),
    "APOP": Command("name digest", "MD5 of the greeting's <timestamp> and the password", rf"{NAME} [0-9a-f]{{32}}",
                    (AUTHORIZATION,)),
    "STLS": Command("", "switch this connection to TLS before logging in", "", (AUTHORIZATION,)),
    "CAPA": Command("", "list the server's capabilities"),  # no states: valid in every state
    "QUIT": Command("", "end the session (and remove the messages marked with DELE)"),
    "STAT": Command("", "number of messages and their total size", "", (TRANSACTION,)),
    "LIST": Command("[msg]", "size of each message (or of one)", f"(?:{MSG})?", (TRANSACTION,)),
    "RETR": Command("msg", "the whole message", MSG, (TRANSACTION,)),
    "TOP": Command("msg n", "the headers and the first n body lines", rf"{MSG} \d{{1,9}}", (TRANSACTION,)),
    "UIDL": Command("[msg]", "the unique id of each message (or of one)", f"(?:{MSG})?", (TRANSACTION,)),
    "DELE": Command("msg", "mark a message for deletion at QUIT", MSG, (TRANSACTION,)),
    "RSET": Command("", "unmark every message marked with DELE", "", (TRANSACTION,)),
    "NOOP": Command("", "do nothing, say +OK", "", (TRANSACTION,)),
}


def to_wire(data: bytes) -> bytes:
    """A stored message (LF line endings) as it is sent: CRLF line endings, ending in CRLF."""
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if not data or data.endswith(b"\r\n") else data + b"\r\n"


def more_files_than(maildir, limit: int) -> bool:
    """Whether a Maildir's new/ and cur/ hold more than `limit` entries; counts no further than that."""
    count = 0
    for sub in ("new", "cur"):
        with contextlib.suppress(FileNotFoundError), os.scandir(os.path.join(maildir, sub)) as entries:
            count += sum(1 for _ in itertools.islice(entries, limit + 1 - count))
    return count > limit


class Maildrop:
    """One user's INBOX as a POP3 session sees it: numbered 1..n at login, deletions applied at QUIT."""

    def __init__(self, mail_dir, user: str, known_sizes: dict[str, int],
                 entries: list[mailstore.Entry] | None = None):
        """known_sizes: key -> size on the wire, from earlier sessions (a message never changes);
        entries: the INBOX's mailstore.messages(), if listed already."""
        self.box = mailstore.open_box(mail_dir, user, create=True)
        self.entries: list[mailstore.Entry] = []  # message n is entries[n - 1], its file as listed (see read())
        self.sizes: list[int] = []
        if entries is None:
            entries = mailstore.messages(mailstore.user_dir(mail_dir, user))
        for entry in entries:
            try:  # the size known from an earlier session, else the message read and converted
                self.sizes.append(known_sizes.get(entry.key) or len(to_wire(self.read(entry))))
            except (KeyError, OSError):  # removed by an IMAP client meanwhile
                continue
            self.entries.append(entry)
        known_sizes.clear()  # keep only what is still there
        known_sizes.update(zip((entry.key for entry in self.entries), self.sizes))
        self.deleted: set[int] = set()

    def numbers(self) -> list[int]:
        """The message numbers not marked as deleted."""
        return [n for n in range(1, len(self.entries) + 1) if n not in self.deleted]

    def size(self, n: int) -> int:
        return self.sizes[n - 1]

    def uid(self, n: int) -> str:
        """Message n's UIDL: its Maildir key, which RFC 1939 allows if it is 1-70 printable characters."""
        key = self.entries[n - 1].key
        if 0 < len(key) <= 70 and all(0x21 <= ord(c) <= 0x7E for c in key):
            return key
        return hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()

    def stat(self) -> tuple[int, int]:
        numbers = self.numbers()
        return len(numbers), sum(self.size(n) for n in numbers)

    def read(self, entry: mailstore.Entry) -> bytes:
        """A message's octets: the file listed at login, or the one its key names since IMAP renamed it (KeyError
        if gone). Not the box's look-up first: that lists the maildrop again (0.15 ms per 40 messages), locked."""
        try:
            return entry.path.read_bytes()
        except FileNotFoundError:
            return self.box.get_bytes(entry.key)

    def expunge(self) -> int:
        """The UPDATE state: remove the marked messages; return how many could not be removed."""
        failed = 0
        for n in sorted(self.deleted):
            try:
                self.box.remove(self.entries[n - 1].key)
            except KeyError:
                pass  # already gone (an IMAP client expunged it): the goal is reached
            except OSError:
                failed += 1
        return failed


class POP3Session(LineSession):
    """One client connection: the engine (engine/line.py) checks each line against COMMANDS (the protocol at a
    glance: arguments, help, states) and calls cmd_<CMD>, which returns the whole reply."""

    commands = COMMANDS
    max_line = 255  # RFC 2449: a command line is at most 255 octets, CRLF included
    encoding = "ascii"
    _ids = itertools.count(1)

    def __init__(self, service: "POP3Service", tls: bool):
        super().__init__(service, tls)
        self.state = AUTHORIZATION
        self.user: str | None = None
        self.maildrop: Maildrop | None = None
        self.banner = f"<{os.getpid()}.{next(self._ids)}.{int(time.time())}@{HOSTNAME}>"
        self.profile = profiles.for_service(service)  # a provider's rules (wire/profiles.py), or None

    def greeting(self) -> bytes:
        return self.ok(f"POP3 server ready {self.banner}")

    def error(self, kind: str, verb: str = "", syntax: str = "", limit: int = 0) -> bytes:
        return self.err({
            "too_long": f"line too long (at most {limit} octets)",
            "not_text": "commands are printable ASCII text",
            "empty": "empty command; CAPA lists what this server can do",
            "unknown": f"unknown command {verb!r}; CAPA lists what this server can do",
            "state": f"{verb} is not valid in the {self.state} state",
            "syntax": f"usage: {verb} {syntax}".rstrip(),
            "internal": f"[SYS/TEMP] internal error in {verb}",
            "busy": "[SYS/TEMP] too many connections, try again later",
            "idle": "autologout: idle for too long",
        }[kind])

    def closed(self) -> None:
        # No UPDATE state without QUIT: marked messages stay (RFC 1939 section 6).
        if self.maildrop is not None:
            self.service.locked.discard(self.user)
            self.maildrop = None

    # -- replies ---------------------------------------------------------

    @staticmethod
    def ok(text: str = "", data: bytes | None = None) -> bytes:
        """+OK and, for a multi-line reply, the data (CRLF lines), dot-stuffed, and the final "."."""
        return f"+OK {text}".rstrip().encode() + b"\r\n" + (b"" if data is None else dot_stuff(data))

    @staticmethod
    def err(text: str) -> bytes:
        return f"-ERR {text}\r\n".encode()

    def message_number(self, arg: str) -> int | None:
        """The message number arg names if that message exists and is not deleted (the grammar checked arg)."""
        n = int(arg.split(" ")[0])
        return n if 1 <= n <= len(self.maildrop.entries) and n not in self.maildrop.deleted else None

    # -- AUTHORIZATION state -------------------------------------------

    def refused(self) -> bytes | None:
        profile_wants_tls = self.profile is not None and self.profile.tls_only and not self.tls
        if not self.service.ctx.passwords_allowed(self.tls) or profile_wants_tls:
            return self.err("[AUTH] use STLS (or the POP3S port) before logging in")
        return None

    def cmd_USER(self, arg: str) -> bytes:
        if refused := self.refused():
            return refused
        self.user = arg
        return self.ok(f"send PASS for {self.user}")

    def cmd_PASS(self, arg: str) -> bytes:
        if self.user is None:
            return self.err("send USER first")
        user, self.user = self.user, None
        name, verdict = profiles.check_login(self.profile, self.service.ctx.data_dir.parent, user, arg)
        if name is None:
            self.log.info("POP3 login failed for %r from %s", user, self.peer)
            return self.err("[AUTH] invalid user name or password" if self.profile is None
                            else self.profile.reply("pop3", verdict))
        return self.login(name)

    def cmd_APOP(self, arg: str) -> bytes:
        name, _, digest = arg.partition(" ")
        password = config.ACCOUNTS.get(name.lower())
        expected = hashlib.md5((self.banner + (password or "")).encode()).hexdigest()
        if password is None or not hmac.compare_digest(expected, digest.lower()):
            return self.refused() or self.err("[AUTH] invalid user name or digest")
        if self.profile is not None:  # the providers offer no APOP: it needs the account's own password
            return self.refused() or self.err(self.profile.reply("pop3", profiles.REFUSED))
        return self.refused() or self.login(name.lower())

    def login(self, user: str):
        if user in self.service.locked:
            return self.err("[IN-USE] the maildrop is already open in another session")
        self.service.locked.add(user)
        self.user = user
        self.transcript.login(user)
        return self.open_without_stalling(user)

    def open_without_stalling(self, user: str):
        """open_maildrop() here and now if numbering the maildrop is little work, else in a worker thread.

        Numbering lists the files and reads the messages whose size is not known yet. A big maildrop goes
        to a thread, so that the other sessions and services go on (decision 0005). A small one (at most
        SMALL_MAILDROP files, BIG_MESSAGE octets to read) does not: a thread and back costs more than the
        work, under load several ms, with the maildrop locked (bench/README.md, "POP3: the maildrop lock").
        """
        path = mailstore.user_dir(self.service.data_dir, user)
        try:
            entries = None if more_files_than(path, SMALL_MAILDROP) else mailstore.messages(path)
        except OSError:  # let the thread meet it again and answer it
            entries = None
        known = self.service.sizes.get(user, {})
        if entries is None or sum(entry.size for entry in entries if entry.key not in known) > BIG_MESSAGE:
            return self.in_thread(self.open_maildrop, user)
        return self.open_maildrop(user, entries)

    def open_maildrop(self, user: str, entries: list[mailstore.Entry] | None = None) -> bytes:
        try:
            maildrop = Maildrop(self.service.data_dir, user, self.service.sizes.setdefault(user, {}), entries)
        except OSError:
            self.service.locked.discard(user)
            self.log.exception("cannot open the maildrop of %s", user)
            return self.err("[SYS/TEMP] cannot open the maildrop")
        self.maildrop, self.state = maildrop, TRANSACTION
        if self.transport is None:  # the client left while we were reading: release at once
            self.closed()
        count, octets = maildrop.stat()
        return self.ok(f"{user} has {count} messages ({octets} octets)")

    def cmd_STLS(self, arg: str) -> None:
        if self.tls:
            return self.err("already using TLS")
        self.user = None  # RFC 2595: forget everything learned before TLS (no command runs until it is up)
        self.start_tls(self.ok("begin TLS negotiation"))

    def cmd_CAPA(self, arg: str) -> bytes:
        caps = ["TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER"]
        if not self.tls and self.state == AUTHORIZATION:
            caps.append("STLS")
        caps.append("IMPLEMENTATION python-internet-course")
        return self.ok("capability list follows", "".join(f"{c}\r\n" for c in caps).encode())

    def cmd_QUIT(self, arg: str) -> None:
        reply = self.ok(f"{HOSTNAME} POP3 server signing off")
        if self.state == TRANSACTION:
            failed = self.maildrop.expunge()  # the UPDATE state
            removed = len(self.maildrop.deleted) - failed
            left = len(self.maildrop.entries) - removed
            if removed:
                self.log.info("%s: removed %d message(s)", self.user, removed)
            reply = (self.err(f"[SYS/TEMP] {failed} message(s) could not be removed") if failed
                     else self.ok(f"{HOSTNAME} POP3 server signing off ({left} messages left)"))
            self.closed()
        self.close(reply)

    # -- TRANSACTION state -----------------------------------------------

    def cmd_STAT(self, arg: str) -> bytes:
        count, octets = self.maildrop.stat()
        return self.ok(f"{count} {octets}")

    def cmd_LIST(self, arg: str) -> bytes:
        if arg:
            n = self.message_number(arg)
            return self.err("no such message") if n is None else self.ok(f"{n} {self.maildrop.size(n)}")
        count, octets = self.maildrop.stat()
        lines = "".join(f"{n} {self.maildrop.size(n)}\r\n" for n in self.maildrop.numbers())
        return self.ok(f"{count} messages ({octets} octets)", lines.encode())

    def cmd_UIDL(self, arg: str) -> bytes:
        if arg:
            n = self.message_number(arg)
            return self.err("no such message") if n is None else self.ok(f"{n} {self.maildrop.uid(n)}")
        lines = "".join(f"{n} {self.maildrop.uid(n)}\r\n" for n in self.maildrop.numbers())
        return self.ok("unique-id listing follows", lines.encode())

    def wire(self, arg: str) -> bytes:
        """The message arg names, on the wire; an -ERR reply (bytes starting with "-") if none."""
        n = self.message_number(arg)
        if n is None:
            return self.err("no such message")
        try:
            return to_wire(self.maildrop.read(self.maildrop.entries[n - 1]))
        except KeyError:
            return self.err("message was removed by another client")

    def in_thread_if_big(self, arg: str, reply):
        """reply(self, arg) now, or in a thread for a big message (reading and converting it takes a while)."""
        n = self.message_number(arg)
        if n is not None and self.maildrop.size(n) > BIG_MESSAGE:
            return self.in_thread(reply, self, arg)
        return reply(self, arg)

    def retr(self, arg: str) -> bytes:
        wire = self.wire(arg)
        return wire if wire.startswith(b"-ERR") else self.ok(f"{len(wire)} octets", wire)

    cmd_RETR = partialmethod(in_thread_if_big, reply=retr)

    def top(self, arg: str) -> bytes:
        wire = self.wire(arg)
        if wire.startswith(b"-ERR"):
            return wire
        head, sep, body = wire.partition(b"\r\n\r\n")
        if sep:  # the headers, the empty line, and the first n lines of the body
            lines = body.split(b"\r\n")[:-1][:int(arg.split(" ")[1])]
            wire = head + sep + b"".join(line + b"\r\n" for line in lines)
        return self.ok("top of message follows", wire)

    cmd_TOP = partialmethod(in_thread_if_big, reply=top)

    def cmd_DELE(self, arg: str) -> bytes:
        if int(arg) in self.maildrop.deleted:
            return self.err(f"message {arg} already deleted")
        if (n := self.message_number(arg)) is None:
            return self.err("no such message")
        self.maildrop.deleted.add(n)
        return self.ok(f"message {n} deleted")

    def cmd_RSET(self, arg: str) -> bytes:
        self.maildrop.deleted.clear()
        count, octets = self.maildrop.stat()
        return self.ok(f"maildrop has {count} messages ({octets} octets)")

    def cmd_NOOP(self, arg: str) -> bytes:
        return self.ok()


class POP3Service(LineService, MailService):
    """POP3 on "pop3" (with STLS) and "pop3s" (implicit TLS), reading the mail store's INBOXes."""

    name = "pop3"
    listeners = ("pop3", "pop3s")
    session = POP3Session
    options = {**LineService.options, "idle_timeout": Option(float, IDLE_TIMEOUT, "RFC 1939's autologout timer")}

    def opened(self) -> None:
        self.locked: set[str] = set()  # users with an open maildrop
        self.sizes: dict[str, dict[str, int]] = {}  # user -> {key: size on the wire}, so LIST needs no reading

    def extra_info(self) -> dict:
        return {**super().extra_info(), "apop": True}
