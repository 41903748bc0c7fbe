"""SORT (RFC 5256 section 3, with RFC 5957's DISPLAYFROM/DISPLAYTO): server-side ordering.

A client asks "SORT (REVERSE DATE SUBJECT) UTF-8 UNSEEN" and gets the
matching message numbers in that order, without fetching every header
itself. Each sort key turns a message into a comparable value; REVERSE
turns one key around; ties left after every key go by sequence number
(in ascending order, even under REVERSE). Strings compare with the
i;ascii-casemap collation: ASCII letters as upper case, octet by octet.

The base subject (section 2.1) strips what mail readers add to a subject
("Re:", "Fwd:", "[list]" tags, "(fwd)"), so a reply sorts (and threads,
see thread.py) with its original.
"""

from __future__ import annotations

import contextlib
import email.utils
import operator
import re

from .mime import Part, parse_address_list
from .search import decode_header
from .syntax import Args, ParseError

KEYS = ("ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO")

_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def casemap(text: str) -> str:
    """i;ascii-casemap: only ASCII letters fold (to upper case, so "[" < "_" < letters do not change)."""
    return text.translate(_UPPER)


def parse_criteria(args: Args) -> list[tuple[str, bool]]:
    """sort-criteria = "(" sort-criterion *(SP sort-criterion) ")", each [REVERSE SP] key."""
    def criterion() -> tuple[str, bool]:
        word = args.atom().upper()
        reverse = word == "REVERSE"
        if reverse:
            args.sp()
            word = args.atom().upper()
        if word not in KEYS:
            raise ParseError(f"unknown sort key {word}")
        return word, reverse

    args.expect(b"(")
    return args.rest_of_list(criterion)


# -- Base subject (RFC 5256 2.1) -------------------------------------------------------

_BLOB = r"\[[^\[\]]*\][ \t]*"
_REFWD = re.compile(r"(?:" + _BLOB + r")*(?:re|fwd?)[ \t]*(?:" + _BLOB + r")?:", re.IGNORECASE)
_LEADING_BLOB = re.compile(_BLOB)
_TRAILER = re.compile(r"[ \t]*\(fwd\)[ \t]*$", re.IGNORECASE)


def base_subject(raw: bytes | None) -> tuple[str, bool]:
    """(base subject, whether anything reply- or forward-like was removed): RFC 5256 2.1, steps 1-6."""
    text = decode_header(raw or b"")
    text = re.sub(r"[ \t\r\n]+", " ", text).strip()  # (1) one space for any run of white space
    was_reply = False
    while True:
        while _TRAILER.search(text):  # (2) trailing "(fwd)"
            text, was_reply = _TRAILER.sub("", text), True
        while True:  # (3)-(5): leading "Re:", "Fwd: ", "[blob] re:", white space, and a lone blob
            before = text
            text = text.lstrip(" \t")
            match = _REFWD.match(text)
            if match:
                text, was_reply = text[match.end():], True
            blob = _LEADING_BLOB.match(text)
            if blob and text[blob.end():].strip():
                text = text[blob.end():]
            if text == before:
                break
        if text[:5].lower() == "[fwd:" and text.endswith("]"):  # (6) "[fwd: subject]"
            text, was_reply = text[5:-1], True
            continue
        return text.strip(" \t"), was_reply


# -- What each key compares ------------------------------------------------------------

def first_address(value: bytes | None, display: bool) -> str:
    """addr-mailbox of the first address (RFC 5256), or its display form (RFC 5957)."""
    if not value:
        return ""
    for kind, *data in parse_address_list(value.decode("latin-1")):
        if kind == "group":
            return casemap(decode_header(data[0].encode("latin-1")))
        if kind == "addr":
            name, mailbox, host, _ = data
            if display:
                name = decode_header(name.encode("latin-1")).strip()
                return casemap(name or (f"{mailbox}@{host}" if host else mailbox))
            return casemap(mailbox)
    return ""


def sent_date(part: Part, internal: float) -> float:
    """The Date: header in UTC seconds; the INTERNALDATE when it is missing or unreadable."""
    value = part.get("date")
    parsed = email.utils.parsedate_tz(value.decode("latin-1")) if value else None
    if parsed:
        with contextlib.suppress(OverflowError, ValueError):
            return email.utils.mktime_tz(parsed)
    return internal


def key_value(key: str, folder, msg, part: Part):
    if key == "ARRIVAL":
        return folder.mtime(msg)
    if key == "SIZE":
        return folder.size(msg)
    if key == "DATE":
        return sent_date(part, folder.mtime(msg))
    if key == "SUBJECT":
        return casemap(base_subject(part.get("subject"))[0])
    if key in ("FROM", "TO", "CC"):
        return first_address(part.get(key.lower()), display=False)
    return first_address(part.get(key[7:].lower()), display=True)  # DISPLAYFROM, DISPLAYTO


def sort_messages(folder, found: list[tuple[int, object]], keys: list[tuple[str, bool]],
                  headers: dict[int, Part]) -> list[int]:
    """The sequence numbers of found [(seq, msg)], which come in sequence order, in the order the keys give
    (headers: Part by UID): one stable sort per key, the last key first, so ties stay in sequence order."""
    rows = [[key_value(k, folder, msg, headers.get(msg.uid)) for k, _ in keys] + [seq] for seq, msg in found]
    for i in reversed(range(len(keys))):
        rows.sort(key=operator.itemgetter(i), reverse=keys[i][1])  # reverse=True keeps ties in order too
    return [row[-1] for row in rows]


def needs_headers(keys: list[tuple[str, bool]]) -> bool:
    return any(k not in ("ARRIVAL", "SIZE") for k, _ in keys)


def header_only(folder, msg) -> bytes:
    """The header of a message (what SORT and THREAD read), up to and including the blank line."""
    raw = folder.read(msg) or b""
    end = raw.find(b"\r\n\r\n")
    return raw if end < 0 else raw[:end + 4]
