"""Transcripts: every connection's dialogue, as Wireshark's "Follow TCP Stream" shows it.

The server process gives each connection a Transcript (``service.transcript``)
and calls it at the one place where each protocol reads a command and writes a
reply: ``client(data)``, ``server(data)``, ``note(text)`` for an event of the
course itself ("TLS started", "fault: 451 injected"), ``login(user)`` and
``close()``. Readers in other processes (the CLI, a notebook, the inspector)
call ``sessions(state_dir, ...)``.

What is kept, and what is not:

- passwords and AUTH data are masked as they are recorded (USER/PASS, APOP's
  digest, IMAP LOGIN, every line of an AUTH/AUTHENTICATE exchange and its
  initial response, AUTHINFO PASS, HTTP Authorization and Cookie values):
  the secret never reaches the disk;
- one event keeps at most MAX_TEXT bytes of text, and says how many it left
  out; a session keeps MAX_EVENTS events and counts the rest;
- bodies are summarised where they are not the lesson: an FTP data
  connection is one note (direction, file, bytes, seconds, TLS), an HTTP body
  one line with its size, echo/time one line per direction;
- on disk: JSON lines under ``<state dir>/wire/transcripts/``, one record
  per event, appended as it happens (a reader sees a live session up to the
  last reply its client got), in files of at most FILE_SESSIONS sessions or
  FILE_BYTES bytes; only the newest KEEP_FILES files are kept (the oldest
  sessions are dropped whole). Nothing grows in memory with the number of
  sessions: a live session holds counters, not its events.

Records (each a JSON array on one line): ``["o", id, service, peer, started,
tls]`` opens a session, ``["e", id, t, who, text, size, tls, more]`` is one
event (``more``: it continues the previous one, as a multi-line SMTP reply or
a message's lines do), ``["u", id, user]`` a login, ``["x", id, ended,
dropped]`` the end.
"""

from __future__ import annotations

import html
import itertools
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Bytes of one event's text that are kept (a longer line says how many were left out).
MAX_TEXT = 2048
#: Events kept per session; later ones are only counted.
MAX_EVENTS = 300
#: Sessions and bytes per file before the next file is started.
FILE_SESSIONS = 500
FILE_BYTES = 4 * 1024 * 1024
#: Files kept: at most KEEP_FILES * FILE_SESSIONS sessions (3,000) and KEEP_FILES * FILE_BYTES on disk (24 MiB).
KEEP_FILES = 6

MASK = "****"
log = logging.getLogger("local_servers.transcripts")
FOLDER = "wire"


def folder(state_dir: Path | str) -> Path:
    """Where the transcripts of one state directory are."""
    return Path(state_dir) / FOLDER / "transcripts"


def on_off(value) -> bool:
    """The type of the ``transcripts`` option: on/off (also true/false, 1/0, yes/no)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise ValueError(value)


on_off.__name__ = "on/off"


# -- masking -----------------------------------------------------------------------

#: Commands whose argument is a secret: keep the verb (and the user name), mask the rest.
_SECRET_ARGUMENT = re.compile(r"(?i)^((?:\S+ )?(?:PASS|ACCT|AUTHINFO PASS) ).+$")
_APOP = re.compile(r"(?i)^(APOP \S+ ).+$")
_LOGIN = re.compile(r'(?i)^(\S+ LOGIN )(?:("(?:[^"\\]|\\.)*"|[^\s{"]+) )?(.*)$')
#: The start of an authentication exchange: mask the initial response, then every client line until the result.
_AUTH = re.compile(r"(?i)^((?:\S+ )?(?:AUTH|AUTHENTICATE|AUTHINFO SASL) \S+)( .*)?$")
#: The words that start a secret, as a command's first word or (after an IMAP tag) its second.
_SECRET_VERBS = frozenset({"PASS", "ACCT", "APOP", "AUTH", "AUTHENTICATE", "AUTHINFO", "LOGIN"})


_HTTP_SECRET = re.compile(r"(?im)^((?:proxy-)?authorization:[ \t]*(?:[A-Za-z0-9_-]+[ \t]+)?|cookie:[ \t]*)(\S.*?)(\r?)$")


def _continuation(reply: str) -> bool:
    """A server reply that asks the client for more of an exchange (IMAP/POP3 "+ ", SMTP 334, NNTP 383)."""
    return reply == "+" or reply.startswith(("+ ", "334", "383"))


class Masker:
    """Masks the secrets in what a client sends; one per connection (an AUTH exchange spans lines)."""

    secret = False  # inside an authentication exchange: every client line is a secret (set per instance)

    def client(self, text: str) -> str:
        if self.secret:
            return MASK if text else text
        # One quick test that the line may hold a secret at all (most lines do not): a set lookup of its
        # first two words, 0.3 µs, where a regex that allows a tag before the verb took 1.7 µs a line.
        words = text.split(" ", 2)
        if not (words[0].upper() in _SECRET_VERBS or (len(words) > 1 and words[1].upper() in _SECRET_VERBS)):
            return text
        if (match := _SECRET_ARGUMENT.match(text)) or (match := _APOP.match(text)):
            return match.group(1) + MASK
        if match := _AUTH.match(text):  # before LOGIN: SMTP's "AUTH LOGIN <user>" is an exchange, not IMAP's LOGIN
            self.secret = True
            return match.group(1) + (" " + MASK if match.group(2) else "")
        if match := _LOGIN.match(text):
            if match.group(2) is None or text.endswith("}"):  # a literal: its octets follow as lines of their own
                self.secret = text.endswith("}")
                return match.group(1) + MASK
            return f"{match.group(1)}{match.group(2)} {MASK}"
        return text

    def server(self, text: str) -> None:
        if self.secret and not _continuation(text):
            self.secret = False


class HTTPMasker(Masker):
    """HTTP: the values of Authorization, Proxy-Authorization and Cookie (the scheme stays)."""

    def client(self, text: str) -> str:
        lower = text.lower()
        if "authorization" not in lower and "cookie" not in lower:  # most requests: no regex
            return text
        return _HTTP_SECRET.sub(lambda m: m.group(1) + MASK + m.group(3), text)

    def server(self, text: str) -> None:
        pass


# -- recording (in the server process) ------------------------------------------------

class Store:
    """The rotating JSON-lines files of one state directory; every service's transcripts write here.

    Each write is one os.write() of whole lines to a file opened for appending,
    so the services' threads never interleave half lines.
    """

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        for mode_folder in (path.parent, path):
            os.chmod(mode_folder, 0o700)
        self.lock = threading.Lock()
        self.prefix = f"{int(time.time() * 1000):x}"  # ids stay unique across restarts
        self.ids = itertools.count(1)
        numbers = [_number(p) for p in path.glob("transcripts-*.jsonl")]
        self.number = max(numbers, default=0)
        self.fd = None
        self.failed = False  # a write failed (logged once)
        self._next_file()

    def _next_file(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.number += 1
        self.fd = os.open(self.path / f"transcripts-{self.number:08d}.jsonl",
                          os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o600)
        self.sessions = 0
        self.written = 0
        for old in sorted(self.path.glob("transcripts-*.jsonl"), key=_number)[:-KEEP_FILES]:
            old.unlink(missing_ok=True)

    def opened(self) -> None:
        """One more session: start the next file when this one is full."""
        with self.lock:
            if self.sessions >= FILE_SESSIONS or self.written >= FILE_BYTES:
                try:
                    self._next_file()
                except OSError as exc:
                    log.warning("transcripts: no new file in %s: %s", self.path, exc)
                    self.fd, self.failed = None, True
            self.sessions += 1

    def write(self, lines: str) -> None:
        """Append whole lines; a full or failing disk costs the transcript, never the session."""
        data = lines.encode("utf-8", "surrogateescape")
        self.lock.acquire()  # (not `with`: its special-method lookups cost more than the write's Python part)
        try:
            os.write(self.fd, data)
            self.written += len(data)
        except (OSError, TypeError) as exc:  # TypeError: closed (fd None) at shutdown
            if not self.failed:
                log.warning("transcripts not written to %s: %s", self.path, exc)
            self.failed = True
        finally:
            self.lock.release()

    def new_id(self) -> str:
        return f"{self.prefix}.{next(self.ids)}"

    def close(self) -> None:
        with self.lock:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


def _number(path: Path) -> int:
    try:
        return int(path.stem.rpartition("-")[2])
    except ValueError:
        return 0


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def store(state_dir: Path | str) -> Store:
    """The one Store of a state directory in this process."""
    path = folder(state_dir).resolve()
    with _stores_lock:
        if path not in _stores:
            _stores[path] = Store(path)
        return _stores[path]


_quote = json.encoder.encode_basestring  # a str as a JSON string, in C: the hot path of recording
_JSON = {True: "true", False: "false"}
_TAIL = {tls: f",{_JSON[tls]},false]\n" for tls in (True, False)}


class Transcript:
    """One connection's dialogue.

    Records wait in ``pending`` and are written in one piece whenever the
    server is about to send (a reply, a note): before the client can read a
    reply, its transcript is on disk; between two replies, nothing is written.
    The lines of a multi-part event (a message after 354) are joined in memory.

    ``client()`` and ``server()`` begin with a fast path for what nearly every
    call is (a command line; a one-line reply written at once; the next line
    of a multi-line reply) and hand everything else to ``_event()``. A note or
    a summary is formatted at once (nothing continues it). The cost is Python
    work per event, not the disk: about 18,000 instructions per call in the
    real FTP server before these paths (bench/README.md, "Transcripts").
    """

    def __init__(self, store: Store, service: str, peer, tls: bool = False, masker: Masker | None = None):
        self.store, self.tls = store, tls
        self.tail = _TAIL[bool(tls)]  # how an event record ends: its TLS flag and "does not continue"
        self.events = 0
        self.dropped = 0
        self.open_event: list | None = None  # [t, who, text parts, size, tls, more]: may still grow
        self.last_who: str | None = None  # who said the last piece: the next may continue it
        self.run_left = 0  # bytes of the last event only counted, not kept
        self.run_kept = 0  # bytes of text kept in it
        self.closed = False
        self.id = store.new_id()
        self.quoted_id = _quote(self.id)
        self.head = f'["e",{self.quoted_id},'  # every event record starts so
        self.masker = masker or Masker()
        self.t0 = time.monotonic()
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer or "")
        store.opened()
        # the open record waits for the first reply (the greeting) and goes out in its write
        self.pending = (f'["o",{self.quoted_id},{_quote(service)},{_quote(peer_text)},{time.time():.3f},'
                        f"{_JSON[bool(tls)]}]\n")  # whole lines not yet written (a str: one or two lines, no list)

    # what protocol code calls
    def client(self, data: bytes, more: bool = False, size: int | None = None) -> None:
        """What the client sent; size: its whole size when ``data`` is only its start (a long message)."""
        if (more or size is not None or self.run_left or self.open_event is not None or self.closed
                or self.events >= MAX_EVENTS or len(data) > MAX_TEXT):
            self._event("C", data, more, False, size)
            return
        # a command line: formatted now, written with the reply (nothing can continue a client's event)
        text = data.decode("utf-8", "replace")
        if text.endswith("\n"):
            text = text.rstrip("\r\n")
        self.events += 1
        self.run_kept, self.last_who = len(data), "C"
        self.pending += (f"{self.head}{time.monotonic() - self.t0:.4f},\"C\",{_quote(self.masker.client(text))},"
                         f"{len(data)}{self.tail}")

    def server(self, data: bytes | str, more: bool = False, flush: bool = True, last: bool = False) -> None:
        """A reply out; flush=False when more of it follows at once (SMTP's "250-" lines); last=True for
        the reply after which the server closes (221 to QUIT): the session's end is in the same write."""
        if (flush and not more and not last and self.last_who != "S" and len(data) <= MAX_TEXT
                and not self.run_left and self.open_event is None and not self.closed
                and self.events < MAX_EVENTS and not self.masker.secret):
            # a one-line reply, written at once with what is pending (the command it answers)
            if data.__class__ is str:
                if not data.isascii():  # its size in bytes, and unpaired surrogates, are for _event
                    self._event("S", data, more, flush)
                    return
                text = data
            else:
                text = data.decode("utf-8", "replace")
            if text.endswith("\n"):
                text = text.rstrip("\r\n")
            self.events += 1
            self.run_kept, self.last_who = len(data), "S"
            self.store.write(f"{self.pending}{self.head}{time.monotonic() - self.t0:.4f},\"S\",{_quote(text)},"
                             f"{len(data)}{self.tail}")
            self.pending = ""
            return
        event = self.open_event
        if (more and event is not None and event[1] == "S" and self.last_who == "S" and not self.run_left
                and self.run_kept + len(data) <= MAX_TEXT and self.events < MAX_EVENTS and not last and not self.closed):
            # the next line of a multi-line reply (SMTP's 250- lines after EHLO), kept whole
            text = data.decode("utf-8", "replace") if data.__class__ is bytes else data if data.isascii() else None
            if text is not None:  # (a str with non-ASCII characters: its size in bytes is for _event)
                if text.endswith("\n"):
                    text = text.rstrip("\r\n")
                event[2].append(text)
                event[3] += len(data)
                self.run_kept += len(data)
                if flush:
                    self.flush()
                return
        if last and not self.closed:
            self._event("S", data, more, False)
            self.close()
        else:
            self._event("S", data, more, flush)

    def note(self, text: str, flush: bool = True) -> None:
        """An event of the course itself; flush=False when a reply follows at once and writes it too
        (an FTP data connection's note, just before its 226: one write instead of two)."""
        self._told("*", text, 0)
        if flush:
            self.flush()

    def summary(self, who: str, text: str, size: int) -> None:
        """A part of the dialogue told, not shown: a body, a data connection ("[body: 1,234 bytes]")."""
        self._told(who, text, size)

    def login(self, user: str) -> None:
        if not self.closed:
            self._close_event()
            self.pending += f'["u",{self.quoted_id},{_quote(user)}]\n'

    def secure(self) -> None:
        """The connection is now encrypted (after STARTTLS, STLS, AUTH TLS): later events are marked TLS."""
        self.tls, self.tail = True, _TAIL[True]
        self.note("TLS started")

    def close(self) -> None:
        if self.closed:
            return
        self._end_run()
        self._close_event()
        self.pending += f'["x",{self.quoted_id},{time.time():.3f},{self.dropped}]\n'
        self.flush()
        self.closed = True

    def flush(self) -> None:
        """Write what is pending (the server calls this, by server(), before it sends)."""
        self._close_event()
        if self.pending:
            self.store.write(self.pending)
            self.pending = ""

    # the recording
    def _event(self, who: str, data: bytes | str, more: bool, flush: bool, size: int | None = None) -> None:
        """One piece of the dialogue. A piece that continues the last event (``more``, or a server's
        reply sent in several writes) adds to it while it holds less than MAX_TEXT bytes, and is only
        counted after that: a FETCH of 1,000 messages costs one event, not 1,000."""
        if self.closed:
            return
        continues = self.last_who == who and (more or who == "S")
        if self.events >= MAX_EVENTS:  # full: only count (the cheap path of a long session)
            self.dropped += not continues
            self.last_who = who
            return
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        size = len(raw) if size is None else size
        if continues:
            room = MAX_TEXT - self.run_kept
            if room <= 0:
                self.run_left += size
            else:
                kept = raw[:room]
                self.run_kept += len(kept)
                self.run_left += size - len(kept)
                text = _text(kept)
                if who == "C" and self.masker.secret:
                    text = self.masker.client(text)
                event = self.open_event
                if event is not None and event[1] == who:
                    event[2].append(text)
                    event[3] += len(kept)
                else:  # the event was written already: a continuation record
                    self._record(who, text, len(kept), True)
        else:  # a new event
            if self.run_left:
                self._end_run()
            kept = raw if len(raw) <= MAX_TEXT else raw[:MAX_TEXT]
            text = _text(kept)
            if who == "C":
                text = self.masker.client(text)
            elif self.masker.secret:  # only a reply inside an authentication exchange changes the masker
                self.masker.server(text)
            kept_size = len(kept)
            self.run_kept, self.run_left, self.last_who = kept_size, size - kept_size, who
            self._record(who, text, kept_size)
        self.last_who = who
        if flush:
            self.flush()

    def _told(self, who: str, text: str, size: int) -> None:
        """A note or a summary: an event that nothing continues, so it is formatted at once."""
        self._end_run()
        self._close_event()
        self.last_who = None
        if self.closed:
            return
        if self.events >= MAX_EVENTS:
            self.dropped += 1
            return
        self.events += 1
        self.pending += f'{self.head}{time.monotonic() - self.t0:.4f},"{who}",{_quote(text)},{size}{self.tail}'

    def _record(self, who: str, text: str, size: int, more: bool = False) -> None:
        if self.closed:
            return
        self._close_event()
        if self.events >= MAX_EVENTS:
            self.dropped += 1
            return
        self.events += 1
        self.open_event = [time.monotonic() - self.t0, who, [text], size, self.tls, more]

    def _end_run(self) -> None:
        """The bytes of the last event that were only counted, as one line at its end."""
        if self.run_left:
            left, self.run_left = self.run_left, 0
            text = f"[... {left} bytes left out]"
            event = self.open_event
            if event is not None and event[1] == self.last_who:
                event[2].append(text)
                event[3] += left
            elif self.last_who is not None:
                self._record(self.last_who, text, left, True)

    def _close_event(self) -> None:
        """Format the open event (its parts joined) into a pending line."""
        event = self.open_event
        if event is None:
            return
        self.open_event = None
        t, who, parts, size, tls, more = event
        self.pending += (f'["e",{self.quoted_id},{t:.4f},"{who}",{_quote(chr(10).join(parts))},{size},'
                         f"{_JSON[tls]},{_JSON[more]}]\n")


def _text(raw: bytes) -> str:
    """Bytes as the transcript shows them: UTF-8 (or U+FFFD), without the line end."""
    text = raw.decode("utf-8", "replace")
    return text.rstrip("\r\n") if text.endswith("\n") else text


class Silent:
    """What a connection records when transcripts are off: nothing, at no cost."""

    id = None
    tls = False

    def client(self, data, more=False, size=None): pass
    def server(self, data, more=False, flush=True, last=False): pass
    def note(self, text, flush=True): pass
    def summary(self, who, text, size): pass
    def login(self, user): pass
    def secure(self): pass
    def close(self): pass
    def flush(self): pass


SILENT = Silent()


def open_transcript(service, peer, tls: bool = False, masker: Masker | None = None):
    """A new connection's transcript for a Service (local_servers.service), or SILENT if its option is off."""
    found = service.__dict__.get("_transcripts")  # (on, store), looked up once per service
    if found is None:
        on = service.option("transcripts")
        try:
            found = (on, store(service.ctx.data_dir.parent) if on else None)
        except OSError as exc:  # a state directory we cannot write to: serve without transcripts
            log.warning("transcripts are off: %s", exc)
            found = (False, None)
        service.__dict__["_transcripts"] = found
    if not found[0]:
        return SILENT
    return Transcript(found[1], service.name, peer, tls, masker)


# -- reading back (any process) ----------------------------------------------------------

@dataclass
class Event:
    t: float  # seconds since the session started
    who: str  # "C", "S" or "*" (a note of the course itself)
    text: str
    size: int
    tls: bool

    def to_dict(self) -> dict:
        return {"t": self.t, "who": self.who, "text": self.text, "size": self.size, "tls": self.tls}


@dataclass
class Session:
    id: str
    service: str
    peer: str
    started: float  # seconds since the epoch
    user: str | None = None
    ended: float | None = None  # None while live
    tls: bool = False  # any part went over TLS
    events: list[Event] = field(default_factory=list)
    dropped: int = 0  # events not kept (beyond MAX_EVENTS)

    def to_dict(self) -> dict:
        return {"id": self.id, "service": self.service, "peer": self.peer, "user": self.user,
                "started": self.started, "ended": self.ended, "tls": self.tls, "dropped": self.dropped,
                "events": [e.to_dict() for e in self.events]}

    def title(self) -> str:
        """What a reader needs to know first, with nothing that differs from run to run."""
        parts = [f"{self.service.upper()} session"]
        if self.user:
            parts.append(f"user {self.user}")
        if self.events and self.events[0].tls:
            parts.append("TLS from the start")
        elif self.tls:
            parts.append("upgraded to TLS")
        return ", ".join(parts)

    def lines(self, times: bool = False) -> list[str]:
        """Plain lines: "C: ...", "S: ...", "*: ..." (a continuation line indented), TLS lines marked."""
        out = [self.title() + (f" ({self.peer}, {_clock(self.started)})" if times else "")]
        for event in self.events:
            lock = "tls " if event.tls else "    "
            stamp = f"{event.t:8.3f} " if times else ""
            text = event.text if times or event.who != "*" else _SECONDS.sub("", event.text)
            first, *rest = text.split("\n") or [""]
            out.append(f"{stamp}{lock}{event.who}: {first.rstrip(chr(13))}")
            out.extend(f"{' ' * len(stamp)}       {line.rstrip(chr(13))}" for line in rest)
        if self.dropped:
            out.append(f"    ... {self.dropped} more events not kept")
        if self.ended is None:
            out.append("    (still open)" if times else "")
        return [line for line in out if line]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        rows = []
        for event in self.events:
            text = html.escape((event.text if event.who != "*" else _SECONDS.sub("", event.text)).replace("\r", ""))
            lock = "&#128274;" if event.tls else ""
            style = "white-space:pre-wrap;font-family:monospace;text-align:left;vertical-align:top"
            if event.who == "*":
                rows.append(f'<tr><td></td><td colspan="2" style="{style};font-style:italic;color:#666">{text}</td></tr>')
            else:
                client, server = (text, "") if event.who == "C" else ("", text)
                rows.append(f'<tr><td>{lock}</td><td style="{style};color:#1a4f8b">{client}</td>'
                            f'<td style="{style};color:#2b6b2b">{server}</td></tr>')
        if self.dropped:
            rows.append(f'<tr><td></td><td colspan="2">... {self.dropped} more events not kept</td></tr>')
        return (f"<div><b>{html.escape(self.title())}</b><table>"
                "<tr><th></th><th style=\"text-align:left\">C: client</th><th style=\"text-align:left\">S: server</th></tr>"
                + "".join(rows) + "</table></div>")


class Sessions(list):
    """A list of sessions that prints and renders as their dialogues, one after the other."""

    def to_dict(self) -> list[dict]:
        return [s.to_dict() for s in self]

    def __str__(self) -> str:
        return "\n\n".join(str(s) for s in self) if self else "(no sessions)"

    def _repr_html_(self) -> str:
        return "".join(s._repr_html_() for s in self) if self else "<i>(no sessions)</i>"

    def __repr__(self) -> str:
        return str(self)


#: How long a data connection took (in a note): left out where the text must be the same on every run.
_SECONDS = re.compile(r" in \d+\.\d+ s")


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _files(state_dir) -> list[Path]:
    return sorted(folder(state_dir).glob("transcripts-*.jsonl"), key=_number)


def _apply(found: dict, record: list) -> None:
    kind, sid = record[0], record[1]
    if kind == "o":
        found[sid] = Session(id=sid, service=record[2], peer=record[3], started=record[4], tls=record[5])
        return
    session = found.get(sid)
    if session is None:  # its start is in a file that was dropped
        return
    if kind == "e":
        _, _, t, who, text, size, tls, more = record
        session.tls = session.tls or tls
        if more and session.events and session.events[-1].who == who:
            last = session.events[-1]
            last.text += "\n" + text
            last.size += size
        else:
            session.events.append(Event(t, who, text, size, tls))
    elif kind == "u":
        session.user = record[2]
    elif kind == "x":
        session.ended, session.dropped = record[2], record[3]


def _read(path: Path, found: dict) -> None:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # the server is writing it right now
                try:
                    _apply(found, json.loads(line))
                except (ValueError, IndexError, TypeError):
                    continue
    except FileNotFoundError:  # rotated away while we looked
        pass


def sessions(state_dir, service: str | None = None, last: int | None = None, user: str | None = None) -> Sessions:
    """The recorded sessions, oldest first, live ones included; filtered by service and user, the last N."""
    found: dict[str, Session] = {}
    for path in _files(state_dir):
        _read(path, found)
    chosen = [s for s in found.values()
              if (service is None or s.service == service) and (user is None or s.user == user)]
    if last is not None:
        chosen = chosen[-last:] if last > 0 else []
    return Sessions(chosen)


def follow(state_dir, service: str | None = None, json_lines: bool = False, poll: float = 0.2, stop=None) -> int:
    """Print every new event as it is recorded (``transcripts --follow``), until Ctrl-C or stop() is true."""
    services: dict[str, str] = {}  # session id -> service
    positions: dict[Path, int] = {}
    for path in _files(state_dir):  # learn the sessions that are open already, print nothing old
        data = path.read_bytes()
        positions[path] = data.rfind(b"\n") + 1
        for line in data[:positions[path]].splitlines():
            record = _parse(line)
            if record and record[0] == "o":
                services[record[1]] = record[2]
    try:
        while stop is None or not stop():
            for path in _files(state_dir):
                with open(path, "rb") as f:
                    f.seek(positions.get(path, 0))
                    data = f.read()
                complete = data[:data.rfind(b"\n") + 1]
                positions[path] = positions.get(path, 0) + len(complete)
                for line in complete.splitlines():
                    record = _parse(line)
                    if record is None:
                        continue
                    if record[0] == "o":
                        services[record[1]] = record[2]
                    if service is not None and services.get(record[1]) != service:
                        continue
                    print(line.decode("utf-8") if json_lines else _describe(record, services), flush=True)
            time.sleep(poll)
    except KeyboardInterrupt:
        pass
    return 0


def _parse(line: bytes) -> list | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, list) and len(record) >= 2 else None


def _describe(record: list, services: dict) -> str:
    """One record as a terminal line: "smtp 1a2b.7  S: 250 OK"."""
    kind, sid = record[0], record[1]
    head = f"{services.get(sid, '?'):5} {sid}"
    if kind == "o":
        return f"{head}  --- connected from {record[3]}{' over TLS' if record[5] else ''}"
    if kind == "u":
        return f"{head}  --- logged in as {record[2]}"
    if kind == "x":
        return f"{head}  --- closed"
    _, _, t, who, text, _size, tls, more = record
    marker = "  " if more else f"{who}:"
    return f"{head} {'tls' if tls else '   '} {marker} {text}"
