"""A message as IMAP sees it: MIME parts by octet, ENVELOPE and BODYSTRUCTURE.

IMAP clients address pieces of a message by exact octets: BODY[1.2] is the
second part of the first part, byte for byte; BODYSTRUCTURE states each
part's size in octets; a partial fetch <0.100> counts octets. So this module
splits a message itself (RFC 2045/2046: header, blank line, body; multipart
bodies separated by "--boundary" lines) instead of decoding it with the
email package, which would not keep the octets. Everything here works on
the CRLF form that travels on the wire.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import functools
import re

from .syntax import nstring, plist, string

CRLF = b"\r\n"


def split_header(raw: bytes) -> tuple[bytes, bytes]:
    """(header including the blank line, body) of a message or MIME part."""
    if raw.startswith(CRLF):
        return CRLF, raw[2:]
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return raw, b""  # no blank line: all header, no body
    return raw[:end + 4], raw[end + 4:]


def header_fields(header: bytes) -> list[tuple[str, bytes]]:
    """[(lower-case name, raw field with its continuation lines and CRLF)] in order."""
    fields: list[tuple[str, bytes]] = []
    for line in header.split(CRLF):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + line + CRLF)
            continue
        name, colon, _ = line.partition(b":")
        if colon:
            fields.append((name.strip().decode("latin-1").lower(), line + CRLF))
    return fields


def field_value(raw_field: bytes) -> bytes:
    """The unfolded value of one raw field: 'Subject: a\\r\\n b\\r\\n' -> b'a b'."""
    return raw_field.partition(b":")[2].replace(CRLF, b"").strip()


#: How deep multiparts and message/rfc822 parts may nest before a part counts as an opaque leaf
#: (application/octet-stream): BODYSTRUCTURE and the search walk then stay bounded.
MAX_DEPTH = 64


class Part:
    """One message or MIME part, kept as octets, parsed only as far as asked."""

    def __init__(self, raw: bytes, default_type: tuple[str, str] = ("text", "plain"), depth: int = 0):
        self.raw, self.depth, self._default_type = raw, depth, default_type
        self.header, self.body = split_header(raw)
        self.fields = header_fields(self.header)

    def get(self, name: str) -> bytes | None:
        """The first field of that name, unfolded, or None."""
        name = name.lower()
        return next((field_value(raw) for field_name, raw in self.fields if field_name == name), None)

    # -- Content-Type ---------------------------------------------------------
    @property
    def content_type(self) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
        """(type, subtype, [(attribute, value)]), with RFC 2045's defaults."""
        main, params = _split_params(self.get("content-type") or b"")
        maintype, slash, subtype = (text.strip() for text in main.partition(b"/"))
        if not (slash and maintype and subtype):  # none, or unreadable
            maintype, subtype, params = b"text", b"plain", [(b"charset", b"us-ascii")]
            if self._default_type == ("message", "rfc822"):  # a part of a multipart/digest
                maintype, subtype, params = b"message", b"rfc822", []
        if self.depth >= MAX_DEPTH and maintype.lower() in (b"multipart", b"message"):
            return b"application", b"octet-stream", []  # too deep to take apart
        return maintype, subtype, params

    @property
    def is_multipart(self) -> bool:
        return self.content_type[0].lower() == b"multipart"

    @property
    def is_message(self) -> bool:
        maintype, subtype, _ = self.content_type
        return maintype.lower() == b"message" and subtype.lower() == b"rfc822"

    @functools.cached_property
    def children(self) -> list["Part"]:
        """The parts of a multipart body (empty for other types)."""
        if not self.is_multipart:
            return []
        _, subtype, params = self.content_type
        boundary = dict((k.lower(), v) for k, v in params).get(b"boundary")
        default = ("message", "rfc822") if subtype.lower() == b"digest" else ("text", "plain")
        if not boundary:
            return []
        return [Part(raw, default, self.depth + 1) for raw in split_multipart(self.body, boundary)]

    @functools.cached_property
    def message(self) -> "Part":
        """The message inside a message/rfc822 part."""
        return Part(self.body, depth=self.depth + 1)


def decoded_text(root: Part) -> str:
    """The text of every text part, transfer encoding and charset undone (what SEARCH BODY reads)."""
    texts = []
    stack = [root]
    while stack:
        part = stack.pop()
        if part.is_multipart:
            stack.extend(reversed(part.children))
            continue
        if part.is_message:
            stack.append(part.message)
            continue
        maintype, _, params = part.content_type
        if maintype.lower() != b"text":
            continue
        encoding = (part.get("content-transfer-encoding") or b"").strip().lower()
        body = part.body
        with contextlib.suppress(binascii.Error, ValueError):  # undecodable: searched as it is
            if encoding == b"base64":
                body = base64.b64decode(body)
            elif encoding == b"quoted-printable":
                body = decode_qp(body)
        charset = dict((k.lower(), v.strip(b'"')) for k, v in params).get(b"charset", b"utf-8")
        try:
            texts.append(body.decode(charset.decode("ascii"), "replace"))
        except (LookupError, UnicodeDecodeError):
            texts.append(body.decode("utf-8", "replace"))
    return "\n".join(texts)


def _split_params(value: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """b'text/plain; charset="utf-8"' -> (b'text/plain', [(b'charset', b'utf-8')])."""
    items, current, quoted, escaped = [], bytearray(), False, False
    for c in value:
        if escaped:
            current.append(c)
            escaped = False
        elif quoted and c == 0x5C:
            escaped = True
        elif c == 0x22:
            quoted = not quoted
        elif c == 0x3B and not quoted:
            items.append(bytes(current))
            current = bytearray()
        else:
            current.append(c)
    items.append(bytes(current))
    pairs = [item.partition(b"=") for item in items[1:]]
    return items[0].strip(), [(name.strip(), val.strip()) for name, eq, val in pairs if eq and name.strip()]


def split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts between "--boundary" lines; the CRLF before a delimiter belongs to it (RFC 2046 5.1.1)."""
    delimiter = b"--" + boundary
    parts: list[bytes] = []
    start = None  # where the current part's content begins
    search_from = 0
    while True:
        if search_from == 0 and body.startswith(delimiter):
            at = line_start = 0  # a delimiter on the very first line has no CRLF before it
        else:
            at = body.find(CRLF + delimiter, search_from)
            if at < 0:
                break
            line_start = at + 2
        after = line_start + len(delimiter)
        line_end = body.find(CRLF, after)
        rest = body[after:line_end if line_end >= 0 else len(body)]
        closing = rest.startswith(b"--")
        if not closing and rest.strip(b" \t"):
            search_from = after  # "--boundaryX": a longer boundary, not ours
            continue
        if start is not None:
            parts.append(body[start:at])
        if closing or line_end < 0:
            return parts
        start = line_end + 2
        search_from = line_end
    if start is not None:
        parts.append(body[start:])  # no closing delimiter: the last part runs to the end
    return parts


# -- ENVELOPE (RFC 3501 7.4.2) ---------------------------------------------------------

def envelope(msg: Part) -> bytes:
    """(date subject from sender reply-to to cc bcc in-reply-to message-id), header values raw."""
    sender_default = addresses(msg.get("from"))  # Sender and Reply-To default to From (values come stripped)
    return plist([
        nstring(msg.get("date")),
        nstring(msg.get("subject")),
        sender_default,
        addresses(msg.get("sender")) if msg.get("sender") else sender_default,
        addresses(msg.get("reply-to")) if msg.get("reply-to") else sender_default,
        addresses(msg.get("to")),
        addresses(msg.get("cc")),
        addresses(msg.get("bcc")),
        nstring(msg.get("in-reply-to")),
        nstring(msg.get("message-id")),
    ])


def addresses(value: bytes | None) -> bytes:
    """An address list as ((name adl mailbox host) ...), groups per RFC 3501, or NIL."""
    if not value:
        return b"NIL"
    items = []
    for kind, *data in parse_address_list(value.decode("latin-1")):
        if kind == "group":
            items.append(b"(NIL NIL " + string(data[0].encode("latin-1")) + b" NIL)")
        elif kind == "end":
            items.append(b"(NIL NIL NIL NIL)")
        else:
            name, mailbox, host, route = data
            items.append(plist([nstring(name.encode("latin-1") if name else None),
                                nstring(route.encode("latin-1") if route else None),
                                nstring(mailbox.encode("latin-1")), nstring(host.encode("latin-1"))]))
    return plist(items) if items else b"NIL"


#: An obsolete source route at the start of an angle address: "<@a.org,@b.org:".
_ROUTE = re.compile(r"<\s*(@[^<>:\"]*):")


def _source_route(address: str) -> tuple[str, str]:
    """(route, address without it): parseaddr drops an obsolete source route (<@relay:user@host>,
    RFC 5322 4.4), which ENVELOPE reports as the address's adl (RFC 3501 7.4.2), so it goes first."""
    if not (routed := _ROUTE.search(address)):
        return "", address
    return re.sub(r"\s+", "", routed.group(1)), address[:routed.start()] + "<" + address[routed.end():]


#: A quoted string (backslash escapes a character) or an <angle address>, each to the end if unclosed.
_QUOTED_OR_ANGLE = re.compile(r'"(?:\\.|[^"\\])*"?|<[^>]*>?', re.DOTALL)


def parse_address_list(text: str) -> list[tuple]:
    """Split an address list at top-level commas ("name: a, b;" is a group) into ("group", name), ("addr",
    display name, mailbox, host, route) and ("end",). Quotes, comments and <angle brackets> are skipped over;
    email.utils.parseaddr reads each address, keeping RFC 2047 encoded words encoded, as ENVELOPE wants."""
    out: list[tuple] = []
    chunk: list[str] = []
    in_group = False
    i, n = 0, len(text)

    def flush():
        piece = "".join(chunk).strip()
        chunk.clear()
        if piece:
            route, piece = _source_route(piece)
            name, addr = email.utils.parseaddr(piece)
            if addr or name:
                mailbox, _, host = addr.rpartition("@") if "@" in addr else (addr, "", "")
                out.append(("addr", name, mailbox, host, route))

    while i < n:
        c = text[i]
        if c in '"<':  # a quoted string or an <address> is taken whole: a "," or ":" in it does not count
            j = _QUOTED_OR_ANGLE.match(text, i).end()
            chunk.append(text[i:j])
            i = j
            continue
        if c == "(":
            depth, j = 0, i
            while j < n:
                if text[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            chunk.append(text[i:j])
            i = j
            continue
        if c == ",":
            flush()
        elif c == ":" and not in_group:
            name = "".join(chunk).strip().strip('"')
            chunk.clear()
            out.append(("group", name))
            in_group = True
        elif c == ";" and in_group:
            flush()
            out.append(("end",))
            in_group = False
        else:
            chunk.append(c)
        i += 1
    flush()
    if in_group:
        out.append(("end",))
    return out


# -- BODY and BODYSTRUCTURE (RFC 3501 7.4.2) -------------------------------------------

def bodystructure(part: Part, extended: bool = True) -> bytes:
    """BODYSTRUCTURE (extended=True) or BODY (extended=False) of a message or part."""
    if part.is_multipart:
        children = part.children or [Part(CRLF)]  # the grammar needs at least one body
        _, subtype, params = part.content_type
        items = [b"".join(bodystructure(c, extended) for c in children), string(subtype)]
        if extended:
            items += [_params(params), _disposition(part), _language(part), nstring(part.get("content-location"))]
        return plist(items)

    maintype, subtype, params = part.content_type
    if maintype.lower() == b"text" and not any(k.lower() == b"charset" for k, _ in params):
        params = params + [(b"charset", b"us-ascii")]  # RFC 2045 5.2: text's default charset
    body = part.body
    items = [string(maintype), string(subtype), _params(params),
             nstring(part.get("content-id")), nstring(part.get("content-description")),
             string(part.get("content-transfer-encoding") or b"7bit"), b"%d" % len(body)]
    if part.is_message:
        inner = part.message
        items += [envelope(inner), bodystructure(inner, extended), b"%d" % _lines(body)]
    elif maintype.lower() == b"text":
        items.append(b"%d" % _lines(body))
    if extended:
        items += [nstring(part.get("content-md5")), _disposition(part), _language(part),
                  nstring(part.get("content-location"))]
    return plist(items)


def _lines(body: bytes) -> int:
    """The size of a body in text lines (a last line without CRLF counts too)."""
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def _params(params: list[tuple[bytes, bytes]]) -> bytes:
    return plist([string(x) for pair in params for x in pair]) if params else b"NIL"


def _disposition(part: Part) -> bytes:
    if not (value := part.get("content-disposition")):
        return b"NIL"
    kind, params = _split_params(value)
    return plist([string(kind), _params(params)])


def _language(part: Part) -> bytes:
    tags = [t.strip() for t in (part.get("content-language") or b"").split(b",") if t.strip()]
    if len(tags) == 1:
        return string(tags[0])
    return plist([string(t) for t in tags]) if tags else b"NIL"


# -- BODY[section] (RFC 3501 6.4.5) ----------------------------------------------------

def find_part(root: Part, numbers: tuple[int, ...]) -> Part | None:
    """Follow a part number like 4.2.1 (None if there is no such part): a message that is not multipart has
    one part, number 1 (its body); a message/rfc822 part's sub-parts are those of the message inside it."""
    node = root
    for depth, number in enumerate(numbers):
        if depth > 0 and not node.is_multipart:
            if not node.is_message:
                return None
            node = node.message
        parts = node.children if node.is_multipart else [node]  # a single part is its own part 1
        if number > len(parts):
            return None
        node = parts[number - 1]
    return node


def binary_data(root: Part, numbers: tuple[int, ...]) -> bytes | None:
    """BINARY[numbers] (RFC 3516): the part's body with its Content-Transfer-Encoding undone (BINARY[]: the
    message as stored); None for a part that does not exist, ValueError for an encoding we cannot undo."""
    if not numbers:
        return root.raw
    if (part := find_part(root, numbers)) is None:
        return None
    encoding = (part.get("content-transfer-encoding") or b"7bit").strip().lower()
    if encoding in (b"7bit", b"8bit", b"binary") or part.is_multipart or part.is_message:
        return part.body
    if encoding == b"base64":
        return base64.b64decode(b"".join(part.body.split()) + b"==")  # lenient padding, as readers are
    if encoding == b"quoted-printable":
        return decode_qp(part.body)
    raise ValueError(f"unknown Content-Transfer-Encoding {encoding!r}")


def decode_qp(body: bytes) -> bytes:
    """Quoted-printable (RFC 2045 6.7) with CRLF lines: trailing blanks dropped, "=" at the end joins lines."""
    out = bytearray()
    lines = body.split(CRLF)
    for i, line in enumerate(lines):
        line = line.rstrip(b" \t")
        soft = line.endswith(b"=")
        out += binascii.a2b_qp(line[:-1] if soft else line)
        if not soft and i < len(lines) - 1:
            out += CRLF
    return bytes(out)


def storable(raw: bytes) -> bytes:
    """A message with NUL octets (APPENDed as a literal8, RFC 3516) with its body in base64, which BODY[] can show
    (literals may not carry NUL) and BINARY[1] decodes back; ValueError if a NUL is outside a single-part body."""
    if b"\0" not in raw:
        return raw
    end = raw.find(b"\r\n\r\n")
    header, body = (raw[:end + 2], raw[end + 4:]) if end >= 0 else (raw, b"")
    if b"\0" in header or Part(header + CRLF).is_multipart:
        raise ValueError("NUL octets outside a single-part body")
    kept = [field for name, field in header_fields(header) if name != "content-transfer-encoding"]
    encoded = base64.encodebytes(body).replace(b"\n", CRLF)
    return b"".join(kept) + b"Content-Transfer-Encoding: base64\r\n" + CRLF + encoded


def section_data(root: Part, numbers: tuple[int, ...], text: str, names: tuple[str, ...] = ()) -> bytes | None:
    """The octets of BODY[<numbers>.<text>]: text is "", HEADER, HEADER.FIELDS[.NOT], TEXT or MIME."""
    if not numbers:
        target = root
    else:
        if (part := find_part(root, numbers)) is None:
            return None
        if text == "":
            return part.body
        if text == "MIME":
            return part.header
        if not part.is_message:
            return None
        target = part.message
    if text in ("", "HEADER", "TEXT"):
        return {"": target.raw, "HEADER": target.header, "TEXT": target.body}[text]
    wanted = {n.lower() for n in names}
    keep = text == "HEADER.FIELDS"
    return b"".join(raw for name, raw in target.fields if (name in wanted) == keep) + CRLF
