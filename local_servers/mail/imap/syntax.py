"""IMAP's syntax in both directions (RFC 3501 section 9, "Formal Syntax").

Reading: a client command is one line, except that any string may be sent
as a *literal*: ``{5}`` at the end of a line announces 5 octets that follow
the line break verbatim, then the command line goes on. The session reads
the literals (the engine, engine/line.py) and hands the whole command,
literals included in their ``{n}\\r\\n...`` form, to an Args object, which
takes it apart token by token the way the grammar says: atoms, quoted
strings, literals, parenthesized lists, sequence sets, dates.

Writing: the server answers with the same building blocks; quoted() and
literal() choose the form a string can safely travel in.
"""

from __future__ import annotations

import datetime
import re

from . import mutf7

# -- Character classes of the grammar --------------------------------------------------

#: atom-specials: "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
_ATOM_SPECIALS = frozenset(b'(){ %*"\\]') | frozenset(range(0x20)) | {0x7F}
ATOM_CHARS = frozenset(range(0x01, 0x80)) - _ATOM_SPECIALS
ASTRING_CHARS = ATOM_CHARS | {ord("]")}
LIST_CHARS = ATOM_CHARS | {ord("%"), ord("*"), ord("]")}
_TAG_CHARS = ASTRING_CHARS - {ord("+")}

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {m.lower().encode(): i + 1 for i, m in enumerate(MONTHS)}

#: A line that ends announcing a literal: {n} (synchronizing) or {n+} (LITERAL+).
LITERAL_AT_END = re.compile(rb"\{(\d{1,10})(\+?)\}$")
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n")
#: QUOTED-CHAR: any octet but CR, LF, NUL, DQUOTE and backslash, or one of the last two escaped by a backslash.
_QUOTED_CHARS = re.compile(rb'(?:[^"\\\r\n\0]|\\["\\])*')
_ESCAPED = re.compile(rb'\\(.)', re.DOTALL)
#: Why a quoted string stopped before its closing DQUOTE, by the octet it stopped at.
_UNQUOTED = {b"": "unterminated quoted string", b"\\": "a backslash in a quoted string may only escape \" or \\"}


#: Most ranges one sequence set may hold ("1,3,5:7" holds three); more get NO [LIMIT] (RFC 5530).
MAX_SET_RANGES = 10_000


class SavedSet(list):
    """ "$" where a sequence set may stand: the saved result of an earlier SEARCH (RFC 5182)."""


class ParseError(ValueError):
    """The command does not follow the grammar: the reply is BAD."""


class LimitExceeded(Exception):
    """Well-formed, but beyond what this server does in one command: NO [LIMIT] (RFC 5530)."""


class Args:
    """The tokens of one command, consumed left to right (utf8: mailbox names arrive as UTF-8, mutf7.py)."""

    def __init__(self, data: bytes, utf8: bool = False):
        self.data, self.pos, self.utf8 = data, 0, utf8

    # -- looking ----------------------------------------------------------
    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def end(self) -> None:
        """Nothing may follow the last argument."""
        if not self.at_end():
            raise ParseError(f"unexpected {self.data[self.pos:self.pos + 20]!r} at the end of the command")

    # -- single characters --------------------------------------------------
    def sp(self) -> None:
        """Exactly one space separates arguments."""
        self.expect(b" ")

    def expect(self, text: bytes) -> None:
        if not self.data.startswith(text, self.pos):
            found = self.data[self.pos:self.pos + 10] or b"end of line"
            raise ParseError(f"expected {text.decode()!r}, found {found!r}")
        self.pos += len(text)

    def accept(self, text: bytes) -> bool:
        """Consume text if it comes next (case-insensitively for letters)."""
        if self.data[self.pos:self.pos + len(text)].upper() == text.upper():
            self.pos += len(text)
            return True
        return False

    # -- tokens -------------------------------------------------------------
    def _run(self, allowed: frozenset, what: str) -> bytes:
        start, data = self.pos, self.data
        while self.pos < len(data) and data[self.pos] in allowed:
            self.pos += 1
        if self.pos == start:
            raise ParseError(f"expected {what}")
        return data[start:self.pos]

    def command_tag(self) -> str | None:
        """The tag a command starts with, and the SP after it; None if it has no well-formed one."""
        try:
            tag = self._run(_TAG_CHARS, "a tag").decode("ascii")
            self.sp()
            return tag
        except ParseError:
            return None

    def atom(self) -> str:
        return self._run(ATOM_CHARS, "an atom").decode("ascii")

    def number(self) -> int:
        """number = 1*DIGIT (an unsigned 32-bit value)."""
        value = int(self._run(frozenset(b"0123456789"), "a number"))
        if value > 0xFFFFFFFF:
            raise ParseError("number out of range")
        return value

    def nz_number(self) -> int:
        value = self.number()
        if value == 0:
            raise ParseError("zero is not allowed here")
        return value

    def quoted(self) -> bytes:
        """DQUOTE *QUOTED-CHAR DQUOTE, where only \\" and \\\\ are escapes."""
        self.expect(b'"')
        chars = _QUOTED_CHARS.match(self.data, self.pos)
        self.pos = chars.end() + 1
        stop = self.data[chars.end():self.pos]
        if stop != b'"':
            raise ParseError(_UNQUOTED.get(stop, "CR, LF and NUL are not allowed in a quoted string"))
        return _ESCAPED.sub(rb"\1", chars.group())

    def literal(self, binary: bool = False) -> bytes:
        """{n}CRLF followed by n octets (the session has already read them); ~{n} (literal8) if binary."""
        if binary:
            self.accept(b"~")  # RFC 3516: a literal8 may hold NUL octets
        if not (match := _LITERAL.match(self.data, self.pos)):
            raise ParseError("malformed literal")
        size = int(match.group(1))
        start = match.end()
        if start + size > len(self.data):
            raise ParseError("literal shorter than announced")
        self.pos = start + size
        return self.data[start:self.pos]

    def string(self) -> bytes:
        """string = quoted / literal."""
        if self.peek() not in (0x22, 0x7B):
            raise ParseError("expected a quoted string or a literal")
        return self.quoted() if self.peek() == 0x22 else self.literal()

    def astring(self) -> bytes:
        """astring = 1*ASTRING-CHAR / string."""
        return self.string() if self.peek() in (0x22, 0x7B) else self._run(ASTRING_CHARS, "a string")

    def list_mailbox(self) -> bytes:
        """list-mailbox = 1*list-char / string (a LIST pattern with * and %)."""
        return self.string() if self.peek() in (0x22, 0x7B) else self._run(LIST_CHARS, "a mailbox pattern")

    def mailbox(self) -> str:
        """mailbox = "INBOX" / astring, INBOX in any case meaning the inbox (and Inbox.x meaning INBOX.x);
        returned as stored: modified UTF-7 (mutf7.from_client checks and converts what the client sent)."""
        raw = self.astring() if (self.peek() or 0) < 0x80 else b""
        if (self.peek() or 0) >= 0x80:  # an 8-bit atom, before or after the 7-bit part
            raise ParseError("a mailbox name with 8-bit characters travels as a quoted string or a literal")
        text = mutf7.from_client(raw, self.utf8)
        if text.upper() == "INBOX" or text.upper().startswith("INBOX."):
            text = "INBOX" + text[5:]  # INBOX, and so its own hierarchy, in any case
        return mutf7.encode(text)

    def list_of(self, read) -> list:
        """ "(" [read() *(SP read())] ")", e.g. flag-list = "(" [flag *(SP flag)] ")": list_of(args.flag)."""
        self.expect(b"(")
        return [] if self.accept(b")") else self.rest_of_list(read)

    def rest(self, *readers) -> list:
        """The command's last arguments, SP before each, each read by its reader: rest(args.mailbox)."""
        values = []
        for read in readers:
            self.sp()
            values.append(read())
        self.end()
        return values

    def spaced(self, read) -> list:
        """*(SP read()) to the end of the command."""
        items = []
        while not self.at_end():
            self.sp()
            items.append(read())
        return items

    def rest_of_list(self, read) -> list:
        """The rest of a parenthesized list whose "(" has been read: read() *(SP read()) ")"."""
        items = [read()]
        while not self.accept(b")"):
            self.sp()
            items.append(read())
        return items

    def option_list(self, allowed: tuple[str, ...], what: str, arguments: dict | None = None) -> dict:
        """ "(" option *(SP option) ")", each a word of `allowed` (LIST's options, RFC 5258; SEARCH and SORT's
        RETURN, RFC 4731): {option: its argument or None}; `arguments` maps the options that take one to a reader."""
        def option() -> tuple:
            word = self.atom().upper()
            if word not in allowed:
                raise ParseError(f"unknown {what} option {word}")
            if (read := (arguments or {}).get(word)) is not None:
                self.sp()
            return word, read(self) if read is not None else None

        return dict(self.list_of(option))

    def flag(self) -> str:
        """flag = "\\" atom (system or extension flag) / atom (keyword)."""
        return "\\" + self.atom() if self.accept(b"\\") else self.atom()

    def sequence_set(self) -> list[tuple[int | None, int | None]]:
        """sequence-set: "1:4,7,9:*" -> [(1, 4), (7, 7), (9, None)]; None is "*". "$" -> SavedSet()."""
        if self.accept(b"$"):
            return SavedSet()
        ranges = []
        while True:
            first = self._seq_number()
            ranges.append((first, self._seq_number() if self.accept(b":") else first))
            if len(ranges) > MAX_SET_RANGES:
                raise LimitExceeded(f"[LIMIT] A sequence set may hold at most {MAX_SET_RANGES} ranges")
            if not self.accept(b","):
                return ranges

    def _seq_number(self) -> int | None:
        return None if self.accept(b"*") else self.nz_number()

    def date(self) -> datetime.date:
        """date = date-text / DQUOTE date-text DQUOTE, e.g. 1-Feb-1994."""
        text = self.quoted() if self.peek() == 0x22 else self._run(ATOM_CHARS, "a date")
        match = re.fullmatch(rb"(\d{1,2})-([A-Za-z]{3})-(\d{4})", text)
        if not match or match.group(2).lower() not in _MONTH_NUMBER:
            raise ParseError(f"bad date {text!r}: expected e.g. 1-Feb-1994")
        try:
            return datetime.date(int(match.group(3)), _MONTH_NUMBER[match.group(2).lower()], int(match.group(1)))
        except ValueError:
            raise ParseError(f"bad date {text!r}") from None

    def date_time(self) -> datetime.datetime:
        """date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE."""
        text = self.quoted()
        match = re.fullmatch(rb"([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", text)
        if not match or match.group(2).lower() not in _MONTH_NUMBER:
            raise ParseError(f"bad date-time {text!r}: expected e.g. \"17-Jul-1996 02:44:25 -0700\"")
        day, month, year, hh, mm, ss, sign, zh, zm = match.groups()
        offset = datetime.timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == b"-" else 1)
        try:
            return datetime.datetime(int(year), _MONTH_NUMBER[month.lower()], int(day), int(hh), int(mm), int(ss),
                                     tzinfo=datetime.timezone(offset))
        except ValueError:
            raise ParseError(f"bad date-time {text!r}") from None


def merged_ranges(ranges, last: int) -> list[tuple[int, int]]:
    """A sequence set as sorted, disjoint (lo, hi) pairs, "*" being last: "5:2,1,3:*" with last=9 -> [(1, 9)].
    Linear to walk, bisectable; repeated ranges ("1:*,1:*,...") cost no more than one."""
    ends = ((last if first is None else first, last if second is None else second) for first, second in ranges)
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted((min(pair), max(pair)) for pair in ends):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


# -- Writing: how strings travel in responses ------------------------------------------

_QUOTABLE = re.compile(rb'[\x01-\x09\x0b\x0c\x0e-\x7f]*')
_QUOTABLE_UTF8 = re.compile(rb'[^\x00\r\n]*')  # RFC 6855 3: quoted strings may hold UTF-8 once enabled


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def literal8(data: bytes) -> bytes:
    """RFC 3516: octets that hold a NUL travel as ~{n}; others as an ordinary literal."""
    return (b"~" if b"\0" in data else b"") + literal(data)


def string(data: bytes, utf8: bool = False) -> bytes:
    """A quoted string when the octets allow it (7-bit, or UTF-8 if utf8; no CR/LF/NUL), else a literal."""
    if len(data) < 1024 and (_QUOTABLE_UTF8 if utf8 else _QUOTABLE).fullmatch(data):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(data)


def nstring(data: bytes | None) -> bytes:
    """nstring = string / NIL."""
    return b"NIL" if data is None else string(data)


def astring(text: str, utf8: bool = False) -> bytes:
    """A mailbox name or similar: quoted; 8-bit text as a literal, or quoted if the client takes UTF-8."""
    return string(text.encode("utf-8"), utf8)


def plist(items) -> bytes:
    """A parenthesized list of already encoded items."""
    return b"(" + b" ".join(items) + b")"


def imap_datetime(timestamp: float) -> bytes:
    """INTERNALDATE form, e.g. "17-Jul-1996 02:44:25 -0700", in the server's local zone."""
    moment = datetime.datetime.fromtimestamp(timestamp).astimezone()
    return f'"{moment.day:2d}-{MONTHS[moment.month - 1]}-{moment.year:04d} {moment:%H:%M:%S %z}"'.encode("ascii")
