"""IMAP4rev1 (RFC 3501): one Session per connection, one method per command.

How a conversation goes: the server greets ("* OK ..."); the client sends
tagged commands ("a1 LOGIN alice alice-pw"); the server answers with any
number of untagged lines ("* 3 EXISTS") and ends with one tagged line that
says how the command went: OK, NO (it failed) or BAD (it made no sense).

Each session is in one of four states (RFC 3501 section 3): not
authenticated, authenticated, selected (a mailbox is open) and logout.
COMMANDS below says, for each command, in which states it is allowed and
which method carries it out: cmd_login, cmd_select, cmd_fetch, ...

Besides answering, a session keeps its client up to date: between
commands it tells about new messages (EXISTS), messages deleted by others
(EXPUNGE) and flags others changed (FETCH), because the client numbers
messages 1..n and those numbers may only change when the server says so.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import contextlib
import functools
import itertools
import logging
import operator
import re
import ssl
import time
import urllib.parse

from ...engine import LineService, LineSession
from ..mail_service import MailService
from ...service import Option
from . import listing, mime, mutf7, search, sort, thread
from .store import Folder, MailboxError, UserStore
from ...wire import oauth, profiles
from .syntax import (LITERAL_AT_END, Args, LimitExceeded, ParseError, SavedSet, astring,
                     imap_datetime, literal, literal8, merged_ranges)

#: Longest command line (without literals) we read; longer ones get BAD.
MAX_LINE = 64 * 1024
#: Largest literal (an APPENDed message), announced as APPENDLIMIT (RFC 7889).
MAX_LITERAL = 50 * 1024 * 1024
#: Largest command (literals included) before login: plenty for LOGIN or AUTHENTICATE.
MAX_PREAUTH_COMMAND = 8 * 1024
#: Long loops (SEARCH, FETCH) let other connections run whenever they have had the loop this long.
SLICE = 0.01
#: Messages larger than this are searched in a worker thread (see Session.matching).
SEARCH_IN_THREAD = 1024 * 1024
#: The autologout timer of RFC 3501 5.4: at least 30 minutes.
AUTOLOGOUT = 30 * 60
#: How often an IDLE session looks for new mail.
IDLE_POLL = 0.5
#: Flush the output buffer once it holds this much (big FETCHes go out in pieces).
FLUSH_AT = 256 * 1024

NOT_AUTHENTICATED, AUTHENTICATED, SELECTED = "not authenticated", "authenticated", "selected"
ANY = (NOT_AUTHENTICATED, AUTHENTICATED, SELECTED)
AUTH = (AUTHENTICATED, SELECTED)

#: Every command and the states it is valid in; it runs as cmd_<name>, "UID FETCH" and friends as
#: cmd_fetch ... with uid=True. The groups follow RFC 3501 section 6.
COMMANDS = {
    **dict.fromkeys(("CAPABILITY", "ID", "NOOP", "LOGOUT"), ANY),
    **dict.fromkeys(("STARTTLS", "LOGIN", "AUTHENTICATE"), (NOT_AUTHENTICATED,)),
    **dict.fromkeys(("ENABLE", "NOTIFY", "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE",
                     "UNSUBSCRIBE", "LIST", "LSUB", "NAMESPACE", "STATUS", "APPEND", "IDLE"), AUTH),
    **dict.fromkeys(("CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "SORT", "CANCELUPDATE", "THREAD", "FETCH",
                     "STORE", "COPY", "MOVE"), (SELECTED,)),
}
COMMANDS.update({"UID " + name: COMMANDS[name]
                 for name in ("FETCH", "SEARCH", "SORT", "THREAD", "STORE", "COPY", "MOVE", "EXPUNGE")})

#: Commands during which EXPUNGE responses must not be sent (RFC 3501 7.4.1): the client
#: may be relying on sequence numbers it just used.
NO_EXPUNGE_DURING = {"FETCH", "STORE", "SEARCH", "SORT", "THREAD"}

#: The extensions of decision 0004, after RFC 3501's own and the first few.
EXTENSIONS = ("ID ENABLE SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESEARCH ESORT SEARCHRES WITHIN "
              "CONTEXT=SEARCH BINARY MULTIAPPEND CATENATE CONDSTORE QRESYNC NOTIFY "
              "LIST-EXTENDED LIST-STATUS SPECIAL-USE STATUS=SIZE UTF8=ACCEPT "
              f"APPENDLIMIT={MAX_LITERAL}")
CAPABILITIES = "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE UNSELECT NAMESPACE CHILDREN " + EXTENSIONS
#: What ENABLE (RFC 5161) can switch on.
ENABLEABLE = ("UTF8=ACCEPT", "CONDSTORE", "QRESYNC")
#: ID (RFC 2971): what the server says about itself.
SERVER_ID = (("name", "course-imap"), ("vendor", "Python internet client programming course"))

log = logging.getLogger("local_servers.imap")
_session_ids = itertools.count(1)


class Bad(Exception):
    """Reply BAD: the command is malformed or not allowed now."""


class No(Exception):
    """Reply NO: the command was understood but could not be carried out."""


class FetchItem:
    """One thing FETCH was asked for: FLAGS, ENVELOPE, BODY.PEEK[1.MIME]<0.100>, ..."""

    def __init__(self, name: str, numbers: tuple = (), text: str = "", names: tuple = (),
                 partial: tuple | None = None, peek: bool = False):
        self.name, self.numbers, self.text, self.names = name, numbers, text, names
        self.partial, self.peek = partial, peek

    @property
    def sets_seen(self) -> bool:
        """Reading a body without .PEEK marks the message \\Seen (RFC822.HEADER does not)."""
        return (self.name in ("BODY[]", "BINARY[]") and not self.peek) or self.name in ("RFC822", "RFC822.TEXT")

    @functools.cached_property
    def label(self) -> bytes:
        """How the response names this item: BODY[1.HEADER.FIELDS (FROM)]<0>, BINARY.SIZE[2] (made once)."""
        if self.name not in ("BODY[]", "BINARY[]", "BINARY.SIZE[]"):
            return self.name.encode()
        spec = ".".join([str(n) for n in self.numbers] + ([self.text] if self.text else []))
        if self.names:
            spec += " (" + " ".join(self.names) + ")"
        origin = f"<{self.partial[0]}>" if self.partial else ""
        return f"{self.name[:-2]}[{spec}]{origin}".encode()


_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.")
_MACROS = {"ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
           "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
           "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"]}
_SIMPLE_ITEMS = {"ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE", "RFC822.TEXT",
                 "BODY", "BODYSTRUCTURE", "UID", "MODSEQ"}


def parse_fetch_items(args: Args) -> list[FetchItem]:
    """fetch-att list: a macro (ALL, FAST, FULL), one item, or a parenthesized list."""
    if args.accept(b"("):
        return args.rest_of_list(lambda: parse_fetch_item(args))
    start = args.pos
    word = args._run(_WORD, "a fetch item").decode().upper()
    if word in _MACROS and args.peek() != ord("["):
        return [FetchItem(name) for name in _MACROS[word]]
    args.pos = start
    return [parse_fetch_item(args)]


def parse_fetch_item(args: Args) -> FetchItem:
    word = args._run(_WORD, "a fetch item").decode().upper()
    if word in ("BODY", "BODY.PEEK") and args.peek() == ord("["):
        numbers, text, names = parse_section(args)
        return FetchItem("BODY[]", numbers, text, names, _partial(args), peek=word == "BODY.PEEK")
    if word in ("BINARY", "BINARY.PEEK", "BINARY.SIZE") and args.peek() == ord("["):
        return _binary_item(args, word)
    if word in _SIMPLE_ITEMS:
        return FetchItem(word)
    raise ParseError(f"unknown fetch item {word}")


def _partial(args: Args) -> tuple[int, int] | None:
    """The optional "<offset.count>" after a section: the octets wanted."""
    if not args.accept(b"<"):
        return None
    offset = args.number()
    args.expect(b".")
    count = args.nz_number()
    args.expect(b">")
    return offset, count


def _binary_item(args: Args, word: str) -> FetchItem:
    """BINARY[1.2]<0.100>, BINARY.PEEK[...], BINARY.SIZE[...] (RFC 3516): part numbers only."""
    args.expect(b"[")
    numbers = []
    while not args.accept(b"]"):
        if numbers:
            args.expect(b".")
        numbers.append(args.nz_number())
    partial = None if word == "BINARY.SIZE" else _partial(args)
    name = "BINARY.SIZE[]" if word == "BINARY.SIZE" else "BINARY[]"
    return FetchItem(name, tuple(numbers), partial=partial, peek=word == "BINARY.PEEK")


def parse_section(args: Args) -> tuple[tuple[int, ...], str, tuple[str, ...]]:
    """section = "[" [section-spec] "]", e.g. [], [TEXT], [1.2.MIME], [HEADER.FIELDS (From To)]."""
    args.expect(b"[")
    numbers: list[int] = []
    dotted = True  # a part number ends with "." when a text part (1.HEADER, 2.MIME) follows
    while dotted and args.peek() is not None and chr(args.peek()).isdigit():
        numbers.append(args.nz_number())
        dotted = args.accept(b".")
    text = ""
    if (numbers and dotted) or (not numbers and args.peek() != ord("]")):
        text = args._run(_WORD, "a section").decode().upper()
        allowed = {"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"} | ({"MIME"} if numbers else set())
        if text not in allowed:
            raise ParseError(f"unknown section {text}")
    names: tuple[str, ...] = ()
    if text.startswith("HEADER.FIELDS"):
        args.sp()
        args.expect(b"(")
        names = tuple(n.decode("ascii", "replace").upper() for n in args.rest_of_list(args.astring))
    args.expect(b"]")
    return tuple(numbers), text, names


def sequence_string(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> "1:3,7" (for COPYUID)."""
    runs = [[n for _, n in run] for _, run in itertools.groupby(enumerate(numbers), lambda p: p[1] - p[0])]
    return ",".join(str(run[0]) if len(run) == 1 else f"{run[0]}:{run[-1]}" for run in runs)


class Session(LineSession):
    """One client connection, from greeting to LOGOUT: the engine (engine.LineSession) reads lines and
    literals, keeps the autologout timer and switches to TLS; this class parses each command and runs it."""

    max_line = MAX_LINE

    def __init__(self, service, tls: bool):
        super().__init__(service, tls)
        self.id = next(_session_ids)
        self.state = NOT_AUTHENTICATED
        self.user: str | None = None
        self.store: UserStore | None = None
        self.folder: Folder | None = None
        self.readonly = False
        self.view: list[int] = []  # the UIDs of messages 1..n as this client knows them
        self.recent: set[int] = set()  # \Recent for this session
        self.seen_modseq = 0
        self.out = bytearray()
        self.closing = False
        self.extension_state()

    def extension_state(self) -> None:
        """What the extensions (and a provider's profile) remember about a session."""
        self.known_flags: list[str] = []  # the FLAGS this client was last told (RFC 3501 7.2.6)
        self.enabled: set[str] = set()  # extensions switched on by ENABLE
        self.saved: set[int] = set()  # UIDs of the last SEARCH RETURN (SAVE): "$" (RFC 5182)
        self.search_modseq = False  # the last search had a MODSEQ key
        self.last_test = None
        self.updates: dict[str, tuple] = {}  # tag -> (test, uid, UIDs in the result): SEARCH RETURN (UPDATE)
        self.update_modseq = 0
        self.watching: list[tuple[str, list[str], set[str]]] = []  # NOTIFY: (filter, mailboxes, events)
        self.watched: dict[str, tuple] = {}  # mailbox -> (messages, uidnext, modseq) last reported
        self.profile = profiles.for_service(self.service)  # a provider's rules (wire/profiles.py), or None
        self.identified = False  # the client sent ID (163 wants it before SELECT)

    # -- what the engine asks of a protocol ---------------------------------------
    def greeting(self) -> bytes:
        return b"* OK [CAPABILITY " + self.capabilities().encode() + b"] IMAP4rev1 server ready\r\n"

    def error(self, kind: str, verb: str = "", syntax: str = "", limit: int = 0) -> bytes:
        tag = Args(bytes(self.line_start[:200])).command_tag() or "*"  # a client waiting for its tag gets it
        text = {
            "too_long": f"{tag} BAD line too long (at most {limit} octets)",
            "not_text": f"{tag} BAD a command line is text; octets outside it go in a literal",
            "internal": f"{tag} NO [SERVERBUG] Internal error; the server log has the details",
            "busy": "* BYE [UNAVAILABLE] Too many connections, try again later",
            "idle": "* BYE Autologout; idle for too long",
            "literal": f"{tag} BAD [TOOBIG] Literal too large",
            "literal_closing": f"{tag} BAD [TOOBIG] Literal too large\r\n* BYE literal too large",
        }[kind]
        return text.encode() + b"\r\n"

    def literal(self, line: bytes) -> int | None:
        match = LITERAL_AT_END.search(line)
        return int(match.group(1)) if match else None

    def max_literal(self) -> int:
        """Before login only what a login needs: nobody may make us hold megabytes unauthenticated."""
        limit = MAX_PREAUTH_COMMAND if self.state == NOT_AUTHENTICATED else MAX_LITERAL + MAX_LINE
        return max(0, min(MAX_LITERAL, limit - self.held))

    # -- output -----------------------------------------------------------------
    def respond(self, line: bytes) -> None:
        """Queue one response line; the command's replies go out together (or in pieces: flush)."""
        self.out += line + b"\r\n"

    def untagged(self, text: str) -> None:
        self.respond(b"* " + text.encode())

    def take_output(self) -> bytes:
        out = bytes(self.out)
        self.out.clear()
        return out

    async def flush(self) -> None:
        """Send what is queued and wait while the client does not read it (a big FETCH goes in pieces)."""
        if self.transport is None:
            raise ConnectionError("the client is gone")
        self.send(self.take_output())
        await self.drain()

    # -- the conversation ----------------------------------------------------------
    def dispatch(self, command: bytes) -> None:
        """Parse a whole command (literals inline), check its state, and run it; or say why not."""
        args = Args(command)
        tag = args.command_tag()
        try:
            name = args.atom().upper() if tag is not None else None
            if name == "UID":
                args.sp()
                name = "UID " + args.atom().upper()
        except ParseError:
            name = None
        states = COMMANDS.get(name)
        if tag is None:
            self.send(b"* BAD Missing or invalid tag\r\n")
        elif name is None:
            self.send(f"{tag} BAD Missing command\r\n")
        elif states is None:
            self.send(f"{tag} BAD Unknown command {name[:30]}\r\n")
        elif self.state not in states:
            self.send(f"{tag} BAD {name} is not allowed in the {self.state} state\r\n")
        elif name == "STARTTLS":  # answered at once: the engine then reads the TLS handshake
            self.starttls(tag, args)
        else:
            self.run(name, self.execute, tag, name, args)

    async def execute(self, tag: str, name: str, args: Args) -> bytes | None:
        """Run one command; its replies, ending with the tagged one."""
        base = name.split()[-1]
        args.utf8 = self.utf8  # as of this command: an ENABLE before it may have switched names to UTF-8
        if self.folder is not None:
            self.folder.scan()  # cheap: notices new, deleted and re-flagged messages
            self.announce_flags()
        try:
            uid = {"uid": True} if name.startswith("UID ") else {}
            result = await getattr(self, "cmd_" + base.lower())(tag, args, **uid)
            status, text = "OK", result or f"{base} completed"
        except (Bad, ParseError) as exc:
            status, text = "BAD", f"{base}: {exc}"
        except (No, MailboxError, mutf7.BadMailboxName, LimitExceeded) as exc:
            status, text = "NO", str(exc)
        except search.BadCharset:
            status, text = "NO", "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset"
        except (ConnectionError, ssl.SSLError):
            self.close()
            return None
        except Exception:
            log.exception("session %s: %s failed", self.id, name)
            status, text = "NO", "[SERVERBUG] Internal error; the server log has the details"
        if self.folder is not None and not self.closing:
            self.report_changes(expunge_ok=name not in NO_EXPUNGE_DURING)
        if self.watching and name != "NOTIFY" and not self.closing:
            self.report_watched()
        self.respond(f"{tag} {status} {text}".encode())
        if self.closing:  # LOGOUT
            self.close(self.take_output())
            return None
        return self.take_output()

    def capabilities(self) -> str:
        caps = CAPABILITIES
        if self.state == NOT_AUTHENTICATED:
            caps += "" if self.tls else " STARTTLS"
            caps += " LOGINDISABLED" if self.cleartext_refused else " AUTH=PLAIN"  # never refused over TLS
            if self.profile is not None and self.profile.oauth and not self.cleartext_refused:
                caps += " AUTH=XOAUTH2 AUTH=OAUTHBEARER"
        return caps

    @property
    def cleartext_refused(self) -> bool:
        """Beyond loopback (ctx.public), or with a provider's profile, passwords travel only over TLS
        (RFC 3501 6.2.3, LOGINDISABLED)."""
        profile_wants_tls = self.profile is not None and self.profile.tls_only and not self.tls
        return not self.service.ctx.passwords_allowed(self.tls) or profile_wants_tls

    # -- keeping the client's view up to date -----------------------------------------
    def announce_flags(self) -> None:
        """A keyword new to the mailbox: FLAGS and PERMANENTFLAGS again, before any FETCH shows it (7.2.6)."""
        flags = self.folder.all_flags()
        if flags == self.known_flags:
            return
        self.known_flags = flags
        listed = " ".join(flags)
        self.untagged(f"FLAGS ({listed})")
        permanent = "" if self.readonly else f"{listed} \\*"
        self.untagged(f"OK [PERMANENTFLAGS ({permanent})] Flags permitted")

    def report_changes(self, expunge_ok: bool = True) -> None:
        """Tell the client what changed in its mailbox since it last heard (RFC 3501 7.3, 7.4)."""
        folder = self.folder
        present = folder.by_uid
        self.announce_flags()
        if expunge_ok:
            self.announce_expunged([i for i, uid in enumerate(self.view) if uid not in present])
        known = len(self.view)  # messages new to the client get EXISTS, not FETCH
        last = self.view[-1] if self.view else 0
        if folder.uids and folder.uids[-1] > last:
            new = folder.uids[bisect.bisect_right(folder.uids, last):]
            self.view.extend(new)
            self.recent |= folder.recent_pool.intersection(new) if self.readonly else folder.claim_recent()
            self.respond(b"* %d EXISTS" % len(self.view))
            self.respond(b"* %d RECENT" % sum(1 for u in self.recent if u in present))
        if folder.modseq > self.seen_modseq:
            for seq, uid in enumerate(self.view[:known], 1):
                msg = present.get(uid)
                if msg is not None and msg.modseq > self.seen_modseq and msg.changed_by != self.id:
                    self.flags_response(seq, msg)
            self.seen_modseq = folder.modseq
        self.refresh_searches(known)

    def refresh_searches(self, known: int) -> None:
        """CONTEXT=SEARCH: the updating searches run again once flags changed or messages came (RFC 5267 4.2)."""
        if self.updates and (self.folder.modseq > self.update_modseq or len(self.view) > known):
            self.update_searches()
        self.update_modseq = self.folder.modseq

    def update_searches(self, gone: list[int] | None = None) -> None:
        """RFC 5267 4.2: ESEARCH REMOVEFROM for `gone` (view indexes about to be expunged, before their EXPUNGE);
        without it each SEARCH RETURN (UPDATE) runs again and ADDTO / REMOVEFROM send the difference."""
        present = self.folder.by_uid
        for tag, (test, uid, result) in self.updates.items():
            if gone is not None:
                removed = [i for i in gone if self.view[i] in result]
                added = []
            else:
                candidate = search.Candidate(self.folder, len(self.view), self.view[-1] if self.view else 0,
                                             self.saved)
                now = {u for seq, u in enumerate(self.view, 1)
                       if u in present and test(candidate.reset(present[u], seq, u in self.recent))}
                removed = [i for i, u in enumerate(self.view) if u in result and u not in now]
                added = [i for i, u in enumerate(self.view) if u in now and u not in result]
            for kind, indexes in (("REMOVEFROM", removed), ("ADDTO", added)):
                if indexes:
                    numbers = [self.view[i] if uid else i + 1 for i in indexes]
                    self.untagged(f'ESEARCH (TAG "{tag}"){" UID" if uid else ""} {kind} '
                                  f"(0 {sequence_string(numbers)})")
            result.difference_update(self.view[i] for i in removed)
            result.update(self.view[i] for i in added)

    def announce_expunged(self, indexes: list[int]) -> None:
        """EXPUNGE per message, highest number first (so each number is still right when sent)."""
        indexes = sorted(set(indexes))
        vanished = self.vanished(indexes)
        for i in reversed(indexes):
            if not vanished:
                self.respond(b"* %d EXPUNGE" % (i + 1))
            self.recent.discard(self.view[i])
            del self.view[i]

    def vanished(self, indexes: list[int]) -> bool:
        """Before messages go: CONTEXT's REMOVEFROM (RFC 5267 4.2); once QRESYNC is enabled one VANISHED
        with their UIDs, which replaces the EXPUNGEs (RFC 7162 3.2.10): True then."""
        if indexes and self.updates:
            self.update_searches(gone=indexes)
        if "QRESYNC" not in self.enabled:
            return False
        if indexes:
            self.respond(b"* VANISHED " + sequence_string(sorted(self.view[i] for i in indexes)).encode())
        return True

    def resync(self, since: int, known) -> None:
        """QRESYNC: what changed since MODSEQ `since` among the UIDs `known`: VANISHED (EARLIER), then FETCH.
        Expunged UIDs are not kept: VANISHED lists every known UID not there now (RFC 7162 3.2.5.1 allows it)."""
        top = self.folder.uidnext - 1
        spans = merged_ranges(known if known is not None and not isinstance(known, SavedSet) else [(1, None)], top)
        present = self.folder.by_uid
        vanished = [u for lo, hi in spans for u in range(lo, min(hi, top) + 1) if u not in present]
        if vanished:
            self.respond(b"* VANISHED (EARLIER) " + sequence_string(vanished).encode())
        for seq, uid in enumerate(self.view, 1):
            msg = present.get(uid)
            if msg is not None and msg.modseq > since:
                self.flags_response(seq, msg)  # with MODSEQ: QRESYNC is on, so CONDSTORE is

    def flags_response(self, seq: int, msg, uid: bool = True) -> None:
        """An untagged FETCH with a message's flags, after its UID and (once CONDSTORE is on) MODSEQ."""
        uid_part = b"UID %d " % msg.uid if uid else b""
        self.respond(b"* %d FETCH (%s%sFLAGS %s)" % (seq, uid_part, self.modseq_item(msg), self.flags_of(msg)))

    def modseq_item(self, msg) -> bytes:
        """ "MODSEQ (n) " in FETCH responses once the client has enabled CONDSTORE."""
        return b"MODSEQ (%d) " % msg.modseq if "CONDSTORE" in self.enabled else b""

    def enable_condstore(self) -> None:
        """RFC 7162 3.1: a CONDSTORE-enabling command while selected also announces HIGHESTMODSEQ."""
        if "CONDSTORE" not in self.enabled:
            self.enabled.add("CONDSTORE")
            if self.folder is not None:
                self.untagged(f"OK [HIGHESTMODSEQ {self.folder.modseq}] Highest")

    def flags_of(self, msg) -> bytes:
        flags = sorted(msg.flags)
        if msg.uid in self.recent:
            flags.append("\\Recent")
        return b"(" + " ".join(flags).encode() + b")"

    def deselect(self) -> None:
        self.folder, self.view, self.recent, self.readonly = None, [], set(), False
        self.saved, self.updates = set(), {}
        self.state = AUTHENTICATED if self.state == SELECTED else self.state

    def messages(self, ranges, uid: bool, strict: bool = True) -> list[tuple[int, object]]:
        """(sequence number, Msg) for a sequence set or UID set, skipping messages deleted meanwhile;
        the set is merged first (syntax.merged_ranges): one pass, however many ranges overlap."""
        present, view = self.folder.by_uid, self.view
        if isinstance(ranges, SavedSet):  # "$": the last saved search result (RFC 5182)
            return [(i, present[u]) for i, u in enumerate(view, 1) if u in self.saved and u in present]
        if uid:
            spans = merged_ranges(ranges, view[-1] if view else 0)
            indexes = [range(bisect.bisect_left(view, lo), bisect.bisect_right(view, hi)) for lo, hi in spans]
        else:
            count = len(view)
            spans = merged_ranges(ranges, count)
            if strict and spans and (spans[0][0] < 1 or spans[-1][1] > count):
                raise Bad("Invalid message sequence number (the mailbox has %d messages)" % count)
            indexes = [range(max(lo, 1) - 1, min(hi, count)) for lo, hi in spans]
        return [(i + 1, present[view[i]]) for span in indexes for i in span if view[i] in present]

    # -- Any state -------------------------------------------------------------------------
    async def cmd_capability(self, tag, args):
        args.end()
        self.untagged("CAPABILITY " + self.capabilities())

    async def cmd_id(self, tag, args):
        """RFC 2971: the client may say who it is; we say who we are (some servers require this)."""
        def field() -> None:  # "name" SP nstring: read over, not kept
            args.string()
            args.sp()
            if not args.accept(b"NIL"):
                args.string()

        args.sp()
        if not args.accept(b"NIL"):
            args.list_of(field)
        args.end()
        self.respond(b"* ID (" + b" ".join(astring(k) + b" " + astring(v) for k, v in SERVER_ID) + b")")
        self.identified = True

    async def cmd_enable(self, tag, args):
        """RFC 5161: switch on extensions that change what the server sends; list those that are now on."""
        names = [name.upper() for name in args.spaced(args.atom)]
        if not names:
            raise Bad("ENABLE needs at least one capability")
        newly = [n for n in dict.fromkeys(names) if n in ENABLEABLE and n not in self.enabled]
        self.enabled.update(newly)
        if "QRESYNC" in newly:
            self.enabled.add("CONDSTORE")  # RFC 7162 3.2.3: QRESYNC implies CONDSTORE
        self.respond(b"* ENABLED" + b"".join(b" " + n.encode() for n in newly))

    @property
    def utf8(self) -> bool:
        """RFC 6855: after ENABLE UTF8=ACCEPT mailbox names travel as UTF-8, and quoted strings may hold it."""
        return "UTF8=ACCEPT" in self.enabled

    def spelled(self, name: str) -> str:
        """A stored (modified UTF-7) mailbox name as this session spells it: UTF-8 text if enabled (a folder
        made outside IMAP under a name that is no modified UTF-7: as it is)."""
        if self.utf8:
            with contextlib.suppress(ValueError):
                return mutf7.decode(name)
        return name

    def shown(self, name: str) -> bytes:
        """A stored mailbox name as it goes to this session: quoted (UTF-8 in the quotes if enabled)."""
        return astring(self.spelled(name), self.utf8)

    async def cmd_notify(self, tag, args):
        """RFC 5465: NOTIFY NONE, or NOTIFY SET [STATUS] (filter (events)) ...: STATUS lines for other mailboxes,
        sent with the next command's reply or during IDLE (this server does not write between commands otherwise)."""
        args.sp()
        if args.accept(b"NONE"):
            args.end()
            self.watching, self.watched = [], {}
            return
        if not args.accept(b"SET"):
            raise Bad("expected NOTIFY SET or NOTIFY NONE")
        status = args.accept(b" STATUS")
        watching = []
        while not args.at_end():
            args.sp()
            args.expect(b"(")
            kind = args.atom().upper()
            if kind not in NOTIFY_FILTERS:
                raise Bad(f"unknown NOTIFY filter {kind}")
            names: list[str] = []
            if kind in ("SUBTREE", "MAILBOXES"):
                args.sp()
                names = args.rest_of_list(args.mailbox) if args.accept(b"(") else [args.mailbox()]
            args.sp()
            events = set() if args.accept(b"NONE") else set(args.list_of(lambda: _notify_event(args)))
            args.expect(b")")
            unknown = events - set(NOTIFY_EVENTS) - {"MAILBOXNAME", "SUBSCRIPTIONCHANGE"}
            if unknown:
                raise No(f"[BADEVENT ({' '.join(sorted(NOTIFY_EVENTS))})] Unsupported event {min(unknown)}")
            watching.append((kind, names, events))
        self.watching, self.watched = watching, {}
        self.report_watched(every=status)  # what is watched starts from now: STATUS for each if asked

    def watched_mailboxes(self) -> list[tuple[str, set[str]]]:
        """The mailboxes NOTIFY watches (the selected one aside: it is reported the usual way)."""
        names = self.store.names()
        chosen: dict[str, set[str]] = {}
        for kind, listed, events in self.watching:
            if kind == "INBOXES":
                found = ["INBOX"]
            elif kind == "PERSONAL":
                found = names
            elif kind == "SUBSCRIBED":
                found = [n for n in self.store.subscriptions() if n in names]
            elif kind == "SUBTREE":
                found = [n for n in names if any(n == b or n.startswith(b + ".") for b in listed)]
            else:  # MAILBOXES; SELECTED and SELECTED-DELAYED list no names (the selected one is reported anyway)
                found = [n for n in listed if n in names]
            for name in found:
                chosen.setdefault(name, set()).update(events & set(NOTIFY_EVENTS))
        selected = self.folder.name if self.folder is not None else None
        return [(n, e) for n, e in chosen.items() if e and n != selected]

    def send_notify_status(self, name: str, folder, events: set[str]) -> None:
        items = [i for i in ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ")
                 if any(i in NOTIFY_EVENTS[e] for e in events)]
        self.respond(b"* STATUS " + self.shown(name) + b" (" + self.status_values(folder, items) + b")")

    def report_watched(self, every: bool = False) -> None:
        """NOTIFY: a STATUS line for each watched mailbox whose counts changed since last told (every: for each)."""
        for name, events in self.watched_mailboxes():
            if (folder := self.store.folder(name)) is None:
                continue
            now = (len(folder.uids), folder.uidnext, folder.modseq)
            if every or self.watched.get(name, now) != now:
                self.send_notify_status(name, folder, events)
            self.watched[name] = now

    async def cmd_noop(self, tag, args):
        args.end()

    async def cmd_logout(self, tag, args):
        args.end()
        self.respond(b"* BYE Logging out")
        self.closing = True

    # -- Not authenticated -----------------------------------------------------------------
    def starttls(self, tag, args) -> None:
        """RFC 3501 6.2.1. What the client sent after STARTTLS in the clear must not count as sent
        over TLS (the "STARTTLS command injection" attack): the engine drops it."""
        try:
            args.end()
        except ParseError as exc:
            self.send(f"{tag} BAD STARTTLS: {exc}\r\n")
            return
        if self.tls:
            self.send(f"{tag} BAD TLS is already active\r\n")
            return
        self.start_tls(f"{tag} OK Begin TLS negotiation now\r\n")

    def authenticated(self, user: str) -> str:
        """Logged in (LOGIN and AUTHENTICATE have refused a password in the clear before they checked it)."""
        self.state, self.user = AUTHENTICATED, user
        self.transcript.login(user)
        self.store = self.service.user_store(user)
        log.info("session %s: %s logged in", self.id, user)
        return f"[CAPABILITY {self.capabilities()}] Logged in"

    async def cmd_login(self, tag, args):
        user, password = (text.decode("utf-8", "replace") for text in args.rest(args.astring, args.astring))
        if self.cleartext_refused:  # LOGINDISABLED: refused before the password is even looked at
            raise No("[PRIVACYREQUIRED] Use STARTTLS (or the imaps port) before sending a password")
        name, verdict = profiles.check_login(self.profile, self.service.ctx.data_dir.parent, user, password)
        if name is None:
            raise No(self.login_refused(verdict))
        return self.authenticated(name)

    def login_refused(self, verdict: str) -> str:
        """The NO text for a failed login: the course's, or the provider's (wire/profiles.py)."""
        if self.profile is None:
            return "[AUTHENTICATIONFAILED] Invalid credentials"
        return self.profile.reply("imap", verdict)

    async def cmd_authenticate(self, tag, args):
        args.sp()
        mechanism = args.atom().upper()
        initial = None
        if not args.at_end():
            args.sp()
            initial = args._run(frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
                                "a base64 initial response")
        args.end()
        oauth2 = mechanism in ("XOAUTH2", "OAUTHBEARER") and self.profile is not None and self.profile.oauth
        if mechanism != "PLAIN" and not oauth2:
            raise No("[CANNOT] Unsupported authentication mechanism (only PLAIN)")
        if self.cleartext_refused:
            raise No("[PRIVACYREQUIRED] Use STARTTLS (or the imaps port) before sending a password")
        if initial is None:
            initial = await self.challenge(b"")
        if oauth2:
            return await self.authenticate_oauth2(mechanism, initial)
        try:
            decoded = b"" if initial == b"=" else base64.b64decode(initial, validate=True)
            authzid, authcid, password = decoded.decode("utf-8").split("\0")
        except (binascii.Error, ValueError):
            raise Bad("malformed PLAIN response (base64 of authzid NUL user NUL password)") from None
        name, verdict = profiles.check_login(self.profile, self.service.ctx.data_dir.parent, authcid, password)
        if authzid not in ("", authcid) or name is None:
            raise No(self.login_refused(verdict))
        return self.authenticated(name)

    async def authenticate_oauth2(self, mechanism: str, initial: bytes):
        """XOAUTH2 / OAUTHBEARER (RFC 7628): an access token from the course's token endpoint (wire/oauth.py). A bad
        token gets NO; from Gmail only after the error sent as a challenge (base64 JSON) and an empty answer."""
        try:
            parsed = oauth.parse_sasl(mechanism, base64.b64decode(initial, validate=True))
        except binascii.Error:
            raise Bad(f"malformed {mechanism} response (base64)") from None
        state_dir = self.service.ctx.data_dir.parent
        if parsed is not None and oauth.check_access_token(state_dir, parsed[1], parsed[0]) == "ok":
            return self.authenticated(oauth.account(parsed[0]))
        if self.profile.oauth_challenge:
            await self.challenge(base64.b64encode(oauth.ERROR_JSON.encode()))
        raise No(self.profile.reply("imap", "failed"))

    async def challenge(self, data: bytes) -> bytes:
        """A SASL challenge "+ data" and the client's answer; "*" cancels (RFC 3501 6.2.2)."""
        self.respond(b"+ " + data)
        await self.flush()
        answer = await self.read_line()  # the engine hands us the next line
        if answer is None:
            raise ConnectionError
        if answer.strip() == b"*":
            raise Bad("authentication cancelled")
        return answer

    # -- Authenticated ---------------------------------------------------------------------
    async def cmd_select(self, tag, args, readonly: bool = False):
        args.sp()
        name = args.mailbox()
        qresync = self.select_parameters(args)
        args.end()
        if self.profile is not None and self.profile.id_before_select and not self.identified:
            raise No(f"{'EXAMINE' if readonly else 'SELECT'} {self.profile.select_refused}")  # 163: ID first
        self.deselect()
        if (folder := self.store.folder(name)) is None:
            raise No("[NONEXISTENT] No such mailbox")
        self.folder, self.readonly, self.state = folder, readonly, SELECTED
        self.view = list(folder.uids)
        self.recent = set(folder.recent_pool) if readonly else folder.claim_recent()
        self.seen_modseq = folder.modseq
        self.known_flags = folder.all_flags()
        flags = " ".join(self.known_flags)
        self.untagged(f"FLAGS ({flags})")
        self.untagged(f"{len(self.view)} EXISTS")
        self.untagged(f"{len(self.recent)} RECENT")
        unseen = next((seq for seq, uid in enumerate(self.view, 1)
                       if "\\Seen" not in folder.by_uid[uid].flags), None)
        if unseen is not None:
            self.untagged(f"OK [UNSEEN {unseen}] Message {unseen} is the first unseen")
        self.untagged(f"OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid")
        self.untagged(f"OK [UIDNEXT {folder.uidnext}] Predicted next UID")
        permanent = "" if readonly else f"{flags} \\*"
        self.untagged(f"OK [PERMANENTFLAGS ({permanent})] Flags permitted")
        self.condstore_select(qresync)
        return f"[{'READ-ONLY' if readonly else 'READ-WRITE'}] {'EXAMINE' if readonly else 'SELECT'} completed"

    def select_parameters(self, args: Args) -> tuple | None:
        """SELECT's " (CONDSTORE)" (RFC 7162 3.1.8) or " (QRESYNC (uidvalidity modseq [known-uids]))" (3.2.5)."""
        if args.accept(b" (CONDSTORE)"):
            self.enabled.add("CONDSTORE")
            return None
        if not args.accept(b" (QRESYNC ("):
            return None
        if "QRESYNC" not in self.enabled:
            raise Bad("ENABLE QRESYNC first")
        validity = args.nz_number()
        args.sp()
        since = args.nz_number()
        known = None
        if args.accept(b" "):
            known = args.sequence_set()
            if args.accept(b" ("):  # the sequence match data only saves work: skipped over
                args.sequence_set()
                args.sp()
                args.sequence_set()
                args.expect(b")")
        args.expect(b"))")
        return validity, since, known

    def condstore_select(self, qresync: tuple | None) -> None:
        """After SELECT with CONDSTORE on, HIGHESTMODSEQ; with QRESYNC's parameters, what changed since."""
        if "CONDSTORE" in self.enabled:
            self.untagged(f"OK [HIGHESTMODSEQ {self.folder.modseq}] Highest")
        if qresync is not None and qresync[0] == self.folder.uidvalidity:
            self.resync(qresync[1], qresync[2])

    cmd_examine = functools.partialmethod(cmd_select, readonly=True)

    async def cmd_create(self, tag, args):
        [name] = args.rest(args.mailbox)
        if name == "INBOX":
            raise No("[ALREADYEXISTS] INBOX always exists")
        self.store.create(name)

    async def cmd_delete(self, tag, args):
        [name] = args.rest(args.mailbox)
        if self.folder is not None and self.folder.name == name:
            self.deselect()
        self.store.delete(name)

    async def cmd_rename(self, tag, args):
        old, new = args.rest(args.mailbox, args.mailbox)
        self.store.rename(old, new)

    async def cmd_subscribe(self, tag, args, on: bool = True):
        [name] = args.rest(args.mailbox)
        if on and not self.store.exists(name):
            raise No("[NONEXISTENT] No such mailbox")
        self.store.set_subscribed(name, on)

    cmd_unsubscribe = functools.partialmethod(cmd_subscribe, on=False)

    async def cmd_list(self, tag, args, lsub: bool = False):
        """LIST / LSUB, with LIST-EXTENDED's options, SPECIAL-USE and LIST-STATUS (see listing.py)."""
        request = listing.parse(args, lsub)
        kind = "LSUB" if lsub else "LIST"
        if request.patterns == [""] and not request.extended and not lsub:
            self.untagged(f'{kind} (\\Noselect) "." ""')  # the hierarchy delimiter and root (RFC 3501 6.3.8)
            return
        if request.status_items:
            self.status_values(None, request.status_items)  # unknown items: BAD before any output
        # patterns are matched against the names as this session spells them (UTF-8 after ENABLE UTF8=ACCEPT)
        stored = {self.spelled(n): n for n in self.store.names()}
        subscribed = [self.spelled(n) for n in self.store.subscriptions()]
        special_use = None if self.profile is None else {self.spelled(n): a for n, a in self.profile.folders.items()}
        for name, attributes, childinfo in listing.listing(request, list(stored), subscribed, special_use):
            extra = b' ("CHILDINFO" ("SUBSCRIBED"))' if childinfo else b""
            self.respond(f'* {kind} ({" ".join(attributes)}) "." '.encode() + astring(name, self.utf8) + extra)
            if request.status_items:
                self.list_status(stored.get(name, name), name, attributes, request.status_items)

    def list_status(self, stored_name: str, name: str, attributes: list[str], items: list[str]) -> None:
        """LIST-STATUS (RFC 5819): after a selectable mailbox's LIST line, its STATUS."""
        if "\\NonExistent" not in attributes and "\\Noselect" not in attributes:
            folder = self.store.folder(stored_name)
            if folder is not None:
                self.respond(b"* STATUS " + astring(name, self.utf8) + b" (" + self.status_values(folder, items) + b")")

    cmd_lsub = functools.partialmethod(cmd_list, lsub=True)

    async def cmd_namespace(self, tag, args):
        args.end()
        self.untagged('NAMESPACE (("" ".")) NIL NIL')

    async def cmd_status(self, tag, args):
        name, items = args.rest(args.mailbox, lambda: listing._status_items(args))  # LIST-STATUS reads them too
        if (folder := self.store.folder(name)) is None:
            raise No("[NONEXISTENT] No such mailbox")
        self.respond(b"* STATUS " + self.shown(name) + b" (" + self.status_values(folder, items) + b")")

    def status_values(self, folder, items: list[str]) -> bytes:
        """ "MESSAGES 3 UNSEEN 1" for STATUS and LIST-STATUS; folder None only checks the item names."""
        values = {
            "MESSAGES": lambda: len(folder.uids),
            "RECENT": lambda: len(folder.recent_pool) + (len(self.recent) if folder is self.folder else 0),
            "UIDNEXT": lambda: folder.uidnext,
            "UIDVALIDITY": lambda: folder.uidvalidity,
            "UNSEEN": lambda: sum(1 for m in folder.by_uid.values() if "\\Seen" not in m.flags),
            "HIGHESTMODSEQ": lambda: folder.modseq,
            "SIZE": lambda: sum(folder.size(m) for m in folder.by_uid.values()),
        }
        if unknown := [i for i in items if i not in values]:
            raise Bad(f"unknown status item {unknown[0]}")
        if folder is None:
            return b""
        return " ".join(f"{item} {values[item]()}" for item in items).encode()

    async def cmd_append(self, tag, args):
        """APPEND mailbox [flags] [date] message, repeated for MULTIAPPEND (RFC 3502): all or none."""
        args.sp()
        name = args.mailbox()
        if (folder := self.store.folder(name)) is None:  # before CATENATE's URLs are looked at (RFC 4469 5)
            raise No("[TRYCREATE] No such mailbox")
        batch = []
        while True:
            args.sp()
            flags, when = [], None
            if args.peek() == ord("("):
                flags = args.list_of(args.flag)
                args.sp()
            if args.peek() == ord('"'):
                when = args.date_time().timestamp()
                args.sp()
            data = args.string() if args.peek() in (ord("{"), ord('"')) else self.extended_message(args)
            batch.append((flags, when, _storable(data)))
            if args.at_end():
                break
        prepared = [(self.flags_for_store(folder, flags), when, data) for flags, when, data in batch]
        uids = [folder.add(data, stored, when, save=False).uid for stored, when, data in prepared]
        folder.save_uids()  # once for the whole batch
        return f"[APPENDUID {folder.uidvalidity} {sequence_string(uids)}] APPEND completed"

    def extended_message(self, args: Args) -> bytes:
        """APPEND's message as extensions send it: CATENATE (...) (RFC 4469), UTF8 (~{n}...) (RFC 6855 4)
        or a literal8 ~{n}, which may carry NULs (RFC 3516)."""
        if args.accept(b"CATENATE "):
            return self.catenate(args)
        if args.accept(b"UTF8 ("):
            if not self.utf8:
                raise Bad("APPEND UTF8 needs ENABLE UTF8=ACCEPT")
            if args.peek() != ord("~"):
                raise Bad("APPEND UTF8 takes a literal8, ~{n}")
            data = args.literal(binary=True)
            args.expect(b")")
            return data
        if args.peek() == ord("~"):
            return args.literal(binary=True)
        raise ParseError("expected a quoted string or a literal")

    def catenate(self, args: Args) -> bytes:
        """CATENATE (RFC 4469): a message built from TEXT literals and URLs of (parts of) stored messages."""
        args.expect(b"(")
        pieces = []
        while not args.accept(b")"):
            if pieces:
                args.sp()
            kind = args.atom().upper()
            args.sp()
            if kind == "TEXT":
                pieces.append(args.literal(binary=True))
            elif kind == "URL":
                pieces.append(self.url_data(args.astring().decode("utf-8", "replace")))
            else:
                raise Bad(f"expected TEXT or URL in CATENATE, found {kind[:20]}")
            if sum(map(len, pieces)) > MAX_LITERAL:
                raise No("[TOOBIG] The message would be larger than APPENDLIMIT")
        return b"".join(pieces)

    def url_data(self, url: str) -> bytes:
        """The octets an IMAP URL (RFC 5092) names in this user's mailboxes: /box;UIDVALIDITY=v/;UID=n/;SECTION=s."""
        match = _IMAP_URL.fullmatch(url)
        folder = self.store.folder(urllib.parse.unquote(match.group("mailbox"))) if match else None
        msg = folder.by_uid.get(int(match.group("uid"))) if folder is not None else None
        if msg is None or (match.group("uidvalidity") and int(match.group("uidvalidity")) != folder.uidvalidity):
            raise No(f"[BADURL {url[:200]}] No such message")
        data = raw = folder.read(msg) or b""
        if match.group("section"):
            try:
                numbers, text, names = parse_section(Args(b"[" + match.group("section").encode() + b"]"))
            except ParseError:
                raise No(f"[BADURL {url[:200]}] Bad section") from None
            if (data := mime.section_data(mime.Part(raw), numbers, text, names)) is None:
                raise No(f"[BADURL {url[:200]}] No such section")
        if match.group("partial"):
            offset, _, length = match.group("partial").partition(".")
            data = data[int(offset):int(offset) + int(length)] if length else data[int(offset):]
        return data

    def flags_for_store(self, folder: Folder, flags: list[str], create: bool = True) -> set[str]:
        """The flags a client named, spelled as stored; \\Recent cannot be set and is ignored."""
        result = set()
        for flag in flags:
            if flag.lower() == "\\recent":
                continue
            if (canonical := folder.canonical_flag(flag, create)) is None:
                if flag.startswith("\\"):
                    raise Bad(f"unknown system flag {flag}")
                if create:
                    raise No("[LIMIT] Too many keywords in this mailbox")
                continue
            result.add(canonical)
        return result

    async def cmd_idle(self, tag, args):
        """RFC 2177: report changes as they happen until the client sends DONE."""
        args.end()
        self.respond(b"+ idling")
        await self.flush()
        line_task = self.read_line()  # waiting for DONE counts as idle: the autologout timer runs on
        while not line_task.done():
            await asyncio.wait({line_task}, timeout=IDLE_POLL)
            if self.folder is not None:
                self.folder.scan()
                self.report_changes()
            if self.watching:
                self.report_watched()
            await self.flush()
        if (line := line_task.result()) is None:
            raise ConnectionError
        if line.strip().upper() != b"DONE":
            raise Bad("expected DONE")
        return "IDLE terminated"

    # -- Selected --------------------------------------------------------------------------
    cmd_check = cmd_noop  # RFC 3501 6.4.1: a checkpoint; every change is on disk already

    async def cmd_close(self, tag, args):
        args.end()
        if not self.readonly:  # CLOSE expunges silently
            self.folder.expunge([m for m in self.folder.by_uid.values() if "\\Deleted" in m.flags])
        self.deselect()

    async def cmd_unselect(self, tag, args):
        args.end()
        self.deselect()

    async def cmd_expunge(self, tag, args, uid: bool = False):
        allowed = None
        if uid:
            args.sp()
            allowed = {m.uid for _, m in self.messages(args.sequence_set(), uid=True)}
        args.end()
        if self.readonly:
            raise No("[READ-ONLY] The mailbox is read-only")
        doomed = [(seq, m) for seq, m in self.messages([(1, None)], uid=False, strict=False)
                  if "\\Deleted" in m.flags and (allowed is None or m.uid in allowed)]
        self.folder.expunge([m for _, m in doomed])
        self.announce_expunged([seq - 1 for seq, _ in doomed])

    async def matching(self, args: Args) -> list[tuple[int, object]]:
        """(seq, Msg) of the messages that match the search program args hold (SEARCH, SORT, THREAD)."""
        test, self.search_modseq = search.parse_program(args)
        self.last_test = test
        if self.search_modseq:
            self.enable_condstore()
        folder, recent = self.folder, self.recent
        candidate = search.Candidate(folder, len(self.view), self.view[-1] if self.view else 0, self.saved)
        found = []
        pause = _Pause()
        for seq, u in enumerate(list(self.view), 1):
            if (msg := folder.by_uid.get(u)) is None:
                continue
            candidate.reset(msg, seq, u in recent)
            if folder.stored_size(msg) > SEARCH_IN_THREAD:  # 1,000 BODY keys over 50 MiB take seconds:
                matched = await self.in_thread(test, candidate)  # the loop serves the others meanwhile
            else:
                matched = test(candidate)
            if matched:
                found.append((seq, msg))
            await pause()
        return found

    async def cmd_search(self, tag, args, uid: bool = False):
        args.sp()
        options = self.search_options(args)
        found = await self.matching(args)
        if options is not None:
            return self.search_return(tag, options, found, uid)
        modseq = b" (MODSEQ %d)" % max(m.modseq for _, m in found) if self.search_modseq and found else b""
        self.respond(b"* SEARCH" + b"".join(b" %d" % (m.uid if uid else seq) for seq, m in found) + modseq)

    def search_options(self, args: Args) -> set | None:
        """SEARCH's RETURN (...) options (RFC 4731); after ENABLE UTF8=ACCEPT no CHARSET (RFC 6855 3)."""
        options = _return_options(args)
        if self.utf8 and args.data[args.pos:args.pos + 8].upper() == b"CHARSET ":
            raise Bad("no CHARSET after ENABLE UTF8=ACCEPT: search strings are UTF-8 (RFC 6855 3)")
        return options

    def search_return(self, tag: str, options: set, found: list, uid: bool) -> None:
        """SEARCH RETURN (...): one ESEARCH response; with UPDATE the result is kept current (RFC 5267 4.2)."""
        if "UPDATE" in options:
            self.updates[tag] = (self.last_test, uid, {m.uid for _, m in found})
        self.esearch(tag, options, [m.uid if uid else seq for seq, m in found], [m.uid for _, m in found], uid)

    def esearch(self, tag: str, options: set, numbers: list[int], uids: list[int], uid: bool,
                sorted_result: bool = False) -> None:
        """RFC 4731 ESEARCH: MIN, MAX, COUNT, ALL (as a sequence set) of a result; RFC 5182 SAVE keeps it for $.
        With sorted_result (ESORT, RFC 5267) numbers are in SORT's order, and MIN and MAX are its first and last."""
        ordered = numbers if sorted_result else sorted(numbers)
        in_order = uids if sorted_result else sorted(uids)
        ends = (in_order[:1] if "MIN" in options else []) + (in_order[-1:] if "MAX" in options else [])
        if "SAVE" in options:
            self.saved = set(ends) if ends and not options & {"ALL", "COUNT"} else set(uids)
            if options == {"SAVE"}:
                return  # SAVE alone: no ESEARCH response (RFC 5182 2.4)
        if not options - QUIET_OPTIONS:
            options = options | ({"ALL"} if options <= {"SAVE", "CONTEXT"} else set())
        parts = [b"* ESEARCH (TAG " + astring(tag) + b")"] + ([b"UID"] if uid else [])
        if "MIN" in options and ordered:
            parts.append(b"MIN %d" % ordered[0])
        if "MAX" in options and ordered:
            parts.append(b"MAX %d" % ordered[-1])
        if "ALL" in options and ordered:
            parts.append(b"ALL " + sequence_string(ordered).encode())
        if "COUNT" in options:
            parts.append(b"COUNT %d" % len(ordered))
        for first, last in (o for o in options if isinstance(o, tuple)):  # PARTIAL
            window = ordered[first - 1:last]
            parts.append(b"PARTIAL (%d:%d %s)" % (first, last, sequence_string(window).encode() if window else b"NIL"))
        if self.search_modseq and uids:  # RFC 7162 3.1.5: the highest MODSEQ of what was returned
            shown = uids if options & {"ALL", "COUNT"} else ends
            present = self.folder.by_uid
            parts.append(b"MODSEQ %d" % max((present[u].modseq for u in shown if u in present), default=0))
        self.respond(b" ".join(parts))

    async def cmd_cancelupdate(self, tag, args):
        """RFC 5267 4.3: stop ADDTO/REMOVEFROM for the searches with these tags."""
        tags = [tag.decode("ascii", "replace") for tag in args.spaced(args.string)]
        if not tags:
            raise Bad("CANCELUPDATE needs a tag")
        for name in tags:
            self.updates.pop(name, None)

    async def cmd_sort(self, tag, args, uid: bool = False):
        """RFC 5256: SORT (keys) charset criteria -> the matching numbers in that order (RFC 5267: RETURN)."""
        args.sp()
        options = _return_options(args)
        keys = sort.parse_criteria(args)
        args.sp()
        found = await self.matching(_with_charset(args, self.utf8))
        headers = await self.read_headers(found) if sort.needs_headers(keys) else {}
        order = sort.sort_messages(self.folder, found, keys, headers)
        uids = [self.view[seq - 1] for seq in order]
        numbers = uids if uid else order
        if options is None:
            self.respond(b"* SORT" + b"".join(b" %d" % n for n in numbers))
        else:
            self.esearch(tag, options, numbers, uids, uid, sorted_result=True)

    async def cmd_thread(self, tag, args, uid: bool = False):
        """RFC 5256: THREAD algorithm charset criteria -> nested lists of the matching numbers."""
        args.sp()
        algorithm = args.atom().upper()
        if algorithm not in thread.ALGORITHMS:
            raise Bad(f"unknown threading algorithm {algorithm}")
        args.sp()
        found = await self.matching(_with_charset(args, self.utf8))
        headers = await self.read_headers(found)
        if uid:
            found = [(m.uid, m) for _, m in found]
        self.respond(b"* THREAD " + thread.render(thread.thread(self.folder, found, algorithm, headers)))

    async def read_headers(self, found: list[tuple[int, object]]) -> dict[int, mime.Part]:
        """Each message's header as a Part, by UID, for SORT and THREAD (the loop is given back meanwhile)."""
        headers = {}
        pause = _Pause()
        for _, msg in found:
            headers[msg.uid] = mime.Part(sort.header_only(self.folder, msg))
            await pause()
        return headers

    async def cmd_fetch(self, tag, args, uid: bool = False):
        args.sp()
        ranges = args.sequence_set()
        args.sp()
        items = parse_fetch_items(args)
        changed_since, vanished = _fetch_modifiers(args, uid and "QRESYNC" in self.enabled)
        args.end()
        if uid and not any(i.name == "UID" for i in items):
            items.insert(0, FetchItem("UID"))
        if changed_since is not None or any(i.name == "MODSEQ" for i in items):
            self.condstore_fetch(ranges, items, vanished)
        chosen = self.messages(ranges, uid)
        if changed_since is not None:
            chosen = [(seq, msg) for seq, msg in chosen if msg.modseq > changed_since]
        out, fetch_one, clock = self.out, self.fetch_one, time.monotonic
        until = clock() + SLICE
        for seq, msg in chosen:
            out += b"* %d FETCH (%b)\r\n" % (seq, fetch_one(msg, items))
            if len(out) > FLUSH_AT:
                await self.flush()
            elif clock() >= until:  # one loop serves every service: let the others run
                await asyncio.sleep(0)
                until = clock() + SLICE

    def condstore_fetch(self, ranges, items: list[FetchItem], vanished: bool) -> None:
        """RFC 7162: MODSEQ in every response (CONDSTORE on); with VANISHED first the UIDs expunged from the set."""
        if vanished:
            top = self.folder.uidnext - 1
            gone = [u for lo, hi in merged_ranges(ranges, top) for u in range(lo, min(hi, top) + 1)
                    if u not in self.folder.by_uid]
            if gone:
                self.respond(b"* VANISHED (EARLIER) " + sequence_string(gone).encode())
        self.enable_condstore()
        if not any(i.name == "MODSEQ" for i in items):
            items.append(FetchItem("MODSEQ"))

    def fetch_one(self, msg, items: list[FetchItem]) -> bytes:
        """The data items of one message's FETCH response."""
        folder = self.folder
        raw = part = None
        out = []
        if not self.readonly and "\\Seen" not in msg.flags and any(i.sets_seen for i in items):
            folder.set_flags(msg, msg.flags | {"\\Seen"}, self.id)
            if not any(i.name == "FLAGS" for i in items):
                items = items + [FetchItem("FLAGS")]
        for item in items:
            name = item.name
            if name == "UID":
                out.append(b"UID %d" % msg.uid)
            elif name == "MODSEQ":
                out.append(b"MODSEQ (%d)" % msg.modseq)
            elif name == "FLAGS":
                out.append(b"FLAGS " + self.flags_of(msg))
            elif name == "INTERNALDATE":
                out.append(b"INTERNALDATE " + imap_datetime(folder.mtime(msg)))
            elif name == "RFC822.SIZE":
                out.append(b"RFC822.SIZE %d" % folder.size(msg))
            else:
                if raw is None:
                    raw = folder.read(msg) or b""
                if name in ("ENVELOPE", "BODY", "BODYSTRUCTURE") or (name == "BODY[]" and (item.numbers or item.text)):
                    part = part or mime.Part(raw)
                if name == "ENVELOPE":
                    out.append(b"ENVELOPE " + mime.envelope(part))
                elif name in ("BODY", "BODYSTRUCTURE"):
                    out.append(name.encode() + b" " + mime.bodystructure(part, extended=name == "BODYSTRUCTURE"))
                elif name.startswith("RFC822"):  # the older names of BODY[], BODY[HEADER] and BODY[TEXT]
                    header, text = mime.split_header(raw)
                    out.append(item.label + b" " + literal({"RFC822": raw, "RFC822.HEADER": header}.get(name, text)))
                elif name in ("BINARY[]", "BINARY.SIZE[]"):
                    out.append(self.binary_item(item, raw))
                else:
                    data = raw if not (item.numbers or item.text) else mime.section_data(
                        part, item.numbers, item.text, item.names)
                    if data is not None and item.partial:
                        offset, count = item.partial
                        data = data[offset:offset + count]
                    out.append(item.label + b" " + (b"NIL" if data is None else literal(data)))
        return b" ".join(out)

    @staticmethod
    def binary_item(item: FetchItem, raw: bytes) -> bytes:
        """BINARY[...] and BINARY.SIZE[...] (RFC 3516): a part with its transfer encoding undone."""
        try:
            data = mime.binary_data(mime.Part(raw), item.numbers) if item.numbers else raw
        except ValueError:
            raise No("[UNKNOWN-CTE] Cannot decode this part's Content-Transfer-Encoding") from None
        if data is None:
            raise No("[NONEXISTENT] No such body part")
        if item.name == "BINARY.SIZE[]":
            return item.label + b" %d" % len(data)
        if item.partial:
            offset, count = item.partial
            data = data[offset:offset + count]
        return item.label + b" " + literal8(data)

    async def cmd_store(self, tag, args, uid: bool = False):
        args.sp()
        ranges = args.sequence_set()
        args.sp()
        unchanged_since = self.store_modifier(args)
        action = args.atom().upper()
        if not (match := re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", action)):
            raise Bad("expected FLAGS, +FLAGS or -FLAGS (optionally .SILENT)")
        args.sp()
        flags = args.list_of(args.flag) if args.peek() == ord("(") else [args.flag(), *args.spaced(args.flag)]
        args.end()
        if self.readonly:
            raise No("[READ-ONLY] The mailbox is read-only")
        mode, silent = match.group(1), bool(match.group(2))
        combine = {"+": operator.or_, "-": operator.sub}.get(mode)  # add, remove, or (no sign) replace
        chosen = self.messages(ranges, uid)
        given = self.flags_for_store(self.folder, flags, create=mode != "-")
        self.announce_flags()
        chosen, modified = _unchanged(chosen, unchanged_since, uid)
        for seq, msg in chosen:
            changed = self.folder.set_flags(msg, combine(msg.flags, given) if combine else given, self.id)
            if not silent or (changed and "CONDSTORE" in self.enabled):  # 3.1.3: MODSEQ even if .SILENT
                self.flags_response(seq, msg, uid)
        if modified:
            return f"[MODIFIED {sequence_string(modified)}] Conditional STORE failed for some messages"

    def store_modifier(self, args: Args) -> int | None:
        """STORE's "(UNCHANGEDSINCE n) " (RFC 7162 3.1.3): change only what nobody changed since MODSEQ n."""
        if not args.accept(b"(UNCHANGEDSINCE "):
            return None
        unchanged_since = args.number()
        args.expect(b") ")
        self.enable_condstore()
        return unchanged_since

    async def cmd_copy(self, tag, args, uid: bool = False, move: bool = False):
        ranges, name = args.rest(args.sequence_set, args.mailbox)
        if (target := self.store.folder(name)) is None:
            raise No("[TRYCREATE] No such mailbox")
        if move and self.readonly:
            raise No("[READ-ONLY] The mailbox is read-only")
        source = self.folder
        pairs = []
        for seq, msg in self.messages(ranges, uid):
            if move:
                new = target.move_in(source, msg, save=False)
            else:
                try:
                    with open(source.file(msg), "rb") as f:
                        data = f.read()
                except OSError:
                    continue  # deleted meanwhile
                new = target.add(data, target.adopt_flags(msg.flags), source.mtime(msg), save=False)
            pairs.append((seq, msg.uid, new.uid))
        target.save_uids()  # once for the whole batch
        if not pairs:
            return f"{'MOVE' if move else 'COPY'} completed (no messages)"
        copyuid = (f"[COPYUID {target.uidvalidity} {sequence_string([p[1] for p in pairs])} "
                   f"{sequence_string([p[2] for p in pairs])}]")
        if not move:
            return f"{copyuid} COPY completed"
        self.untagged(f"OK {copyuid} Moved")  # RFC 6851: COPYUID comes before the EXPUNGEs
        self.announce_expunged([seq - 1 for seq, _, _ in pairs])
        return "MOVE completed"

    cmd_move = functools.partialmethod(cmd_copy, move=True)


class _Pause:
    """await pause() in a long loop gives the event loop back every SLICE seconds: every service of the process
    shares the loop, so a command that computes for a second would silence all of them for that second."""

    def __init__(self):
        self.until = time.monotonic() + SLICE

    async def __call__(self) -> None:
        if time.monotonic() >= self.until:
            await asyncio.sleep(0)
            self.until = time.monotonic() + SLICE


#: A relative IMAP URL (RFC 5092) as CATENATE uses it; "imap://user@host" in front is allowed and ignored.
_IMAP_URL = re.compile(r"(?:imap://[^/]*)?/(?P<mailbox>[^;/]+)(?:;UIDVALIDITY=(?P<uidvalidity>\d{1,10}))?"
                       r"/;UID=(?P<uid>\d{1,10})(?:/;SECTION=(?P<section>[^/;]+))?"
                       r"(?:/;PARTIAL=(?P<partial>\d{1,10}(?:\.\d{1,10})?))?", re.IGNORECASE)

#: NOTIFY (RFC 5465): the events we report, and the STATUS items each one's change shows.
NOTIFY_EVENTS = {"MESSAGENEW": ("MESSAGES", "UIDNEXT", "UIDVALIDITY"), "MESSAGEEXPUNGE": ("MESSAGES",),
                 "FLAGCHANGE": ("UIDVALIDITY", "HIGHESTMODSEQ")}
NOTIFY_FILTERS = ("SELECTED", "SELECTED-DELAYED", "INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE", "MAILBOXES")

#: What SEARCH RETURN (...) may ask for (RFC 4731, RFC 5182's SAVE).
RETURN_OPTIONS = ("MIN", "MAX", "ALL", "COUNT", "SAVE", "UPDATE", "CONTEXT", "PARTIAL")
#: RETURN options that ask for no data in the ESEARCH response itself.
QUIET_OPTIONS = {"SAVE", "UPDATE", "CONTEXT"}


def _notify_event(args: Args) -> str:
    """One event of NOTIFY SET; MessageNew's fetch-att list is read and ignored (we send no FETCH)."""
    event = args.atom().upper()
    if event == "MESSAGENEW" and args.accept(b" ("):
        args.rest_of_list(lambda: parse_fetch_item(args))
    return event


def _return_options(args: Args) -> set | None:
    """ "RETURN (MIN COUNT) " before the search criteria: the options (PARTIAL's range as a tuple);
    None if the command has none."""
    if not args.accept(b"RETURN "):
        return None
    options = args.option_list(RETURN_OPTIONS, "RETURN", {"PARTIAL": _partial_range})
    args.sp()
    return set(options) | ({options["PARTIAL"]} if "PARTIAL" in options else set())


def _partial_range(args: Args) -> tuple[int, int]:
    """RFC 5267 4.4: PARTIAL 1:100, positions in the result (either order)."""
    first = args.nz_number()
    args.expect(b":")
    second = args.nz_number()
    return min(first, second), max(first, second)


def _fetch_modifiers(args: Args, vanished_allowed: bool) -> tuple[int | None, bool]:
    """FETCH's " (CHANGEDSINCE n [VANISHED])" (RFC 7162 3.1.4, 3.2.6): the MODSEQ, and whether VANISHED came."""
    if not args.accept(b" (CHANGEDSINCE "):
        return None, False
    changed_since = args.number()
    vanished = args.accept(b" VANISHED")  # UID FETCH with QRESYNC enabled only
    if vanished and not vanished_allowed:
        raise Bad("VANISHED needs UID FETCH and ENABLE QRESYNC")
    args.expect(b")")
    return changed_since, vanished


def _storable(data: bytes) -> bytes:
    """An APPENDed message with NUL octets (a literal8) stored with its body in base64 (mime.storable)."""
    try:
        return mime.storable(data)
    except ValueError:
        raise No("[UNKNOWN-CTE] NUL octets are kept only in the body of a single-part message") from None


def _unchanged(chosen: list, unchanged_since: int | None, uid: bool) -> tuple[list, list[int]]:
    """UNCHANGEDSINCE: the messages STORE may change, and the numbers of those changed since (MODIFIED)."""
    if unchanged_since is None:
        return chosen, []
    modified = [msg.uid if uid else seq for seq, msg in chosen if msg.modseq > unchanged_since]
    return [(seq, msg) for seq, msg in chosen if msg.modseq <= unchanged_since], modified


def _with_charset(args: Args, utf8: bool) -> Args:
    """SORT and THREAD name the charset without SEARCH's CHARSET keyword: put it in. After ENABLE UTF8=ACCEPT
    only UTF-8 may be named (RFC 6855 3, erratum 4029)."""
    charset = args.astring().decode("ascii", "replace").upper()
    if utf8 and charset != "UTF-8":
        raise Bad(f"{charset[:20]} after ENABLE UTF8=ACCEPT: strings are UTF-8 (RFC 6855 3)")
    if charset not in search.CHARSETS:
        raise search.BadCharset(charset)
    return Args(b"CHARSET " + charset.encode() + args.data[args.pos:])


class IMAPService(LineService, MailService):
    """IMAP on "imap" (plain, offers STARTTLS) and "imaps" (TLS from the first byte), over the mail store."""

    name = "imap"
    listeners = ("imap", "imaps")
    session = Session
    options = {**LineService.options,
               "idle_timeout": Option(float, AUTOLOGOUT, "seconds of silence before the autologout")}

    def __init__(self, ctx):
        super().__init__(ctx)
        self.stores: dict[str, UserStore] = {}

    def user_store(self, user: str) -> UserStore:
        """One UserStore per user, shared by all of that user's sessions."""
        if user not in self.stores:
            self.stores[user] = UserStore(self.data_dir, user)
        return self.stores[user]

    def extra_info(self) -> dict:
        return {"hierarchy_delimiter": "."}
