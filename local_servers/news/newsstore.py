"""The news server's storage: newsgroups, numbered articles, and posting rules.

The layout on disk follows INN's classic files, so what a student finds in
the data folder is what a real news server keeps:

    active         one line per group: "name high low flag" (flag y: posting, n: read-only)
    active.times   one line per group: "name created-epoch creator"  (for NEWGROUPS)
    newsgroups     one line per group: "name<TAB>description"         (for LIST NEWSGROUPS)
    spool/<group>/<number>   each article, byte for byte as posted (CRLF line ends),
                             plus the headers the server adds (Path, Xref, ...)

An article file is the single source of truth for where the article is filed:
its Xref header ("Xref: news.example.test comp.lang.python:12 course.test:3")
names every group and number it has. At start-up the store reads the headers of
every article once and keeps, in memory, the message-id index and each group's
overview lines, so OVER of a thousand articles is a join of cached bytes
rather than a thousand file reads.

Articles are numbered per group, never renumbered, and a number is never
reused (the `active` file remembers the high-water mark). A post is written to
tmp/ first and renamed into the spool: a crash or a dropped connection never
leaves half an article behind.
"""

from __future__ import annotations

import bisect
import datetime
import email.utils
import itertools
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MAIL_DOMAIN
from ..files import write_atomically

#: The server's name in Path and Xref headers, and in generated message-ids.
SERVER_NAME = f"news.{MAIL_DOMAIN}"

#: The overview fields, in the order OVER sends them (RFC 3977 §8.4).
OVERVIEW_FIELDS = ("Subject:", "From:", "Date:", "Message-ID:", "References:", ":bytes", ":lines", "Xref:full")

_OVERVIEW_HEADERS = ("subject", "from", "date", "message-id", "references", ":bytes", ":lines")

log = logging.getLogger("local_servers.nntp")

_HEADER = re.compile(rb"([\x21-\x39\x3b-\x7e]+):(.*)", re.S)  # field name: printable ASCII but ":"
_MESSAGE_ID = re.compile(rb"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")  # <local@domain>, no < > or space
_GROUP_NAME = re.compile(r"[a-z0-9][a-z0-9+_-]*(\.[a-z0-9+_-]+)*")
_SINGLE = {b"from", b"subject", b"newsgroups", b"message-id", b"date", b"references", b"path", b"followup-to"}


class Rejected(ValueError):
    """A post the server refuses; the message is the reason sent after 441."""


@dataclass
class Article:
    """What the server remembers about one article without opening its file."""

    message_id: str
    path: Path
    headers: dict[str, bytes]  # lower-case field name -> unfolded value (first occurrence)
    size: int  # octets, with CRLF line ends and without dot-stuffing (":bytes")
    lines: int  # lines in the body (":lines")
    injected: float  # when the server accepted it (Injection-Date), for NEWNEWS
    xref: dict[str, int]  # group -> number
    overview: bytes = b""  # everything after the article number in an OVER line

    def header(self, name: str) -> bytes | None:
        """A header's unfolded value, or the metadata items ':bytes' and ':lines'."""
        metadata = {":bytes": self.size, ":lines": self.lines}.get(name.lower())
        return self.headers.get(name.lower()) if metadata is None else b"%d" % metadata


@dataclass
class Group:
    """One newsgroup: its articles by number, in order."""

    name: str
    description: str = ""
    posting: str = "y"  # "y" posting allowed, "n" read-only
    created: int = 0  # epoch seconds, for NEWGROUPS
    creator: str = f"news@{MAIL_DOMAIN}"
    high: int = 0  # the highest number ever given out (never goes down)
    numbers: list[int] = field(default_factory=list)  # sorted
    articles: dict[int, Article] = field(default_factory=dict)

    @property
    def low(self) -> int:
        # RFC 3977 §6.1.1.2: an empty group reports low = high + 1.
        return self.numbers[0] if self.numbers else self.high + 1

    def numbers_in(self, first: int, last: int | None) -> list[int]:
        """The article numbers from first to last (None: to the end), both included."""
        start = bisect.bisect_left(self.numbers, first)
        end = len(self.numbers) if last is None else bisect.bisect_right(self.numbers, last)
        return self.numbers[start:end]

    def add(self, number: int, article: Article) -> None:
        bisect.insort(self.numbers, number)  # at the end, as a rule: O(log n)
        self.articles[number] = article
        self.high = max(self.high, number)


def unfold(value: bytes) -> bytes:
    """RFC 5322 unfolding: drop the CRLF of continuation lines, keep the whitespace."""
    return value.replace(b"\r\n", b"").strip()


def overview_value(value: bytes | None) -> bytes:
    """A field as OVER sends it: one line, TAB, CR and LF turned into spaces (RFC 3977 §8.3.2)."""
    return (value or b"").replace(b"\t", b" ").replace(b"\r", b" ").replace(b"\n", b" ")


def split_article(raw: bytes) -> tuple[list[bytes], bytes]:
    """Header lines (continuations joined to their field) and the body."""
    head, sep, body = (b"\r\n" + raw).partition(b"\r\n\r\n")  # a CRLF in front: no headers splits too
    head = head[2:] if sep else head[2:].removesuffix(b"\r\n")  # no empty line: headers only, no body
    fields: list[bytes] = []
    for line in head.split(b"\r\n") if head else []:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields, body


def parse_fields(fields: list[bytes], strict: bool = True) -> list[tuple[bytes, bytes]]:
    """(name, raw value) for each header field; a malformed one is Rejected, or skipped if not strict
    (an article already on disk is trusted)."""
    parsed = []
    for number, line in enumerate(fields, 1):
        if match := _HEADER.fullmatch(line):
            parsed.append(match.groups())
        elif strict:
            shown = line[:60].decode("utf-8", "replace")
            raise Rejected(f"malformed header line {number}: {shown!r} (expected 'Name: value')")
    return parsed


def count_lines(body: bytes) -> int:
    return body.count(b"\r\n") + (1 if body and not body.endswith(b"\r\n") else 0)


def _epoch(date_value: bytes | None) -> float | None:
    if not date_value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(date_value.decode("ascii", "replace"))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=parsed.tzinfo or datetime.timezone.utc).timestamp()  # no zone: UTC


class NewsStore:
    """All groups and articles of one data folder, indexed in memory."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.spool, self.tmp = self.root / "spool", self.root / "tmp"
        self.groups: dict[str, Group] = {}
        self.by_id: dict[str, Article] = {}
        self._ids = itertools.count(1)
        self._load()

    # -- loading ---------------------------------------------------------

    def _load(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.glob("*.tmp") if self.tmp.exists() else ():
            leftover.unlink(missing_ok=True)  # a post interrupted before its rename
        for line in self._lines("active"):
            name, high, _low, flag = (line.split() + ["", "", "", ""])[:4]
            if name:
                self.groups[name] = Group(name, posting=flag or "y", high=int(high or 0))
        for line in self._lines("active.times"):
            name, created, creator = (line.split() + ["", "", ""])[:3]
            if created and name in self.groups:
                group = self.groups[name]
                group.created, group.creator = int(created), creator or group.creator
        for line in self._lines("newsgroups"):
            name, _, description = line.partition("\t")
            if name in self.groups:
                self.groups[name].description = description.strip()
        if self.spool.exists():
            for folder in sorted(p for p in self.spool.iterdir() if p.is_dir()):
                for path in folder.iterdir():
                    if path.name.isdigit():
                        self._index(path, path.read_bytes())

    def _lines(self, name: str) -> list[str]:
        try:
            return (self.root / name).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []

    def _index(self, path: Path, raw: bytes) -> Article | None:
        """Remember an article file: its groups (from Xref), message-id and overview."""
        fields, body = split_article(raw)
        headers: dict[str, bytes] = {}
        for name, value in parse_fields(fields, strict=False):
            headers.setdefault(name.decode("ascii").lower(), unfold(value))
        message_id = headers.get("message-id", b"").decode("ascii", "replace")
        xref: dict[str, int] = {}
        for item in headers.get("xref", b"").split()[1:]:
            group, _, number = item.decode("ascii", "replace").rpartition(":")
            if group in self.groups and number.isdigit():
                xref[group] = int(number)
        if not message_id or not xref or message_id in self.by_id:
            log.warning("skipping %s: no message-id, no known group in Xref, or a duplicate", path)
            return None
        injected = _epoch(headers.get("injection-date")) or _epoch(headers.get("date")) or path.stat().st_mtime
        article = Article(message_id, path, headers, len(raw), count_lines(body), injected, xref)
        values = [overview_value(article.header(name)) for name in _OVERVIEW_HEADERS]
        xref_value = article.header("xref")  # "Xref:full": sent with its name
        values.append(b"Xref: " + overview_value(xref_value) if xref_value else b"")
        article.overview = b"\t" + b"\t".join(values)
        self.by_id[message_id] = article
        for group, number in xref.items():
            self.groups[group].add(number, article)
        return article

    # -- groups ------------------------------------------------------------

    def create_group(self, name: str, description: str = "", posting: str = "y", created: int | None = None) -> Group:
        if not _GROUP_NAME.fullmatch(name):
            raise ValueError(f"bad newsgroup name {name!r}")
        if posting not in ("y", "n"):
            raise ValueError("posting is 'y' or 'n'")
        group = self.groups.setdefault(name, Group(name))
        group.description, group.posting = description, posting
        group.created = int(time.time()) if created is None else int(created)
        self._save_groups()
        return group

    def _save_groups(self) -> None:
        groups = sorted(self.groups.values(), key=lambda g: g.name)
        # INN pads the numbers to ten digits so that the file can be updated in place.
        active = "".join(f"{g.name} {g.high:010d} {g.low:010d} {g.posting}\n" for g in groups)
        times = "".join(f"{g.name} {g.created} {g.creator}\n" for g in groups)
        descriptions = "".join(f"{g.name}\t{g.description}\n" for g in groups)
        for name, text in (("active", active), ("active.times", times), ("newsgroups", descriptions)):
            path = self.root / name
            data = text.encode("utf-8")
            if not path.exists() or path.read_bytes() != data:
                write_atomically(path, data, tmp_dir=self.tmp)

    # -- posting -----------------------------------------------------------

    def post(self, raw: bytes, *, now: float | None = None, allow_read_only: bool = False) -> Article:
        """Check an article as an injecting server would, add its headers, and file it. raw: as the client
        sent it (dot-stuffing removed, CRLF line ends). Raises Rejected with the reason the client should see."""
        now = time.time() if now is None else now
        fields, body = split_article(raw)
        if not fields:
            raise Rejected("the article has no headers")
        parsed = parse_fields(fields)
        seen: dict[bytes, bytes] = {}
        for name, value in parsed:
            lower = name.lower()
            if lower in _SINGLE and lower in seen:
                raise Rejected(f"duplicate {name.decode()} header")
            seen[lower] = unfold(value)
        for required in (b"From", b"Subject", b"Newsgroups"):
            if not seen.get(required.lower()):
                raise Rejected(f"missing or empty {required.decode()} header")

        try:
            groups = list(dict.fromkeys(name.strip().decode("ascii") for name in seen[b"newsgroups"].split(b",")))
        except UnicodeDecodeError:
            raise Rejected("newsgroup names are ASCII") from None
        for name in groups:
            if name not in self.groups:
                raise Rejected(f"no such newsgroup: {name!r}")
            if self.groups[name].posting != "y" and not allow_read_only:
                raise Rejected(f"newsgroup {name} is read-only (posting flag n)")

        added: list[bytes] = []
        if (message_id := seen.get(b"message-id")) is None:
            message_id = self._new_message_id(now)
            added.append(b"Message-ID: " + message_id)
        elif not _MESSAGE_ID.fullmatch(message_id) or len(message_id) > 250:
            raise Rejected(f"malformed Message-ID {message_id[:80].decode('ascii', 'replace')!r}")
        elif message_id.decode("ascii") in self.by_id:
            raise Rejected(f"duplicate Message-ID {message_id.decode('ascii')}")
        if b"date" not in seen:
            added.append(b"Date: " + email.utils.formatdate(now, usegmt=True).encode())
        elif _epoch(seen[b"date"]) is None:
            raise Rejected("unparseable Date header")
        if b"lines" not in seen:
            added.append(b"Lines: %d" % count_lines(body))
        added.append(b"Injection-Date: " + email.utils.formatdate(now, usegmt=True).encode())

        numbers = {name: self.groups[name].high + 1 for name in groups}
        xref = b"Xref: " + " ".join([SERVER_NAME] + [f"{g}:{n}" for g, n in numbers.items()]).encode()
        # Each server an article passes through prepends its name (RFC 5537 §3.2).
        path_line = b"Path: " + SERVER_NAME.encode() + b"!" + (seen.get(b"path") or b"not-for-mail")
        kept = [line for line, (name, _) in zip(fields, parsed)
                if name.lower() not in (b"path", b"xref", b"injection-date")]
        head = b"\r\n".join([path_line] + kept + added + [xref]) + b"\r\n"
        article_bytes = head + b"\r\n" + body

        path = self.spool / groups[0] / str(numbers[groups[0]])  # filed in its first group's folder
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, article_bytes, tmp_dir=self.tmp)
        article = self._index(path, article_bytes)
        assert article is not None
        self._save_groups()
        return article

    def _new_message_id(self, now: float) -> bytes:
        while True:
            candidate = f"<{int(now * 1000):x}.{os.getpid()}.{next(self._ids)}@{SERVER_NAME}>"
            if candidate not in self.by_id:
                return candidate.encode("ascii")
