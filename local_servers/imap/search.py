"""SEARCH (RFC 3501 6.4.4): the search keys, turned into one test per message.

parse_program() reads the criteria ("UNSEEN FROM bob SINCE 1-Mar-2026") and
returns a function that says whether a message matches; the session runs it
over the selected messages. Several keys in a row must all match; OR and
NOT combine keys; parentheses group them.

String keys (FROM, SUBJECT, BODY, ...) match a substring, case-insensitively,
after decoding RFC 2047 encoded words, so "SEARCH CHARSET UTF-8 SUBJECT
Café" finds "=?utf-8?q?Caf=C3=A9?=". Decoded headers are cached per
message, so a second search does not read the files again.
"""

from __future__ import annotations

import datetime
import email
import email.header
import email.policy
import email.utils

from .mime import field_value, header_fields, parse_address_list, split_header
from .syntax import Args, ParseError

CHARSETS = ("US-ASCII", "UTF-8")


class BadCharset(Exception):
    """SEARCH CHARSET names a charset we do not know: NO [BADCHARSET]."""


class Candidate:
    """One message under test, with its data read only when a key needs it."""

    __slots__ = ("folder", "msg", "seq", "recent", "last_seq", "last_uid", "_raw")

    def __init__(self, folder, last_seq: int, last_uid: int):
        self.folder, self.last_seq, self.last_uid = folder, last_seq, last_uid
        self.msg, self.seq, self.recent, self._raw = None, 0, False, None

    def reset(self, msg, seq: int, recent: bool) -> "Candidate":
        """Point at the next message (one Candidate serves a whole search)."""
        self.msg, self.seq, self.recent, self._raw = msg, seq, recent, None
        return self

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = self.folder.read(self.msg) or b""
        return self._raw

    def headers(self) -> dict[str, list[str]]:
        """Decoded, case-folded header values by lower-case name (cached on the message)."""
        cache = self.msg.search_cache
        if cache is None:
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
        """An address header as the envelope reads it (RFC 3501 6.4.4: FROM etc. match the address).

        Each address becomes "display name <mailbox@host>" and each group its
        name, so "user@domain.org" is found however the header wrote it
        (with comments, routes or folded lines), and a display name too.
        """
        key = "@" + name
        cache = self.headers()
        found = cache.get(key)
        if found is None:
            found = []
            for value in cache.get(name, ()):
                for kind, *data in parse_address_list(value):
                    if kind == "group":
                        found.append(data[0])
                    elif kind == "addr":
                        display, mailbox, host, _ = data
                        found.append(f"{display} <{mailbox}@{host}>" if host else f"{display} <{mailbox}>")
            cache[key] = found
        return found

    def body_text(self) -> str:
        """The decoded text of every text part (transfer encodings and charsets undone)."""
        message = email.message_from_bytes(self.raw(), policy=email.policy.compat32)
        texts = []
        for part in message.walk():
            if part.is_multipart() or part.get_content_maintype() not in ("text", "message"):
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace")
                             if _known_charset(part.get_content_charset()) else payload.decode("utf-8", "replace"))
        return "\n".join(texts).casefold()

    def sent_date(self) -> datetime.date | None:
        values = self.header("date")
        parsed = email.utils.parsedate_tz(values[0]) if values else None
        if not parsed:
            return None
        try:
            return datetime.date(parsed[0], parsed[1], parsed[2])
        except ValueError:
            return None

    def internal_date(self) -> datetime.date:
        return datetime.datetime.fromtimestamp(self.folder.mtime(self.msg)).date()


def _known_charset(name: str | None) -> bool:
    if not name:
        return False
    try:
        "".encode(name)
        return True
    except LookupError:
        return False


def decode_header(value: bytes) -> str:
    """Header octets -> text: raw UTF-8 allowed, RFC 2047 encoded words decoded."""
    text = value.decode("utf-8", "replace")
    if "=?" in text:
        try:
            text = str(email.header.make_header(email.header.decode_header(text)))
        except (ValueError, LookupError, UnicodeError):
            pass
    return text




def in_sequence_set(ranges, number: int, last: int) -> bool:
    """Is number in a sequence set? "*" is the last number in use; 5:* also matches it when 5 > last."""
    for first, second in ranges:
        lo = last if first is None else first
        hi = last if second is None else second
        if lo > hi:
            lo, hi = hi, lo
        if lo <= number <= hi:
            return True
    return False


def parse_program(args: Args):
    """[CHARSET name SP] key *(SP key) -> (charset, test)."""
    charset = "US-ASCII"
    if args.accept(b"CHARSET "):
        charset = args.astring().decode("ascii", "replace").upper()
        if charset not in CHARSETS:
            raise BadCharset(charset)
        args.sp()
    keys = [parse_key(args)]
    while not args.at_end():
        args.sp()
        keys.append(parse_key(args))
    return charset, _all(keys)


def _has(values, needle: str) -> bool:
    for value in values:
        if needle in value:
            return True
    return False


def _all(keys):
    if len(keys) == 1:
        return keys[0]
    return lambda c: all(key(c) for key in keys)


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

_ADDRESS_HEADERS = {"FROM": "from", "TO": "to", "CC": "cc", "BCC": "bcc"}


def parse_key(args: Args):
    """One search-key, with its arguments, as a test function."""
    c = args.peek()
    if c == ord("("):
        args.expect(b"(")
        keys = [parse_key(args)]
        while not args.accept(b")"):
            args.sp()
            keys.append(parse_key(args))
        return _all(keys)
    if c is not None and (chr(c).isdigit() or c == ord("*")):
        ranges = args.sequence_set()
        return lambda m: in_sequence_set(ranges, m.seq, m.last_seq)
    word = args.atom().upper()
    if word in _SIMPLE:
        return _SIMPLE[word]
    if word in _ADDRESS_HEADERS:
        name, needle = _ADDRESS_HEADERS[word], _text(args)
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
        return lambda m: needle in m.body_text()
    if word == "TEXT":
        needle = _text(args)
        return lambda m: (any(needle in v for k, vs in m.headers().items() if k[0] != "@" for v in vs)
                          or needle in m.body_text())
    if word in ("KEYWORD", "UNKEYWORD"):
        args.sp()
        keyword = args.flag().lower()
        present = word == "KEYWORD"
        return lambda m: any(f.lower() == keyword for f in m.msg.flags) == present
    if word in ("LARGER", "SMALLER"):
        args.sp()
        size = args.number()
        if word == "LARGER":
            return lambda m: m.folder.size(m.msg) > size
        return lambda m: m.folder.size(m.msg) < size
    if word in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
        args.sp()
        day = args.date()
        sent = word.startswith("SENT")
        compare = {"BEFORE": lambda d: d < day, "ON": lambda d: d == day,
                   "SINCE": lambda d: d >= day}[word[4:] if sent else word]
        if sent:
            return lambda m: (lambda d: d is not None and compare(d))(m.sent_date())
        return lambda m: compare(m.internal_date())
    if word == "NOT":
        args.sp()
        inner = parse_key(args)
        return lambda m: not inner(m)
    if word == "OR":
        args.sp()
        left = parse_key(args)
        args.sp()
        right = parse_key(args)
        return lambda m: left(m) or right(m)
    if word == "UID":
        args.sp()
        ranges = args.sequence_set()
        return lambda m: in_sequence_set(ranges, m.msg.uid, m.last_uid)
    raise ParseError(f"unknown search key {word}")
