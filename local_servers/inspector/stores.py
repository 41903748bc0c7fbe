"""Reading the services' data folders for the inspector: read-only, and bounded for any input.

The servers own their files; the inspector only reads them, the way a student would
with `ls` and `cat`, and never holds a lock a server waits for. Each function does a
bounded amount of work: a mailbox page parses the headers of one page of messages
(the first HEAD_BYTES of each file), a message is parsed up to MAX_MESSAGE bytes, the
FTP tree stops after MAX_TREE entries, and the news index is rebuilt only when the
news server's `active` file changes.
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.parser
import email.utils
import itertools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..mail import mailstore
from ..mail.imap import mutf7

#: Bytes of a message file read for its list entry (its headers, nearly always).
HEAD_BYTES = 16 * 1024
#: Bytes of a message parsed for its page; the rest is named, not shown.
MAX_MESSAGE = 2 * 1024 * 1024
#: Characters of one MIME part's text shown on the message page.
MAX_PART_TEXT = 64 * 1024
#: Bytes of a message given to the MIME parser, and the boundary lines ("--...") it may meet: Python's
#: email parser takes seconds for thousands of parts or deep nesting (each level needs one such line).
TREE_BYTES = 512 * 1024
TREE_LINES = 10000
MAX_PARTS = 100
#: Header fields listed on a message's page (all of them are in its raw source).
MAX_HEADERS = 500
#: Entries of the FTP tree listed.
MAX_TREE = 2000


def decode_header(value) -> str:
    """A header as a person reads it (RFC 2047 words decoded); never raises on hostile input."""
    if value is None:
        return ""
    text = str(value)
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return text


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset as text; an unknown or wrong charset still shows something."""
    for candidate in (charset, "utf-8"):
        if candidate:
            try:
                return data.decode(candidate)
            except (LookupError, UnicodeDecodeError):
                continue
    return data.decode("latin-1")


def article_text(raw: bytes) -> str:
    """A news article as stored: headers as sent (ASCII on the wire), the body in the charset its
    Content-Type declares (GB2312 in cn.comp.lang.python), so it is not shown as UTF-8 mojibake."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return raw.decode("utf-8", "replace")
    try:
        charset = email.message_from_bytes(head + sep).get_content_charset()
    except (ValueError, LookupError, UnicodeError, AssertionError):
        charset = None
    return head.decode("utf-8", "replace") + "\r\n\r\n" + decode_text(body, charset)


# -- mail ---------------------------------------------------------------------------------------

def folder_name(name: str) -> str:
    """An IMAP folder name as a person reads it: modified UTF-7 (RFC 3501 §5.1.3) decoded, "&XfJT0ZAB-" is 已发送.

    A name the IMAP server would not have stored that way is shown as it is on disk.
    """
    try:
        return mutf7.decode(name)
    except ValueError:
        return name


@dataclass
class Mailbox:
    user: str
    folder: str  # "INBOX" or a folder name
    count: int


def mailboxes(mail_dir: Path, user: str | None = None) -> list[Mailbox]:
    """Every account's INBOX and folders (and the catch-all box), or one account's only."""
    accounts = mailstore.users(mail_dir)
    if user is None and (Path(mail_dir) / mailstore.CATCHALL / "cur").is_dir():
        accounts.append(mailstore.CATCHALL)
    boxes = []
    for account in accounts:
        if user is not None and account != user:
            continue
        for folder in ["INBOX", *mailstore.folders(mail_dir, account)]:
            boxes.append(Mailbox(account, folder, len(_names(mailstore.user_dir(mail_dir, account, folder)))))
    return boxes


def _names(box: Path) -> list[os.DirEntry]:
    """The message files of a Maildir (new/ and cur/), unsorted and without a stat each: for counts and lookups."""
    found = []
    for sub in ("new", "cur"):
        try:
            with os.scandir(box / sub) as it:
                found += [item for item in it if not item.name.startswith(".")]
        except OSError:
            continue
    return found


def box_path(mail_dir: Path, user: str, folder: str) -> Path | None:
    """The Maildir of a box that exists, or None: names are checked against the listing, never joined blindly."""
    if user != mailstore.CATCHALL and user not in mailstore.users(mail_dir):
        return None
    if user == mailstore.CATCHALL and not (Path(mail_dir) / user / "cur").is_dir():
        return None
    if folder != "INBOX" and folder not in mailstore.folders(mail_dir, user):
        return None
    return mailstore.user_dir(mail_dir, user, folder)


@dataclass
class Summary:
    key: str
    sender: str
    subject: str
    date: str
    size: int
    flags: str


class _Cache:
    """A small bounded map (oldest dropped), shared by the inspector's threads."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, {}, threading.Lock()

    def get(self, key):
        with self.lock:
            return self.items.get(key)

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                del self.items[next(iter(self.items))]


#: Each Maildir's listing, valid while its new/ and cur/ folders are unchanged (their mtimes).
_listings = _Cache(64)
#: Each message file's list entry: a file name (with its flags) and size only change with its content or flags.
_summaries = _Cache(20000)


def _listing(box: Path) -> list[mailstore.Entry]:
    """mailstore.messages(box), newest first, read again only when a message arrived, moved or changed flags."""
    try:
        stamp = tuple((box / sub).stat().st_mtime_ns for sub in ("new", "cur"))
    except OSError:
        return []
    cached = _listings.get(box)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    entries = mailstore.messages(box)
    entries.reverse()
    _listings.put(box, (stamp, entries))
    return entries


def message_page(box: Path, page: int, per_page: int) -> tuple[int, list[Summary]]:
    """(number of messages, one page of them, newest first)."""
    entries = _listing(box)
    chosen = entries[page * per_page:(page + 1) * per_page]
    parser = email.parser.BytesHeaderParser()
    summaries = []
    for entry in chosen:
        summary = _summaries.get((entry.path, entry.size))
        if summary is None:
            try:
                with open(entry.path, "rb") as f:
                    head = f.read(HEAD_BYTES)
            except OSError:  # moved by a server meanwhile (a flag changed): shown without headers
                head = b""
            headers = parser.parsebytes(head.split(b"\n\n", 1)[0] + b"\n\n")
            summary = Summary(entry.key, decode_header(headers.get("From")), decode_header(headers.get("Subject")),
                              decode_header(headers.get("Date")), entry.size, entry.flags)
            if head:
                _summaries.put((entry.path, entry.size), summary)
        summaries.append(summary)
    return len(entries), summaries


def read_message(box: Path, key: str) -> tuple[bytes, int] | None:
    """(the first MAX_MESSAGE bytes of a message, its full size), or None if no message has that key."""
    for item in _names(box):
        if mailstore.split_name(item.name)[0] == key:
            try:
                with open(item.path, "rb") as f:
                    return f.read(MAX_MESSAGE), os.fstat(f.fileno()).st_size
            except OSError:
                return None
    return None


@dataclass
class Part:
    """One node of a message's MIME tree."""

    depth: int
    content_type: str
    charset: str | None
    filename: str | None
    disposition: str | None
    encoding: str | None
    size: int  # decoded bytes (a multipart: 0)
    text: str | None = None  # decoded text of a text/* part (HTML as its source, never rendered)
    truncated: bool = False


def parseable(raw: bytes) -> tuple[bytes, bool]:
    """The start of a message that the MIME parser may take in bounded time; True if it was cut.

    At most TREE_BYTES and TREE_LINES, and cut before the line that would be the (MAX_PARTS + 1)th
    boundary line: that bounds both the number of parts and how deep they nest.
    """
    data = raw[:TREE_BYTES]
    boundaries = position = 0
    for number, line in enumerate(data.splitlines(keepends=True)):
        if number >= TREE_LINES:
            return data[:position], True
        if line.startswith(b"--"):
            boundaries += 1
            if boundaries > MAX_PARTS:
                return data[:position], True
        position += len(line)
    return data, len(raw) > TREE_BYTES


def mime_tree(raw: bytes) -> tuple[email.message.Message, list[Part]]:
    """The parsed message and its MIME parts, depth first (of its first TREE_BYTES and MAX_PARTS parts)."""
    message = email.message_from_bytes(parseable(raw)[0])
    parts: list[Part] = []

    def walk(node: email.message.Message, depth: int) -> None:
        if len(parts) >= MAX_PARTS:
            return
        payload = node.get_payload(decode=not node.is_multipart())
        part = Part(depth, node.get_content_type(), node.get_content_charset(), _safe(node.get_filename),
                    node.get_content_disposition(), node.get("Content-Transfer-Encoding"),
                    0 if node.is_multipart() else len(payload or b""))
        parts.append(part)
        if node.is_multipart():
            for child in node.get_payload() if isinstance(node.get_payload(), list) else ():
                walk(child, depth + 1)
        elif node.get_content_maintype() == "text" and isinstance(payload, bytes):
            text = decode_text(payload[:MAX_PART_TEXT * 4], part.charset)
            part.truncated = len(text) > MAX_PART_TEXT or len(payload) > MAX_PART_TEXT * 4
            part.text = text[:MAX_PART_TEXT]

    walk(message, 0)
    return message, parts


def _safe(getter):
    try:
        value = getter()
    except (ValueError, LookupError, UnicodeError, TypeError):
        return None
    return decode_header(value) if value else None


# -- FTP ----------------------------------------------------------------------------------------

@dataclass
class TreeEntry:
    path: str  # relative to the FTP root, with "/" separators
    depth: int
    is_dir: bool
    size: int


def ftp_tree(ftp_dir: Path, user: str | None = None) -> tuple[list[TreeEntry], bool]:
    """The FTP server's files (public/ and each home/<account>/), depth first; True if cut at MAX_TREE.

    Symbolic links are listed, never followed.
    """
    root = Path(ftp_dir)
    tops = ["public", "home"] if user is None else ["public", f"home/{user}"]
    entries: list[TreeEntry] = []
    cut = False

    def walk(folder: Path, rel: str, depth: int) -> None:
        nonlocal cut
        try:
            with os.scandir(folder) as it:  # a folder of a million uploads: only the first MAX_TREE are read
                items = sorted(itertools.islice(it, MAX_TREE + 1),
                               key=lambda e: (not e.is_dir(follow_symlinks=False), e.name))
        except OSError:
            return
        for item in items:
            if len(entries) >= MAX_TREE:
                cut = True
                return
            is_dir = item.is_dir(follow_symlinks=False)
            try:
                size = 0 if is_dir else item.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            path = f"{rel}/{item.name}"
            entries.append(TreeEntry(path, depth, is_dir, size))
            if is_dir:
                walk(Path(item.path), path, depth + 1)

    for top in tops:
        folder = root / top
        if folder.is_dir():
            entries.append(TreeEntry(top, 0, True, 0))
            walk(folder, top, 1)
    return entries, cut


# -- news ---------------------------------------------------------------------------------------

@dataclass
class Article:
    number: int
    subject: str
    sender: str
    date: str
    message_id: str
    references: list[str]
    path: Path


@dataclass
class Group:
    name: str
    description: str = ""
    posting: str = "y"
    articles: dict[int, Article] = field(default_factory=dict)


class NewsIndex:
    """The news server's groups and article headers, read again when its `active` file changes.

    Articles live once under spool/<first group>/<number>; their Xref header names
    every group and number they have (newsstore.py), as the news server reads them.
    """

    def __init__(self, news_dir: Path):
        self.root = Path(news_dir)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._groups: dict[str, Group] = {}

    def groups(self) -> dict[str, Group]:
        try:
            st = (self.root / "active").stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            return {}
        with self._lock:
            if stamp != self._stamp:
                self._groups, self._stamp = self._read(), stamp
            return self._groups

    def _read(self) -> dict[str, Group]:
        groups: dict[str, Group] = {}
        for line in _lines(self.root / "active"):
            parts = line.split()
            if parts:
                groups[parts[0]] = Group(parts[0], posting=parts[3] if len(parts) > 3 else "y")
        for line in _lines(self.root / "newsgroups"):
            name, _, description = line.partition("\t")
            if name in groups:
                groups[name].description = description.strip()
        spool = self.root / "spool"
        parser = email.parser.BytesHeaderParser()
        for folder in sorted(p for p in spool.iterdir() if p.is_dir()) if spool.is_dir() else ():
            for path in folder.iterdir():
                if not path.name.isdigit():
                    continue
                try:
                    with open(path, "rb") as f:
                        head = f.read(HEAD_BYTES)
                except OSError:
                    continue
                headers = parser.parsebytes(head.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0] + b"\n\n")
                refs = str(headers.get("References", "")).split()
                for item in str(headers.get("Xref", "")).split()[1:]:
                    group, _, number = item.rpartition(":")
                    if group in groups and number.isdigit():
                        groups[group].articles[int(number)] = Article(
                            int(number), decode_header(headers.get("Subject")), decode_header(headers.get("From")),
                            str(headers.get("Date", "")), str(headers.get("Message-ID", "")), refs, path)
        return groups


def threads(group: Group) -> list[list[tuple[int, Article]]]:
    """The group's threads, newest thread first; each thread is [(depth, article)] in reading order.

    An article's parent is the last of its References that is in the group (RFC 5536 §3.4.4).
    """
    by_id = {a.message_id: a for a in group.articles.values()}
    children: dict[str, list[Article]] = {}
    roots: list[Article] = []
    for article in sorted(group.articles.values(), key=lambda a: a.number):
        parent = next((ref for ref in reversed(article.references) if ref in by_id and ref != article.message_id), None)
        if parent is None:
            roots.append(article)
        else:
            children.setdefault(parent, []).append(article)
    result = []
    for root in roots:
        thread: list[tuple[int, Article]] = []
        stack = [(0, root)]
        seen = set()
        while stack:
            depth, article = stack.pop()
            if article.message_id in seen:
                continue
            seen.add(article.message_id)
            thread.append((depth, article))
            stack.extend((depth + 1, child) for child in reversed(children.get(article.message_id, [])))
        result.append(thread)
    result.sort(key=lambda t: max(a.number for _, a in t), reverse=True)
    return result


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
