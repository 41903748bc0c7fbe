"""The news server: NNTP (RFC 3977) for newsreaders, with TLS and logins.

How NNTP works, as this server shows it:

- The client connects; the server greets with 200 (posting allowed) or 201.
- The client sends one command per line (at most 512 octets with the CRLF);
  every reply starts with a three-digit status. Replies that carry data
  (articles, lists) continue with lines of text and end with a line holding a
  single ".". A data line that itself begins with "." gets a second one
  ("dot-stuffing"), which the receiver removes.
- GROUP selects a newsgroup and sets the "current article" to its first;
  ARTICLE, HEAD, BODY and STAT fetch by number in that group, by message-id
  from anywhere, or the current article; NEXT and LAST move it.
- OVER returns one tab-separated summary line per article: how newsreaders
  list a group quickly. HDR returns one header of many articles.
- POST: the server answers 340, the client sends the article, the server
  checks it and answers 240 or 441 with the reason.
- AUTHINFO USER/PASS logs in (RFC 4643); STARTTLS upgrades the connection to
  TLS (RFC 4642); the "nntps" port speaks TLS from the first byte.

The COMMANDS table below lists every command with the arguments it takes;
each one is carried out by the method nntp_<COMMAND> of NNTPSession. Articles
and groups live in newsstore.NewsStore.

Options (``--option key=value``): nntp_idle_timeout (seconds, default 900),
nntp_max_article_bytes (default 1000000).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime
import logging
import re
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from .config import ACCOUNTS
from .newsstore import OVERVIEW_FIELDS, SERVER_NAME, Article, Group, NewsStore, Rejected, overview_value
from .service import Service, listen

log = logging.getLogger("local_servers.nntp")

#: RFC 3977 §3.1: a command line is at most 512 octets, CRLF included.
MAX_COMMAND = 512
#: Stop reading from a client whose unread data grows beyond this (it is sending faster than we parse).
READ_BUFFER_HIGH = 256 * 1024


# -- the command table -------------------------------------------------------

# Argument syntax, as regular expressions (RFC 3977 §9.8).
MESSAGE_ID = r"<[\x21-\x3d\x3f-\x7e]{1,248}>"  # "<" then anything printable but ">", then ">"
NUMBER = r"\d{1,16}"
RANGE = rf"{NUMBER}(?:-(?:{NUMBER})?)?"  # n, n-, n-m
WILDMAT = r"[^\s]+"
DATE_TIME = r"(?:\d{6}|\d{8})\s+\d{6}(?:\s+GMT)?"


@dataclass(frozen=True)
class Command:
    """One row of the command table."""

    syntax: str  # the arguments as HELP shows them
    args: str  # a regular expression the whole argument string must match, else 501
    summary: str
    needs_group: bool = False  # 412 unless a group is selected (or a message-id is given)

    def accepts(self, arg: str) -> bool:
        return re.fullmatch(self.args, arg, re.IGNORECASE) is not None


COMMANDS: dict[str, Command] = {
    "ARTICLE": Command("[message-id|number]", rf"(?:{MESSAGE_ID}|{NUMBER})?", "the whole article", True),
    "AUTHINFO": Command("USER name|PASS password", r"(?:USER|PASS)\s+\S.*", "log in (RFC 4643)"),
    "BODY": Command("[message-id|number]", rf"(?:{MESSAGE_ID}|{NUMBER})?", "the article's body", True),
    "CAPABILITIES": Command("[keyword]", r"(?:\S+)?", "what this server can do"),
    "DATE": Command("", r"", "the server's time (UTC)"),
    "GROUP": Command("newsgroup", r"\S+", "select a newsgroup"),
    "HDR": Command("field [message-id|range]", rf"\S+(?:\s+(?:{MESSAGE_ID}|{RANGE}))?", "one header of articles",
                   True),
    "HEAD": Command("[message-id|number]", rf"(?:{MESSAGE_ID}|{NUMBER})?", "the article's headers", True),
    "HELP": Command("", r"", "this list"),
    "LAST": Command("", r"", "go to the previous article", True),
    "LIST": Command("[ACTIVE|ACTIVE.TIMES|NEWSGROUPS [wildmat]|OVERVIEW.FMT|HEADERS]", r"(?:\S+(?:\s+\S+)?)?",
                    "lists about groups and fields"),
    "LISTGROUP": Command("[newsgroup [range]]", rf"(?:\S+(?:\s+{RANGE})?)?", "the article numbers of a group"),
    "MODE": Command("READER", r"READER", "switch to reader mode (already on)"),
    "NEWGROUPS": Command("[yy]yymmdd hhmmss [GMT]", DATE_TIME, "groups created since a date"),
    "NEWNEWS": Command("wildmat [yy]yymmdd hhmmss [GMT]", rf"{WILDMAT}\s+{DATE_TIME}", "articles arrived since a date"),
    "NEXT": Command("", r"", "go to the next article", True),
    "OVER": Command("[message-id|range]", rf"(?:{MESSAGE_ID}|{RANGE})?", "overview lines of articles", True),
    "POST": Command("", r"", "post an article"),
    "QUIT": Command("", r"", "close the connection"),
    "STARTTLS": Command("", r"", "switch to TLS (RFC 4642)"),
    "STAT": Command("[message-id|number]", rf"(?:{MESSAGE_ID}|{NUMBER})?", "whether an article exists", True),
    # The older names some clients (and nntplib) use, from RFC 2980.
    "XHDR": Command("field [message-id|range]", rf"\S+(?:\s+(?:{MESSAGE_ID}|{RANGE}))?", "like HDR", True),
    "XOVER": Command("[range]", rf"(?:{MESSAGE_ID}|{RANGE})?", "like OVER", True),
}


# -- helpers -----------------------------------------------------------------

def dot_stuff(data: bytes) -> bytes:
    """Lines of data ready for the wire: a "." doubled at line starts, then the final ".".

    data is CRLF-terminated lines (or empty).
    """
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def wildmat(pattern: str):
    """A test for group names from an RFC 3977 wildmat ("comp.*,!comp.lang.*").

    Patterns are tried left to right; the last one that matches decides, and a
    "!" in front of it means "not". Raises ValueError for characters the RFC
    forbids in a wildmat.
    """
    rules = []
    for item in pattern.split(","):
        negate = item.startswith("!")
        item = item[1:] if negate else item
        if not item or any(c in item for c in "[\\]!"):
            raise ValueError(pattern)
        regex = re.escape(item).replace(r"\*", ".*").replace(r"\?", ".")
        rules.append((re.compile(regex, re.DOTALL), negate))

    def matches(name: str) -> bool:
        result = False
        for regex, negate in rules:
            if regex.fullmatch(name):
                result = not negate
        return result

    return matches


def parse_date(arg: str) -> float:
    """ "[yy]yymmdd hhmmss [GMT]" (RFC 3977 §7.3) as epoch seconds; local time without GMT."""
    parts = arg.split()
    date, clock = parts[0], parts[1]
    gmt = len(parts) > 2
    if len(date) == 6:  # two-digit year: this century unless that is in the future
        this_year = datetime.date.today().year
        year = this_year // 100 * 100 + int(date[:2])
        if year > this_year:
            year -= 100
    else:
        year = int(date[:4])
    when = datetime.datetime(year, int(date[-4:-2]), int(date[-2:]),
                             int(clock[:2]), int(clock[2:4]), int(clock[4:]))  # ValueError if impossible
    if gmt:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def parse_range(arg: str) -> tuple[int, int | None]:
    """ "n", "n-" or "n-m" as (first, last); last None means "to the end"."""
    first, dash, last = arg.partition("-")
    if not dash:
        return int(first), int(first)
    return int(first), (int(last) if last else None)


class _TooLong:
    """readline()'s answer for a line longer than allowed (it has been skipped)."""


TOO_LONG = _TooLong()


# -- the connection: bytes in and out -----------------------------------------

class Connection(asyncio.Protocol):
    """The transport side of one client: buffers what arrives, lets the session await lines.

    An asyncio Protocol rather than streams, so that STARTTLS can wrap this
    same protocol in TLS (loop.start_tls) on every Python from 3.10, and so
    that the plaintext received before the upgrade is surely thrown away.
    """

    def __init__(self, service: "NNTPService", tls: bool):
        self.service, self.tls = service, tls
        self.buf = bytearray()
        self.pos = 0  # start of the unread data in buf
        self.eof = False  # the client will send nothing more
        self.closed = False  # the connection is gone
        self._data_waiter: asyncio.Future | None = None
        self._drain_waiter: asyncio.Future | None = None
        self._reading_paused = False

    # Called by asyncio.
    def connection_made(self, transport):
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        session = NNTPSession(self, self.service)
        self.task = asyncio.get_running_loop().create_task(session.run())
        self.service.connections.add(self)
        self.task.add_done_callback(lambda _: self.service.connections.discard(self))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) - self.pos > READ_BUFFER_HIGH and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake("_data_waiter")

    def eof_received(self):
        self.eof = True
        self._wake("_data_waiter")
        # Plain TCP: keep our side open to answer what was sent before the EOF
        # (printf 'DATE\r\n' | nc). asyncio's TLS cannot half-close.
        return not self.tls

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._wake("_data_waiter")
        self._wake("_drain_waiter")

    def pause_writing(self) -> None:
        self._drain_waiter = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._wake("_drain_waiter")

    def _wake(self, name: str) -> None:
        waiter = getattr(self, name)
        setattr(self, name, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # Used by the session.
    async def readline(self, limit: int):
        """The next line without its line end; None at end of input; TOO_LONG if over limit octets."""
        skipping = False
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0:
                line = bytes(self.buf[self.pos:end])
                too_long = skipping or end + 1 - self.pos > limit
                self.pos = end + 1
                if too_long:
                    return TOO_LONG
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buf) - self.pos > limit:  # no end in sight: drop what we have, find the end
                skipping = True
                self.pos = len(self.buf)
            if self.eof or self.closed:
                return None
            await self._more_data()

    async def _more_data(self) -> None:
        del self.buf[:self.pos]
        self.pos = 0
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        self._data_waiter = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(self._data_waiter, self.service.idle_timeout)

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    async def drain(self) -> None:
        if self._drain_waiter is not None and not self.closed:
            await self._drain_waiter

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Wrap this connection in TLS, forgetting anything sent before the handshake (RFC 4642 §2.2.2)."""
        del self.buf[:]
        self.pos = 0
        loop = asyncio.get_running_loop()
        self.transport = await loop.start_tls(self.transport, self, context, server_side=True,
                                              ssl_handshake_timeout=30)
        self._reading_paused = False
        self.tls = True

    def close(self) -> None:
        self.closed = True
        self.transport.close()  # sends what is still buffered, then closes


# -- the session: one client's conversation ------------------------------------

class NNTPSession:
    """The state of one client (group, current article, login) and one method per command."""

    def __init__(self, conn: Connection, service: "NNTPService"):
        self.conn, self.service, self.store = conn, service, service.store
        self.group: Group | None = None
        self.current: int | None = None  # the current article number in self.group
        self.user: str | None = None
        self.pending_user: str | None = None  # after AUTHINFO USER, before PASS
        self.done = False

    @property
    def posting_allowed(self) -> bool:
        """Anonymous posting on loopback; beyond it, only after AUTHINFO."""
        return not self.service.ctx.public or self.user is not None

    # Replies: the status line and any data go out in ONE write, so that a
    # delayed ACK never holds the data back (INN took 40 ms per OVER otherwise).
    def send(self, status: str, data: bytes | None = None) -> None:
        reply = status.encode("utf-8") + b"\r\n"
        if data is not None:
            reply += dot_stuff(data)
        self.conn.write(reply)

    def send_lines(self, status: str, lines) -> None:
        self.send(status, b"".join(line + b"\r\n" for line in lines))

    async def run(self) -> None:
        conn = self.conn
        try:
            self.send(self.greeting())
            while not self.done:
                await conn.drain()
                line = await conn.readline(MAX_COMMAND)
                if line is None:
                    break
                if line is TOO_LONG:
                    self.send(f"501 Command line too long (the limit is {MAX_COMMAND} octets with CRLF)")
                    continue
                await self.dispatch(line)
        except asyncio.TimeoutError:
            self.send("400 Idle timeout, closing connection")
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            log.info("connection from %s ended: %s", conn.peer, exc)
        finally:
            conn.close()

    def greeting(self) -> str:
        if self.posting_allowed:
            return f"200 {SERVER_NAME} NNTP server ready (posting allowed)"
        return f"201 {SERVER_NAME} NNTP server ready (no posting)"

    async def dispatch(self, line: bytes) -> None:
        """Look the command up in the table, check its arguments, run its method."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.send("501 Commands are UTF-8 text")
            return
        words = text.split(None, 1)
        if not words:
            self.send("500 Empty command")
            return
        name = words[0].upper()
        arg = words[1].strip() if len(words) > 1 else ""
        command = COMMANDS.get(name)
        if command is None:
            self.send(f"500 Unknown command {words[0][:40]!r}; try HELP")
            return
        if not command.accepts(arg):
            self.send(f"501 Syntax error; usage: {name} {command.syntax}".rstrip())
            return
        if command.needs_group and self.group is None and "<" not in arg:
            self.send("412 No newsgroup selected")
            return
        try:
            await getattr(self, f"nntp_{name}")(arg)
        except (ConnectionError, asyncio.TimeoutError, ssl.SSLError):
            raise
        except Exception:  # a bug must not end the server, nor this client's session
            log.exception("error in %s from %s", name, self.conn.peer)
            self.send("403 Internal fault, sorry; the server log has the details")

    # -- finding articles ------------------------------------------------------

    def _find(self, arg: str) -> tuple[int, Article] | None:
        """The article named by arg (message-id, number, or "" for the current one).

        Returns (number to report, article), or None after sending the error.
        A message-id is reported as number 0 and leaves the current article alone.
        """
        if arg.startswith("<"):
            article = self.store.by_id.get(arg)
            if article is None:
                self.send("430 No article with that message-id")
                return None
            return 0, article
        if not arg:
            if self.current is None:
                self.send("420 Current article number is invalid")
                return None
            number = self.current
        else:
            number = int(arg)
        article = self.group.articles.get(number)
        if article is None:
            self.send("423 No article with that number")
            return None
        self.current = number
        return number, article

    def _numbers(self, arg: str) -> list[int] | None:
        """The numbers of a range argument ("" means the current article); None after an error."""
        if not arg:
            if self.current is None:
                self.send("420 Current article number is invalid")
                return None
            return [self.current]
        first, last = parse_range(arg)
        numbers = self.group.numbers_in(first, last)
        if not numbers:
            self.send("423 No articles in that range")
            return None
        return numbers

    # -- the commands, in the order of RFC 3977 ---------------------------------

    async def nntp_CAPABILITIES(self, arg: str) -> None:
        caps = ["VERSION 2", "IMPLEMENTATION python-internet-course local news server", "READER",
                "HDR", "NEWNEWS", "OVER MSGID", "LIST ACTIVE ACTIVE.TIMES NEWSGROUPS OVERVIEW.FMT HEADERS"]
        if self.posting_allowed:
            caps.append("POST")
        if not self.conn.tls and self.user is None:
            caps.append("STARTTLS")
        if self.user is None and (self.conn.tls or not self.service.ctx.public):
            caps.append("AUTHINFO USER")
        self.send_lines("101 Capability list:", (c.encode() for c in caps))

    async def nntp_MODE(self, arg: str) -> None:
        self.send(self.greeting())

    async def nntp_QUIT(self, arg: str) -> None:
        self.send("205 Bye")
        self.done = True

    async def nntp_HELP(self, arg: str) -> None:
        lines = (f"  {name} {c.syntax}".ljust(50).encode() + c.summary.encode() for name, c in COMMANDS.items())
        self.send_lines("100 Help text follows", lines)

    async def nntp_DATE(self, arg: str) -> None:
        self.send(time.strftime("111 %Y%m%d%H%M%S", time.gmtime()))

    async def nntp_GROUP(self, arg: str) -> None:
        group = self.store.groups.get(arg)
        if group is None:
            self.send("411 No such newsgroup")
            return
        self.group = group
        self.current = group.numbers[0] if group.numbers else None
        self.send(f"211 {group.count} {group.low} {group.high} {group.name}")

    async def nntp_LISTGROUP(self, arg: str) -> None:
        words = arg.split()
        group = self.store.groups.get(words[0]) if words else self.group
        if group is None:
            self.send("411 No such newsgroup" if words else "412 No newsgroup selected")
            return
        self.group = group
        self.current = group.numbers[0] if group.numbers else None
        numbers = group.numbers_in(*parse_range(words[1])) if len(words) > 1 else group.numbers
        self.send_lines(f"211 {group.count} {group.low} {group.high} {group.name} list follows",
                        (b"%d" % n for n in numbers))

    async def nntp_LAST(self, arg: str) -> None:
        await self._move(-1)

    async def nntp_NEXT(self, arg: str) -> None:
        await self._move(+1)

    async def _move(self, step: int) -> None:
        if self.current is None:
            self.send("420 Current article number is invalid")
            return
        numbers = self.group.numbers
        index = bisect.bisect_left(numbers, self.current) + step
        if not 0 <= index < len(numbers):
            self.send("421 No next article in this group" if step > 0 else "422 No previous article in this group")
            return
        self.current = numbers[index]
        self.send(f"223 {self.current} {self.group.articles[self.current].message_id} retrieved")

    async def nntp_ARTICLE(self, arg: str) -> None:
        found = self._find(arg)
        if found:
            number, article = found
            self.send(f"220 {number} {article.message_id} article", article.read())

    async def nntp_HEAD(self, arg: str) -> None:
        found = self._find(arg)
        if found:
            number, article = found
            raw = article.read()
            end = raw.find(b"\r\n\r\n")
            self.send(f"221 {number} {article.message_id} headers", raw[:end + 2] if end >= 0 else raw)

    async def nntp_BODY(self, arg: str) -> None:
        found = self._find(arg)
        if found:
            number, article = found
            raw = article.read()
            end = raw.find(b"\r\n\r\n")
            self.send(f"222 {number} {article.message_id} body", raw[end + 4:] if end >= 0 else b"")

    async def nntp_STAT(self, arg: str) -> None:
        found = self._find(arg)
        if found:
            number, article = found
            self.send(f"223 {number} {article.message_id} status")

    async def nntp_POST(self, arg: str) -> None:
        if not self.posting_allowed:
            self.send("480 Authentication required for posting (AUTHINFO USER)")
            return
        self.send("340 Send article to be posted. End with <CR-LF>.<CR-LF>")
        await self.conn.drain()
        limit = self.service.max_article
        lines: list[bytes] = []
        size, too_big = 0, False
        while True:  # read up to the lone ".", even when the article is too big to keep
            line = await self.conn.readline(limit + 2)
            if line is None:
                log.info("connection from %s dropped during POST: nothing stored", self.conn.peer)
                self.done = True
                return
            if line == b".":
                break
            if line is TOO_LONG:
                too_big, lines = True, []
                continue
            if line.startswith(b"."):
                line = line[1:]
            size += len(line) + 2
            if size > limit:
                too_big, lines = True, []
            if not too_big:
                lines.append(line)
        if too_big:
            self.send(f"441 Article too big (the limit is {limit} octets)")
            return
        try:
            article = self.store.post(b"".join(line + b"\r\n" for line in lines))
        except Rejected as exc:
            self.send(f"441 Posting failed: {exc}")
            return
        log.info("posted %s to %s", article.message_id, ", ".join(article.xref))
        self.send(f"240 Article received OK {article.message_id}")

    async def nntp_NEWGROUPS(self, arg: str) -> None:
        try:
            since = parse_date(arg)
        except ValueError:
            self.send("501 Bad date or time")
            return
        groups = [g for g in self.store.groups.values() if g.created >= since]
        self.send_lines("231 List of new newsgroups follows",
                        (f"{g.name} {g.high} {g.low} {g.posting}".encode() for g in groups))

    async def nntp_NEWNEWS(self, arg: str) -> None:
        pattern, date = arg.split(None, 1)
        try:
            matches, since = wildmat(pattern), parse_date(date)
        except ValueError:
            self.send("501 Bad wildmat, date or time")
            return
        found = [a for a in self.store.by_id.values() if a.injected >= since and any(map(matches, a.xref))]
        found.sort(key=lambda a: a.injected)
        self.send_lines("230 List of new articles follows", (a.message_id.encode() for a in found))

    async def nntp_LIST(self, arg: str) -> None:
        words = arg.split()
        keyword = words[0].upper() if words else "ACTIVE"
        pattern = words[1] if len(words) > 1 else None
        try:
            matches = wildmat(pattern) if pattern else (lambda name: True)
        except ValueError:
            self.send("501 Bad wildmat")
            return
        groups = [g for g in self.store.groups.values() if matches(g.name)]
        if keyword == "ACTIVE":
            lines = (f"{g.name} {g.high} {g.low} {g.posting}" for g in groups)
            self.send_lines("215 List of newsgroups follows", (s.encode() for s in lines))
        elif keyword == "ACTIVE.TIMES":
            lines = (f"{g.name} {g.created} {g.creator}" for g in groups)
            self.send_lines("215 Group creation times follow", (s.encode() for s in lines))
        elif keyword == "NEWSGROUPS":
            lines = (f"{g.name}\t{g.description}" for g in groups)
            self.send_lines("215 Descriptions follow", (s.encode("utf-8") for s in lines))
        elif keyword == "OVERVIEW.FMT" and not pattern:
            self.send_lines("215 Order of fields in overview database", (f.encode() for f in OVERVIEW_FIELDS))
        elif keyword == "HEADERS" and (not pattern or pattern.upper() in ("MSGID", "RANGE")):
            self.send_lines("215 Headers and metadata items supported", [b":", b":bytes", b":lines"])
        else:
            self.send(f"501 Unknown LIST keyword or argument; try one of {COMMANDS['LIST'].syntax}")

    async def nntp_OVER(self, arg: str, status: str = "224 Overview information follows") -> None:
        if arg.startswith("<"):
            found = self._find(arg)
            if found:
                self.send(status, b"0" + found[1].overview + b"\r\n")
            return
        numbers = self._numbers(arg)
        if numbers is not None:
            articles = self.group.articles
            self.send(status, b"".join(b"%d%s\r\n" % (n, articles[n].overview) for n in numbers))

    async def nntp_XOVER(self, arg: str) -> None:
        await self.nntp_OVER(arg)

    async def nntp_HDR(self, arg: str, status: str = "225 Headers follow") -> None:
        words = arg.split()
        name, which = words[0], (words[1] if len(words) > 1 else "")
        if which.startswith("<"):
            found = self._find(which)
            pairs = [(0, found[1])] if found else None
        else:
            numbers = self._numbers(which)
            pairs = [(n, self.group.articles[n]) for n in numbers] if numbers is not None else None
        if pairs is not None:
            self.send_lines(status, (b"%d %s" % (n, overview_value(a.header(name))) for n, a in pairs))

    async def nntp_XHDR(self, arg: str) -> None:
        await self.nntp_HDR(arg, status="221 Header follows")

    async def nntp_AUTHINFO(self, arg: str) -> None:
        kind, value = arg.split(None, 1)
        if self.user is not None:
            self.send("502 Already authenticated")
        elif self.service.ctx.public and not self.conn.tls:
            self.send("483 Encryption required: use STARTTLS or the nntps port first")
        elif kind.upper() == "USER":
            self.pending_user = value
            self.send("381 Password required")
        elif self.pending_user is None:
            self.send("482 Authentication commands issued out of sequence (AUTHINFO USER first)")
        elif ACCOUNTS.get(self.pending_user) == value:
            self.user, self.pending_user = self.pending_user, None
            log.info("%s logged in from %s", self.user, self.conn.peer)
            self.send("281 Authentication accepted")
        else:
            log.info("NNTP login failed for %r from %s", self.pending_user, self.conn.peer)
            self.pending_user = None
            self.send("481 Authentication failed")

    async def nntp_STARTTLS(self, arg: str) -> None:
        if self.conn.tls:
            self.send("502 Already using TLS")
            return
        if self.user is not None:
            self.send("502 Already authenticated")
            return
        context = self.service.ssl_context
        if context is None:
            self.send("580 Can not initiate TLS negotiation")
            return
        self.send("382 Continue with TLS negotiation")
        await self.conn.start_tls(context)
        # RFC 4642 §2.2.2: forget what the client told us before TLS.
        self.group, self.current, self.pending_user = None, None, None


# -- the service ---------------------------------------------------------------

class NNTPService(Service):
    """NNTP on the "nntp" port (with STARTTLS) and NNTP over TLS on "nntps"."""

    name = "nntp"
    listeners = ("nntp", "nntps")

    @classmethod
    def seed(cls, data_dir: Path) -> None:
        from .newsseed import seed

        seed(data_dir)

    async def start(self) -> None:
        options = self.ctx.options
        self.idle_timeout = float(options.get("nntp_idle_timeout", 900))
        self.max_article = int(options.get("nntp_max_article_bytes", 1_000_000))
        self.store = NewsStore(self.data_dir)
        self.connections: set[Connection] = set()
        try:
            self.ssl_context: ssl.SSLContext | None = self.ctx.server_ssl_context()
        except (OSError, ssl.SSLError):
            log.exception("no TLS for NNTP")
            self.ssl_context = None
        loop = asyncio.get_running_loop()
        plain = listen(self.ctx, "nntp")
        try:
            secure = listen(self.ctx, "nntps")
        except OSError:
            plain.close()
            raise
        self.servers = [
            await loop.create_server(lambda: Connection(self, tls=False), sock=plain),
            await loop.create_server(lambda: Connection(self, tls=True), sock=secure, ssl=self.ssl_context,
                                     ssl_handshake_timeout=30),
        ]
        self.ports = {"nntp": plain.getsockname()[1], "nntps": secure.getsockname()[1]}
        log.info("news server: %d groups, %d articles", len(self.store.groups), len(self.store.by_id))

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        tasks = [conn.task for conn in self.connections]
        for conn in list(self.connections):
            conn.transport.abort()
            conn.task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        for server in self.servers:
            await server.wait_closed()

    def info(self) -> dict:
        return {"host": self.ctx.host, "port": self.ports["nntp"], "tls_ports": {"nntps": self.ports["nntps"]},
                "starttls": True, "udp_port": None, "accounts": dict(ACCOUNTS),
                "extra": {"groups": sorted(self.store.groups)}}
