"""SEARCH (RFC 3501 6.4.4): the search keys, turned into one test per message.

parse_program() reads the criteria ("UNSEEN FROM bob SINCE 1-Mar-2026") and
returns a function that says whether a message matches; the session runs it
over the selected messages. Several keys in a row must all match; OR and
NOT combine keys; parentheses group them.

String keys (FROM, SUBJECT, BODY, ...) match a substring, case-insensitively,
after decoding RFC 2047 encoded words, so "SEARCH CHARSET UTF-8 SUBJECT
Café" finds "=?utf-8?q?Caf=C3=A9?=".
"""

from __future__ import annotations

import bisect
import contextlib
import datetime
import email.header
import email.utils
import operator
import time

from .mime import Part, decoded_text, field_value, header_fields, parse_address_list, split_header
from .syntax import Args, LimitExceeded, ParseError, SavedSet, merged_ranges

CHARSETS = ("US-ASCII", "UTF-8")
#: Most keys one search may hold, and how deep parentheses, NOT and OR may nest. The cost of a
#: search is (keys) x (messages); beyond these a client gets NO [LIMIT] or BAD, not a frozen server.
MAX_KEYS = 1000
MAX_DEPTH = 64
#: A body text longer than this is searched a piece at a time (see contains()).
PIECE = 256 * 1024


class BadCharset(Exception):
    """SEARCH CHARSET names a charset we do not know: NO [BADCHARSET]."""


class Candidate:
    """One message under test, with its data read only when a key needs it."""

    __slots__ = ("folder", "msg", "seq", "recent", "last_seq", "last_uid", "saved", "_raw", "_text")

    def __init__(self, folder, last_seq: int, last_uid: int, saved: set[int] = frozenset()):
        self.folder, self.last_seq, self.last_uid, self.saved = folder, last_seq, last_uid, saved
        self.msg, self.seq, self.recent, self._raw, self._text = None, 0, False, None, None

    def reset(self, msg, seq: int, recent: bool) -> "Candidate":
        """Point at the next message (one Candidate serves a whole search)."""
        self.msg, self.seq, self.recent, self._raw, self._text = msg, seq, recent, None, None
        return self

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = self.folder.read(self.msg) or b""
        return self._raw

    def headers(self) -> dict[str, list[str]]:
        """Decoded, case-folded header values by lower-case name, cached on the message: later searches read no file."""
        if (cache := self.msg.search_cache) is None:
            header = split_header(self.raw())[0]
            cache = {}
            for name, raw in header_fields(header):
                cache.setdefault(name, []).append(decode_header(field_value(raw)).casefold())
            self.msg.search_cache = cache
        return cache

    def header(self, name: str) -> list[str]:
        cache = self.msg.search_cache
        return (cache if cache is not None else self.headers()).get(name, ())

    def addresses(self, name: str) -> list[str]:
        """An address header as the envelope reads it (RFC 3501 6.4.4: FROM etc. match the address): each
        address as "display name <mailbox@host>", each group as its name, however the header wrote them."""
        key = "@" + name
        cache = self.headers()
        if (found := cache.get(key)) is None:
            found = cache[key] = []
            for value in cache.get(name, ()):
                for kind, *data in parse_address_list(value):
                    if kind == "group":
                        found.append(data[0])
                    elif kind == "addr":
                        display, mailbox, host, _ = data
                        found.append(f"{display} <{mailbox}@{host}>" if host else f"{display} <{mailbox}>")
        return found

    def body_text(self) -> str:
        """The decoded text of every text part, read once per message and search."""
        if self._text is None:
            self._text = decoded_text(Part(self.raw())).casefold()
        return self._text

    def sent_date(self) -> datetime.date | None:
        values = self.header("date")
        parsed = email.utils.parsedate_tz(values[0]) if values else None
        if parsed:
            with contextlib.suppress(ValueError):  # a day the calendar lacks
                return datetime.date(parsed[0], parsed[1], parsed[2])
        return None

    def internal_date(self) -> datetime.date:
        return datetime.datetime.fromtimestamp(self.folder.mtime(self.msg)).date()


def decode_header(value: bytes) -> str:
    """Header octets -> text: raw UTF-8 allowed, RFC 2047 encoded words decoded."""
    text = value.decode("utf-8", "replace")
    if "=?" in text:
        with contextlib.suppress(ValueError, LookupError, UnicodeError):  # a malformed word stays as it came
            text = str(email.header.make_header(email.header.decode_header(text)))
    return text


def sequence_test(ranges, uid: bool):
    """A test for "number in this sequence set" (bisect over the merged ranges). "*" is the largest number
    in use, and 5:* matches it even when 5 > last (RFC 3501); "$" is a saved result, as UIDs (RFC 5182)."""
    if isinstance(ranges, SavedSet):
        return lambda c: c.msg.uid in c.saved
    cache: dict[int, tuple[list[int], list[int]]] = {}

    def test(c: "Candidate") -> bool:
        last = c.last_uid if uid else c.last_seq
        if (spans := cache.get(last)) is None:
            merged = merged_ranges(ranges, last)
            spans = cache[last] = ([lo for lo, _ in merged], [hi for _, hi in merged])
        number = c.msg.uid if uid else c.seq
        i = bisect.bisect_right(spans[0], number) - 1
        return i >= 0 and spans[1][i] >= number

    return test


class _Budget:
    """What one search program may still use: keys in all, and parentheses/NOT/OR nesting."""

    def __init__(self):
        self.keys, self.depth = MAX_KEYS, 0
        self.modseq = False  # a MODSEQ key makes the answer name the highest MODSEQ found

    def spend_key(self) -> None:
        self.keys -= 1
        if self.keys < 0:
            raise LimitExceeded(f"[LIMIT] A search may have at most {MAX_KEYS} keys")


def parse_program(args: Args):
    """[CHARSET name SP] key *(SP key) -> (test, whether a MODSEQ key came: RFC 7162 3.1.5)."""
    if args.accept(b"CHARSET "):
        charset = args.astring().decode("ascii", "replace").upper()
        if charset not in CHARSETS:
            raise BadCharset(charset)
        args.sp()
    budget = _Budget()
    keys = [parse_key(args, budget), *args.spaced(lambda: parse_key(args, budget))]
    return _all(keys), budget.modseq


@contextlib.contextmanager
def _deeper(budget: _Budget):
    """One level of nesting more; parsing (and later testing) recurses, so the depth is bounded."""
    budget.depth += 1
    if budget.depth > MAX_DEPTH:
        raise ParseError(f"search keys nested more than {MAX_DEPTH} deep")
    yield
    budget.depth -= 1


def contains(text: str, needle: str) -> bool:
    """needle in text, a piece at a time: one search over a 9 MiB text is one C call that holds the
    GIL for milliseconds, stalling the loop (every other service) although it runs in a worker thread."""
    if len(text) <= PIECE:
        return needle in text
    overlap = max(len(needle) - 1, 0)  # a match may straddle two pieces
    return any(text.find(needle, start, start + PIECE + overlap) >= 0 for start in range(0, len(text), PIECE))


def _has(values, needle: str) -> bool:
    for value in values:  # a loop, not any(): this runs once per message and key, and is faster
        if needle in value:
            return True
    return False


def _all(keys):
    return keys[0] if len(keys) == 1 else lambda c: all(key(c) for key in keys)


def _text(args: Args) -> str:
    """A string argument, case-folded: string keys match case-insensitively."""
    args.sp()
    return args.astring().decode("utf-8", "replace").casefold()


def _flag_key(flag: str, present: bool):
    return lambda c: (flag in c.msg.flags) == present


#: Keys without arguments.
_SIMPLE = {
    "ALL": lambda c: True,
    "ANSWERED": _flag_key("\\Answered", True), "UNANSWERED": _flag_key("\\Answered", False),
    "DELETED": _flag_key("\\Deleted", True), "UNDELETED": _flag_key("\\Deleted", False),
    "DRAFT": _flag_key("\\Draft", True), "UNDRAFT": _flag_key("\\Draft", False),
    "FLAGGED": _flag_key("\\Flagged", True), "UNFLAGGED": _flag_key("\\Flagged", False),
    "SEEN": _flag_key("\\Seen", True), "UNSEEN": _flag_key("\\Seen", False),
    "RECENT": lambda c: c.recent,
    "OLD": lambda c: not c.recent,
    "NEW": lambda c: c.recent and "\\Seen" not in c.msg.flags,
}

def parse_key(args: Args, budget: _Budget):
    """One search-key, with its arguments, as a test function (nesting and count bounded by budget)."""
    budget.spend_key()
    c = args.peek()
    if c == ord("("):
        args.expect(b"(")
        with _deeper(budget):
            return _all(args.rest_of_list(lambda: parse_key(args, budget)))
    if c is not None and (chr(c).isdigit() or c in b"*$"):
        return sequence_test(args.sequence_set(), uid=False)
    word = args.atom().upper()
    if word in _SIMPLE:
        return _SIMPLE[word]
    if word in ("FROM", "TO", "CC", "BCC"):
        name, needle = word.lower(), _text(args)
        return lambda m: _has(m.addresses(name), needle)
    if word == "SUBJECT":
        needle = _text(args)
        return lambda m: _has(m.header("subject"), needle)
    if word == "HEADER":
        args.sp()
        name = args.astring().decode("ascii", "replace").lower()
        needle = _text(args)
        return lambda m: _has(m.header(name), needle)
    if word == "BODY":
        needle = _text(args)
        return lambda m: contains(m.body_text(), needle)
    if word == "TEXT":
        needle = _text(args)
        return lambda m: (any(needle in v for k, vs in m.headers().items() if k[0] != "@" for v in vs)
                          or contains(m.body_text(), needle))
    if word in ("KEYWORD", "UNKEYWORD"):
        args.sp()
        keyword, present = args.flag().lower(), word == "KEYWORD"
        return lambda m: any(f.lower() == keyword for f in m.msg.flags) == present
    if word in ("LARGER", "SMALLER"):
        args.sp()
        size, compare = args.number(), operator.gt if word == "LARGER" else operator.lt
        return lambda m: compare(m.folder.size(m.msg), size)
    if word in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
        args.sp()
        day = args.date()
        compare = {"BEFORE": operator.lt, "ON": operator.eq, "SINCE": operator.ge}[word.removeprefix("SENT")]
        if word.startswith("SENT"):
            return lambda m: (lambda d: d is not None and compare(d, day))(m.sent_date())
        return lambda m: compare(m.internal_date(), day)
    if word in ("MODSEQ", "OLDER", "YOUNGER"):
        return _extension_key(word, args, budget)
    if word == "NOT":
        args.sp()
        with _deeper(budget):
            inner = parse_key(args, budget)
        return lambda m: not inner(m)
    if word == "OR":
        with _deeper(budget):
            args.sp()
            left = parse_key(args, budget)
            args.sp()
            right = parse_key(args, budget)
        return lambda m: left(m) or right(m)
    if word == "UID":
        args.sp()
        return sequence_test(args.sequence_set(), uid=True)
    raise ParseError(f"unknown search key {word}")


def _extension_key(word: str, args: Args, budget: _Budget):
    """MODSEQ n (RFC 7162 3.1.5: changed at or after MODSEQ n; per-flag entries mean any flag), and
    OLDER / YOUNGER n (RFC 5032 WITHIN: INTERNALDATE more / at most n seconds ago)."""
    args.sp()
    if word in ("OLDER", "YOUNGER"):
        seconds, compare = args.nz_number(), operator.gt if word == "OLDER" else operator.le
        return lambda m: compare(time.time() - m.folder.mtime(m.msg), seconds)
    if args.peek() == ord('"'):
        args.quoted()
        args.sp()
        kind = args.atom().lower()
        if kind not in ("priv", "shared", "all"):
            raise ParseError("expected priv, shared or all")
        args.sp()
    since = args.number()
    budget.modseq = True
    return lambda m: m.msg.modseq >= since
