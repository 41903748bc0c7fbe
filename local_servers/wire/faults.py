"""The fault table: servers that say no, on purpose, so that lessons can practise handling it.

A fault is one row of ``<state dir>/wire/faults.json``: which service (or
"*"), which account (or everyone), which stage (an SMTP stage such as RCPT,
a command such as RETR or FETCH, or "connect"), for how many hits or until
when, and what happens:

- ``reply``: a chosen reply instead of the real one (SMTP 451, POP3 -ERR,
  IMAP NO, FTP 550, NNTP 441...); the codes that end a session by their
  RFC (SMTP and FTP 421, NNTP 400) close the connection after it;
- ``greylist``: SMTP only: the first attempt of each (client, sender,
  recipient) is refused with 451 4.7.1, a later one (after ``delay``
  seconds, or the next) is accepted, as greylisting MTAs do;
- ``delay``: wait ``delay`` seconds before answering;
- ``drop``: close the connection after ``after_bytes`` octets (of the reply,
  the FTP download or, for SMTP DATA, of the message the client sends);
- ``silent``: read, never answer: the client's timeout has to fire;
- ``cert``: new TLS handshakes get a certificate that fails verification
  (``expired`` or ``wrong-host``), signed by the course's CA.

Clients (the command line, ``servers.fault(...)``) write the table with
add() and clear(), atomically and under a lock; the server process re-reads
it when it changes (Table below: a stat on each new connection, and at most
every RELOAD_SECONDS for commands), and counts what fired in a file of its
own (faults-fired.json), so that each file has one writer. What happens on
the wire when a fault fires is in fault_hooks.py.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..files import read_json, write_atomically

log = logging.getLogger("local_servers.faults")

#: How stale the server's copy of the table may be for a command on an open connection.
RELOAD_SECONDS = 0.1
#: How many greylisting triples the server remembers (oldest forgotten first).
GREYLIST_MEMORY = 10_000

KINDS = ("reply", "greylist", "delay", "drop", "silent", "cert")

#: The replies each service can be told to give, with the text a server of that kind sends.
REPLIES: dict[str, dict[str, str]] = {
    "smtp": {
        "421": "4.3.2 Service not available, closing transmission channel",
        "450": "4.2.1 Mailbox busy, try again later",
        "451": "4.3.0 Local error in processing, try again later",
        "452": "4.3.1 Insufficient system storage, try again later",
        "550": "5.7.1 Requested action not taken: mailbox unavailable",
        "552": "5.2.2 Mailbox full: exceeded storage allocation",
    },
    "pop3": {"-ERR": "[SYS/TEMP] temporary failure, try again later"},
    "imap": {"NO": "[UNAVAILABLE] temporary failure, try again later", "BAD": "command refused"},
    "ftp": {
        "421": "Service not available, closing control connection.",
        "425": "Can't open data connection.",
        "426": "Connection closed; transfer aborted.",
        "450": "Requested file action not taken: file busy.",
        "452": "Requested action not taken: insufficient storage space.",
        "550": "Requested action not taken: file unavailable.",
    },
    "nntp": {"400": "Service temporarily unavailable", "441": "Posting failed"},
}
#: Replies after which the server closes the connection (RFC 5321 3.8, RFC 959 4.2, RFC 3977 5.1).
CLOSING = {"smtp": {"421"}, "ftp": {"421"}, "nntp": {"400"}}

#: The services each kind of fault applies to.
SERVICES_OF = {
    "reply": tuple(REPLIES),
    "greylist": ("smtp",),
    "delay": ("smtp", "pop3", "imap", "nntp", "ftp"),
    "drop": ("smtp", "pop3", "imap", "nntp", "ftp"),
    "silent": ("smtp", "pop3", "imap", "nntp", "ftp"),
    "cert": ("smtp", "pop3", "imap", "nntp", "ftp", "http"),
}
SERVICES = ("smtp", "pop3", "imap", "nntp", "ftp", "http")
#: SMTP's stages: the greeting, the envelope commands, the DATA command and the end of the data.
SMTP_STAGES = ("connect", "MAIL", "RCPT", "DATA", "EOD")
CERTS = ("expired", "wrong-host")


class FaultError(ValueError):
    """A fault that cannot be: the message names the choices."""


@dataclass(frozen=True)
class Fault:
    """One row of the fault table."""

    id: str
    service: str  # a service name or "*"
    kind: str
    stage: str | None = None  # None: any command (not the greeting)
    account: str | None = None  # None: every connection
    code: str | None = None  # reply
    text: str | None = None  # reply: the text after the code (default: REPLIES)
    count: int | None = None  # hits before it is spent (None: until cleared or `until`)
    until: float | None = None  # a time.time() after which it is spent
    delay: float = 0.0  # delay: seconds; greylist: seconds before a retry is accepted
    after_bytes: int = 0  # drop
    cert: str | None = None  # cert: "expired" or "wrong-host"
    created: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Fault":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def reply(self, service: str) -> str:
        """The reply line (without CRLF or IMAP's tag) this fault sends on `service`."""
        return f"{self.code} {self.text or REPLIES[service][self.code]}"

    def closes(self, service: str) -> bool:
        return self.kind == "reply" and self.code in CLOSING.get(service, ())

    def matches(self, service: str, stage: str, users=()) -> bool:
        """Whether this fault hits `stage` ("connect", "tls", an SMTP stage or a command verb)."""
        if self.service not in ("*", service) or service not in SERVICES_OF[self.kind]:
            return False
        if self.kind == "cert":
            return stage == "tls"
        if stage == "tls":
            return False
        if self.stage is None:
            if stage == "connect":
                return False
        elif stage != self.stage and stage.rsplit(" ", 1)[-1] != self.stage:  # FETCH hits UID FETCH too
            return False
        return self.account is None or self.account in ((users,) if isinstance(users, str) else users or ())

    def describe(self) -> str:
        """One line for people: `fault list`, the log, the transcript's note."""
        what = {"reply": lambda: f"reply {self.code}", "greylist": lambda: "greylisting",
                "delay": lambda: f"delay {self.delay:g} s", "drop": lambda: f"drop after {self.after_bytes} bytes",
                "silent": lambda: "no replies", "cert": lambda: f"{self.cert} certificate"}[self.kind]()
        where = f"{self.service}" + (f" at {self.stage}" if self.stage else "") + \
            (f" for {self.account}" if self.account else "")
        limit = (f", {self.count} time(s)" if self.count else "") + \
            (f", until {time.strftime('%H:%M:%S', time.localtime(self.until))}" if self.until else "")
        return f"{what} on {where}{limit}"


# -- checking what a client asks for ---------------------------------------------


def _choice(what: str, value, choices) -> None:
    if value not in choices:
        raise FaultError(f"{what} {value!r} is not one of: {', '.join(map(str, choices))}")


def make(service: str, kind: str = "reply", *, code=None, text: str | None = None, stage: str | None = None,
         account: str | None = None, count: int | None = None, seconds: float | None = None,
         delay: float | None = None, after_bytes: int | None = None, cert: str | None = None) -> Fault:
    """A checked Fault; FaultError (a ValueError) names the choices when an argument cannot be."""
    _choice("kind", kind, KINDS)
    service = str(service).lower()
    _choice(f"a {kind} fault's service", service, ("*",) + SERVICES_OF[kind] if kind != "reply"
            else SERVICES_OF[kind])
    if stage is not None:
        stage = str(stage)
        stage = "connect" if stage.lower() == "connect" else stage.upper()
        if service == "smtp":
            _choice("SMTP stage", stage, SMTP_STAGES)
    if kind == "reply":
        code = str(code).upper() if code is not None else None
        _choice(f"{service} reply code", code, tuple(REPLIES[service]))
        if service == "smtp" and stage is None:
            raise FaultError(f"an SMTP reply needs a stage, one of: {', '.join(SMTP_STAGES)}")
        if service == "imap" and stage == "connect":
            raise FaultError("IMAP has no tagged reply at connect; choose a command, e.g. stage='SELECT'")
    elif code is not None or text is not None:
        raise FaultError(f"code and text belong to a reply fault, not to a {kind} fault")
    if text is not None and (len(text) > 200 or any(c in text for c in "\r\n\0")):
        raise FaultError("text is one line of at most 200 characters (no CR, LF or NUL: it goes on the wire)")
    if kind == "greylist":
        if stage not in (None, "RCPT"):
            raise FaultError("greylisting refuses RCPT (stage 'RCPT')")
        stage = "RCPT"
    if kind == "drop" and service == "smtp" and stage not in (None, "DATA"):
        raise FaultError("an SMTP connection is dropped mid-DATA (stage 'DATA')")
    if kind == "drop" and service == "smtp":
        stage = "DATA"
    if kind == "cert":
        _choice("cert", cert, CERTS)
        if stage is not None or account is not None:
            raise FaultError("a certificate is chosen before anyone logs in: no stage, no account")
    elif cert is not None:
        raise FaultError("cert belongs to a cert fault")
    if account is not None:
        account = str(account).lower()
        if stage == "connect":
            raise FaultError("nobody has logged in at connect: no account with stage 'connect'")
    if delay is not None and (kind not in ("delay", "greylist") or delay < 0):
        raise FaultError("delay (seconds, at least 0) belongs to a delay or greylist fault")
    if kind == "delay" and not delay:
        raise FaultError("a delay fault needs delay=SECONDS (more than 0)")
    if after_bytes is not None and (kind != "drop" or int(after_bytes) < 0):
        raise FaultError("after_bytes (at least 0) belongs to a drop fault")
    if count is not None and int(count) < 1:
        raise FaultError("count is at least 1 (or None: until cleared)")
    if seconds is not None and seconds <= 0:
        raise FaultError("seconds is more than 0 (or None: until cleared)")
    now = time.time()
    return Fault(id=secrets.token_hex(3), service=service, kind=kind, stage=stage, account=account, code=code,
                 text=text, count=int(count) if count is not None else None,
                 until=now + seconds if seconds is not None else None, delay=float(delay or 0.0),
                 after_bytes=int(after_bytes or 0), cert=cert, created=now)


# -- the files --------------------------------------------------------------------


def wire_dir(state_dir) -> Path:
    return Path(state_dir) / "wire"


def table_file(state_dir) -> Path:
    return wire_dir(state_dir) / "faults.json"


def fired_file(state_dir) -> Path:
    return wire_dir(state_dir) / "faults-fired.json"


def _load(state_dir) -> list[Fault]:
    return [Fault.from_dict(row) for row in read_json(table_file(state_dir)).get("faults", [])]


def _live(faults: list[Fault], fired: dict, now: float) -> list[Fault]:
    return [f for f in faults if (f.count is None or fired.get(f.id, 0) < f.count)
            and (f.until is None or now < f.until)]


@contextlib.contextmanager
def _locked(state_dir):
    """One client at a time changes the table (a read, a change, an atomic write)."""
    folder = wire_dir(state_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(folder / "faults.lock", "a+") as lock:
        try:
            import fcntl
        except ImportError:  # Windows: clients rarely race; the write itself is atomic
            yield
            return
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(state_dir, faults: list[Fault]) -> None:
    write_atomically(table_file(state_dir), json.dumps({"faults": [f.to_dict() for f in faults]}, indent=1))


def active(state_dir) -> list[Fault]:
    """The faults in force (not spent, not expired), oldest first."""
    return _live(_load(state_dir), read_json(fired_file(state_dir)), time.time())


def add(state_dir, service: str, kind: str = "reply", **options) -> Fault:
    """Add a fault (see make() for the options) and return it once the server will see it."""
    fault = make(service, kind, **options)
    with _locked(state_dir):
        _write(state_dir, active(state_dir) + [fault])
    time.sleep(RELOAD_SECONDS * 1.5)  # every check that starts from now on sees it
    return fault


def clear(state_dir, fault_id: str | None = None) -> int:
    """Remove one fault (by id) or all of them; how many were in force."""
    with _locked(state_dir):
        now = active(state_dir)
        kept = [f for f in now if fault_id is not None and f.id != fault_id]
        _write(state_dir, kept)
    time.sleep(RELOAD_SECONDS * 1.5)
    return len(now) - len(kept)


# -- the server's side ----------------------------------------------------------------


class Table:
    """The server process's copy of the fault table, and what has fired.

    Used from the event loop and from the FTP server's thread, hence the lock.
    """

    def __init__(self, state_dir):
        self.state_dir = Path(state_dir)
        self.path = str(table_file(state_dir))  # a str: os.stat of a Path costs more than the stat
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.by_service: dict[str, list[Fault]] = {}  # the faults that can hit each service
        self.fired: dict[str, int] = {}
        self.signature = None
        self.checked = 0.0
        self.greylist: collections.OrderedDict = collections.OrderedDict()
        self.bad_contexts: dict = {}

    def refresh(self, force: bool = False) -> None:
        """Re-read the table if its file changed (a stat; at most every RELOAD_SECONDS unless forced)."""
        now = time.monotonic()
        if not force and now - self.checked < RELOAD_SECONDS:
            return
        self.checked = now
        try:
            stat = os.stat(self.path)
            signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except OSError:
            signature = None
        if signature != self.signature:
            faults = _load(self.state_dir)
            by_service = {name: [f for f in faults if f.service in ("*", name)] for name in SERVICES}
            with self.lock:
                self.signature, self.faults, self.by_service = signature, faults, by_service
            log.info("fault table: %d fault(s) in force", len(faults))

    def quiet(self, service: str) -> bool:
        """True when no fault can hit `service`: the hooks' fast path, a clock read and a look-up."""
        if time.monotonic() - self.checked >= RELOAD_SECONDS:
            self.refresh(force=True)
        return not self.by_service.get(service)

    def find(self, service: str, stage: str, users=(), kinds=KINDS) -> Fault | None:
        """The first fault in force that hits this stage (nothing is counted yet: see fire())."""
        if self.quiet(service):
            return None
        now = time.time()
        with self.lock:
            for fault in self.by_service[service]:
                if fault.kind in kinds and fault.matches(service, stage, users) \
                        and (fault.count is None or self.fired.get(fault.id, 0) < fault.count) \
                        and (fault.until is None or now < fault.until):
                    return fault
        return None

    def fire(self, fault: Fault, service: str, connection=None, peer=None, detail: str = "") -> None:
        """Count a hit, log it, and note it in the connection's transcript (if it has one)."""
        with self.lock:  # the write too: a stale count written last would revive a spent fault
            self.fired[fault.id] = self.fired.get(fault.id, 0) + 1
            if fault.count is not None:
                write_atomically(fired_file(self.state_dir), json.dumps(self.fired))
        note = f"fault {fault.id}: {fault.describe()}" + (f" ({detail})" if detail else "")
        log.info("%s: %s for %s", service, note, peer)
        transcript = getattr(connection, "transcript", None)
        if transcript is not None:
            transcript.note(note)

    def greylisted(self, fault: Fault, triple: tuple) -> bool:
        """Greylisting: True (refuse) the first time a triple is seen and until fault.delay has passed.

        Triples are remembered per fault: a new greylisting fault starts with nobody known.
        """
        now = time.monotonic()
        triple = (fault.id, *triple)
        with self.lock:
            first = self.greylist.get(triple)
            if first is None:
                self.greylist[triple] = now
                while len(self.greylist) > GREYLIST_MEMORY:
                    self.greylist.popitem(last=False)
                return True
            return now - first < fault.delay


#: The server process's table (start() sets it; None in a process that serves nothing).
TABLE: Table | None = None


def start(state_dir) -> Table:
    """In the server process: a fresh table (a restart clears every fault) that the hooks consult."""
    global TABLE
    folder = wire_dir(state_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (table_file(state_dir), fired_file(state_dir)):
        path.unlink(missing_ok=True)
    TABLE = Table(state_dir)
    return TABLE
