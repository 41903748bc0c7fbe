"""Modified UTF-7, the 7-bit spelling of IMAP mailbox names (RFC 3501 5.1.3).

Printable ASCII stands for itself, except "&", written "&-"; every run of
other characters is "&", the modified base64 of its UTF-16BE octets ("," for
"/", no "=" padding) and "-". So 已发送 is "&XfJT0ZAB-". The server keeps
names in this form; a session that has sent ENABLE UTF8=ACCEPT (RFC 6855)
sends and reads them as UTF-8 instead, converted here at the boundary.
"""

from __future__ import annotations

import base64
import re

_OTHER = re.compile(r"[^\x20-\x25\x27-\x7e]+")  # a run that does not stand for itself: not printable ASCII, or "&"
_RUN = re.compile(r"&([A-Za-z0-9+,]*)-")

#: What RFC 6855 section 3 says a mailbox name must never hold, after Net-Unicode (RFC 5198):
#: C0 and C1 controls, DEL, LINE SEPARATOR and PARAGRAPH SEPARATOR.
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class BadMailboxName(Exception):
    """A mailbox name that is not valid in the session's naming (mUTF-7 or UTF-8): the reply is NO."""


def from_client(raw: bytes, utf8: bool) -> str:
    """A mailbox name as the client sent it -> text: UTF-8 after ENABLE UTF8=ACCEPT (RFC 6855 3), else the
    stored form itself, which must be valid modified UTF-7 (RFC 3501 5.1.3); never control characters."""
    try:
        text = raw.decode("utf-8") if utf8 else decode(raw.decode("ascii"))
    except ValueError:  # UnicodeDecodeError too
        raise BadMailboxName(f"Mailbox name is not valid {'UTF-8' if utf8 else 'mUTF-7'}") from None
    if FORBIDDEN.search(text):
        raise BadMailboxName("[CANNOT] Mailbox names hold no control characters")
    return text


def encode(text: str) -> str:
    """Text -> modified UTF-7: encode("已发送") == "&XfJT0ZAB-", encode("Tom & Jerry") == "Tom &- Jerry"."""
    return _OTHER.sub(lambda run: _encode_run(run.group()), text)


def _encode_run(run: str) -> str:
    """A run of characters that do not stand for themselves; "&" alone is "&-"."""
    pieces = []
    for part in re.split("(&+)", run):  # each "&" is "&-"; the characters between are base64
        if part.startswith("&"):
            pieces.append("&-" * len(part))
        elif part:
            data = base64.b64encode(part.encode("utf-16-be")).decode("ascii").rstrip("=")
            pieces.append("&" + data.replace("/", ",") + "-")
    return "".join(pieces)


def decode(name: str) -> str:
    """Modified UTF-7 -> text; ValueError unless name is exactly what encode() would write. The round trip rejects
    all the RFC rules out at once: 8-bit octets, an unterminated or empty-but-for-padding run, bits left over,
    a lone surrogate, printable ASCII written in base64, two runs side by side."""
    if not name.isascii():
        raise ValueError("8-bit characters in a modified UTF-7 name")

    def run(match: re.Match) -> str:
        if not (data := match.group(1)):
            return "&"
        try:
            return base64.b64decode(data.replace(",", "/") + "=" * (-len(data) % 4)).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            raise ValueError(f"bad modified UTF-7 run {match.group()!r}") from None

    text = _RUN.sub(run, name)
    if encode(text) != name:
        raise ValueError(f"{name!r} is not modified UTF-7")
    return text
