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

The engine (engine/line.py) checks each line against the COMMANDS table below and calls
NNTPSession's cmd_<COMMAND>; articles and groups live in newsstore.NewsStore.
"""

from __future__ import annotations

import bisect
import datetime
import time
from functools import partialmethod
from pathlib import Path

from ..config import check_login
from ..engine import Command, LineService, LineSession, dot_stuff
from .newsstore import OVERVIEW_FIELDS, SERVER_NAME, Article, Group, NewsStore, Rejected, overview_value
from ..service import Option


# -- the command table -------------------------------------------------------

# Argument syntax, as regular expressions (RFC 3977 §9.8).
MESSAGE_ID = r"<[\x21-\x3d\x3f-\x7e]{1,248}>"  # "<" then anything printable but ">", then ">"
NUMBER = r"\d{1,16}"
RANGE = rf"{NUMBER}(?:-(?:{NUMBER})?)?"  # n, n-, n-m
WILDMAT = r"[^\s]+"
DATE_TIME = r"(?:\d{6}|\d{8})\s+\d{6}(?:\s+GMT)?"


COMMANDS: dict[str, Command] = {
    "ARTICLE": Command("[message-id|number]", "the whole article", rf"(?:{MESSAGE_ID}|{NUMBER})?", needs_group=True),
    "AUTHINFO": Command("USER name|PASS password", "log in (RFC 4643)", r"(?:USER|PASS)\s+\S.*"),
    "BODY": Command("[message-id|number]", "the article's body", rf"(?:{MESSAGE_ID}|{NUMBER})?", needs_group=True),
    "CAPABILITIES": Command("[keyword]", "what this server can do", r"(?:\S+)?"),
    "DATE": Command("", "the server's time (UTC)", r""),
    "GROUP": Command("newsgroup", "select a newsgroup", r"\S+"),
    "HDR": Command("field [message-id|range]", "one header of articles", rf"\S+(?:\s+(?:{MESSAGE_ID}|{RANGE}))?", needs_group=True),
    "HEAD": Command("[message-id|number]", "the article's headers", rf"(?:{MESSAGE_ID}|{NUMBER})?", needs_group=True),
    "HELP": Command("", "this list", r""),
    "LAST": Command("", "go to the previous article", r"", needs_group=True),
    "LIST": Command("[ACTIVE|ACTIVE.TIMES|NEWSGROUPS [wildmat]|OVERVIEW.FMT|HEADERS]", "lists about groups and fields", r"(?:\S+(?:\s+\S+)?)?"),
    "LISTGROUP": Command("[newsgroup [range]]", "the article numbers of a group", rf"(?:\S+(?:\s+{RANGE})?)?"),
    "MODE": Command("READER", "switch to reader mode (already on)", r"READER"),
    "NEWGROUPS": Command("[yy]yymmdd hhmmss [GMT]", "groups created since a date", DATE_TIME),
    "NEWNEWS": Command("wildmat [yy]yymmdd hhmmss [GMT]", "articles arrived since a date", rf"{WILDMAT}\s+{DATE_TIME}"),
    "NEXT": Command("", "go to the next article", r"", needs_group=True),
    "OVER": Command("[message-id|range]", "overview lines of articles", rf"(?:{MESSAGE_ID}|{RANGE})?", needs_group=True),
    "POST": Command("", "post an article", r""),
    "QUIT": Command("", "close the connection", r""),
    "STARTTLS": Command("", "switch to TLS (RFC 4642)", r""),
    "STAT": Command("[message-id|number]", "whether an article exists", rf"(?:{MESSAGE_ID}|{NUMBER})?", needs_group=True),
    # The older names some clients (and nntplib) use, from RFC 2980.
    "XHDR": Command("field [message-id|range]", "like HDR", rf"\S+(?:\s+(?:{MESSAGE_ID}|{RANGE}))?", needs_group=True),
    "XOVER": Command("[range]", "like OVER", rf"(?:{MESSAGE_ID}|{RANGE})?", needs_group=True),
}


# -- helpers -----------------------------------------------------------------

def wildmat(pattern: str):
    """A test for group names from an RFC 3977 wildmat ("comp.*,!comp.lang.*"): the last pattern that
    matches decides, "!" in front of it meaning "not". ValueError for characters the RFC forbids."""
    rules = []
    for item in pattern.split(","):
        negate, item = item.startswith("!"), item.removeprefix("!")
        if not item or any(c in item for c in "[\\]!"):
            raise ValueError(pattern)
        rules.append((item, negate))

    def matches(name: str) -> bool:
        return next((not negate for item, negate in reversed(rules) if glob_match(item, name)), False)

    return matches


def glob_match(pattern: str, name: str) -> bool:
    """Whether name matches pattern ("*": any run of characters, "?": one character). Greedy: when a later
    part fails, only the last "*" takes one more character, so each character of name is retried at most
    once per pattern position, not as a regex backtracks."""
    p = n = 0
    star, resume = -1, 0  # the last "*" seen, and where in name its match would end next
    while n < len(name):
        if p < len(pattern) and pattern[p] in ("?", name[n]) and pattern[p] != "*":
            p, n = p + 1, n + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p, n
            p += 1
        elif star >= 0:
            resume += 1
            p, n = star + 1, resume
        else:
            return False
    return all(c == "*" for c in pattern[p:])


def parse_date(arg: str) -> float:
    """ "[yy]yymmdd hhmmss [GMT]" (RFC 3977 §7.3) as epoch seconds; local time without GMT."""
    date, clock, *gmt = arg.split()
    year, this_year = int(date[:-4]), datetime.date.today().year
    if len(date) == 6:  # two-digit year: the latest such year not in the future
        year = this_year - (this_year - year) % 100
    when = datetime.datetime(year, int(date[-4:-2]), int(date[-2:]), int(clock[:2]), int(clock[2:4]), int(clock[4:]),
                             tzinfo=datetime.timezone.utc if gmt else None)  # ValueError if impossible
    return when.timestamp()


def reply(status: str, data: bytes | None = None) -> bytes:
    """The status line and any data as ONE reply: a delayed ACK between two writes took INN 40 ms per OVER."""
    return status.encode("utf-8") + b"\r\n" + (b"" if data is None else dot_stuff(data))


def reply_lines(status: str, lines) -> bytes:
    return reply(status, b"".join(line + b"\r\n" for line in lines))


def active_line(group: Group) -> str:
    return f"{group.name} {group.high} {group.low} {group.posting}"


#: LIST's keywords that list groups: the status line, and each group's line.
GROUP_LISTS = {
    "ACTIVE": ("215 List of newsgroups follows", active_line),
    "ACTIVE.TIMES": ("215 Group creation times follow", lambda group: f"{group.name} {group.created} {group.creator}"),
    "NEWSGROUPS": ("215 Descriptions follow", lambda group: f"{group.name}\t{group.description}"),
}


def parse_range(arg: str) -> tuple[int, int | None]:
    """ "n", "n-" or "n-m" as (first, last); last None means "to the end"."""
    first, dash, last = arg.partition("-")
    last = last if dash else first  # "n" is "n-n"
    return int(first), (int(last) if last else None)


# -- the session: one client's conversation ------------------------------------

class NNTPSession(LineSession):
    """The state of one client (group, current article, login) and one method per command."""

    commands = COMMANDS
    max_line = 512  # RFC 3977 §3.1: a command line is at most 512 octets, CRLF included

    def __init__(self, service: "NNTPService", tls: bool):
        super().__init__(service, tls)
        self.store = service.store
        self.group: Group | None = None
        self.current: int | None = None  # the current article number in self.group
        self.user: str | None = None
        self.pending_user: str | None = None  # after AUTHINFO USER, before PASS

    @property
    def posting_allowed(self) -> bool:
        """Anonymous posting on loopback; beyond it (and on a class server), only after AUTHINFO."""
        return not (self.service.ctx.public or self.service.ctx.classroom) or self.user is not None

    def greeting(self) -> bytes:
        return reply(f"200 {SERVER_NAME} NNTP server ready (posting allowed)" if self.posting_allowed
                     else f"201 {SERVER_NAME} NNTP server ready (no posting)")

    def error(self, kind: str, verb: str = "", syntax: str = "", limit: int = 0) -> bytes:
        return {
            "too_long": f"501 Command line too long (the limit is {limit} octets with CRLF)",
            "not_text": "501 Commands are UTF-8 text without control characters",
            "empty": "500 Empty command",
            "unknown": f"500 Unknown command {verb!r}; try HELP",
            "syntax": f"501 Syntax error; usage: {verb} {syntax}".rstrip(),
            "internal": "403 Internal fault, sorry; the server log has the details",
            "busy": "400 Too many connections, try again later",
            "idle": "400 Idle timeout, closing connection",
        }[kind].encode("utf-8") + b"\r\n"

    def split(self, text: str) -> tuple[str, str]:
        words = text.split(None, 1)
        return (words[0], words[1].strip()) if len(words) > 1 else ((words or [""])[0], "")

    def check(self, verb: str, command: Command, arg: str) -> bytes | None:
        if command.needs_group and self.group is None and "<" not in arg:
            return b"412 No newsgroup selected\r\n"
        return None

    # -- finding articles ------------------------------------------------------

    def _find(self, arg: str) -> tuple[int, Article] | bytes:
        """(number to report, article) for a message-id (number 0; the current article stays), a number,
        or "" (the current article); else the error reply."""
        if arg.startswith("<"):
            article = self.store.by_id.get(arg)
            return (0, article) if article else reply("430 No article with that message-id")
        number = int(arg) if arg else self.current
        if number is None:
            return reply("420 Current article number is invalid")
        if number not in self.group.articles:
            return reply("423 No article with that number")
        self.current = number
        return number, self.group.articles[number]

    def _articles(self, arg: str) -> list[tuple[int, Article]] | bytes:
        """(number, article) for each article of a range, or as _find() for a message-id or ""."""
        if arg.startswith("<") or not arg:
            found = self._find(arg)
            return found if isinstance(found, bytes) else [found]
        numbers = self.group.numbers_in(*parse_range(arg))
        return [(n, self.group.articles[n]) for n in numbers] or reply("423 No articles in that range")

    # -- the commands, in the order of RFC 3977 ---------------------------------

    def cmd_CAPABILITIES(self, arg: str) -> bytes:
        caps = ["VERSION 2", "IMPLEMENTATION python-internet-course local news server", "READER",
                "HDR", "NEWNEWS", "OVER MSGID", "LIST ACTIVE ACTIVE.TIMES NEWSGROUPS OVERVIEW.FMT HEADERS"]
        offered = {"POST": self.posting_allowed, "STARTTLS": not self.tls and self.user is None,
                   "AUTHINFO USER": self.user is None and (self.tls or not self.service.ctx.public)}
        caps += [cap for cap, on in offered.items() if on]
        return reply_lines("101 Capability list:", (c.encode() for c in caps))

    def cmd_MODE(self, arg: str) -> bytes:
        return self.greeting()

    def cmd_QUIT(self, arg: str) -> None:
        self.close(b"205 Bye\r\n")

    def cmd_HELP(self, arg: str) -> bytes:
        lines = (f"  {name} {c.syntax}".ljust(50).encode() + c.summary.encode() for name, c in COMMANDS.items())
        return reply_lines("100 Help text follows", lines)

    def cmd_DATE(self, arg: str) -> bytes:
        return reply(time.strftime("111 %Y%m%d%H%M%S", time.gmtime()))

    def cmd_GROUP(self, arg: str) -> bytes:
        group = self.store.groups.get(arg)
        return reply(self._select(group) if group else "411 No such newsgroup")

    def _select(self, group: Group) -> str:
        """Make group the current one, at its first article; the 211 status line that says so."""
        self.group, self.current = group, (group.numbers[0] if group.numbers else None)
        return f"211 {len(group.numbers)} {group.low} {group.high} {group.name}"

    def cmd_LISTGROUP(self, arg: str) -> bytes:
        words = arg.split()
        group = self.store.groups.get(words[0]) if words else self.group
        if group is None:
            return reply("411 No such newsgroup" if words else "412 No newsgroup selected")
        numbers = group.numbers_in(*parse_range(words[1])) if len(words) > 1 else group.numbers
        return reply_lines(self._select(group) + " list follows", (b"%d" % n for n in numbers))

    def _move(self, arg: str, step: int) -> bytes:
        if self.current is None:
            return reply("420 Current article number is invalid")
        numbers = self.group.numbers
        index = bisect.bisect_left(numbers, self.current) + step
        if not 0 <= index < len(numbers):
            return reply("421 No next article in this group" if step > 0 else "422 No previous article in this group")
        self.current = numbers[index]
        return reply(f"223 {self.current} {self.group.articles[self.current].message_id} retrieved")

    cmd_LAST = partialmethod(_move, step=-1)
    cmd_NEXT = partialmethod(_move, step=+1)

    def _article(self, arg: str, code: int, part: str) -> bytes:
        """The status line, then the part of the article arg names (STAT: none)."""
        found = self._find(arg)
        if isinstance(found, bytes):
            return found
        number, article = found
        data = None if part == "status" else article.path.read_bytes()
        if part in ("headers", "body"):
            head, blank, body = data.partition(b"\r\n\r\n")  # no empty line: only headers, no body
            data = head + blank[:2] if part == "headers" else body
        return reply(f"{code} {number} {article.message_id} {part}", data)

    cmd_ARTICLE = partialmethod(_article, code=220, part="article")
    cmd_HEAD = partialmethod(_article, code=221, part="headers")
    cmd_BODY = partialmethod(_article, code=222, part="body")
    cmd_STAT = partialmethod(_article, code=223, part="status")

    def cmd_POST(self, arg: str) -> bytes:
        if not self.posting_allowed:
            return reply("480 Authentication required for posting (AUTHINFO USER)")
        # The engine reads up to the lone ".", even when the article is too big to keep;
        # a connection dropped before it stores nothing.
        self.read_block(self.service.max_article, self.posted)
        return reply("340 Send article to be posted. End with <CR-LF>.<CR-LF>")

    def posted(self, data: bytes | None) -> bytes:
        if data is None:
            return reply(f"441 Article too big (the limit is {self.service.max_article} octets)")
        classroom = self.service.ctx.classroom  # a class server: articles only from your own address
        if classroom is not None and (reason := classroom.check_post(self.user, data)) is not None:
            return reply(f"441 Posting failed: {reason}")
        try:
            article = self.store.post(data)
        except Rejected as exc:
            return reply(f"441 Posting failed: {exc}")
        self.log.info("posted %s to %s", article.message_id, ", ".join(article.xref))
        return reply(f"240 Article received OK {article.message_id}")

    def cmd_NEWGROUPS(self, arg: str) -> bytes:
        try:
            since = parse_date(arg)
        except ValueError:
            return reply("501 Bad date or time")
        groups = [g for g in self.store.groups.values() if g.created >= since]
        return reply_lines("231 List of new newsgroups follows", (active_line(g).encode() for g in groups))

    def cmd_NEWNEWS(self, arg: str) -> bytes:
        pattern, date = arg.split(None, 1)
        try:
            matches, since = wildmat(pattern), parse_date(date)
        except ValueError:
            return reply("501 Bad wildmat, date or time")
        found = [a for a in self.store.by_id.values() if a.injected >= since and any(map(matches, a.xref))]
        found.sort(key=lambda a: a.injected)
        return reply_lines("230 List of new articles follows", (a.message_id.encode() for a in found))

    def cmd_LIST(self, arg: str) -> bytes:
        words = arg.split()
        keyword = words[0].upper() if words else "ACTIVE"
        pattern = words[1] if len(words) > 1 else None
        try:
            matches = wildmat(pattern) if pattern else (lambda name: True)
        except ValueError:
            return reply("501 Bad wildmat")
        if keyword in GROUP_LISTS:
            status, line = GROUP_LISTS[keyword]
            return reply_lines(status, (line(g).encode() for g in self.store.groups.values() if matches(g.name)))
        if keyword == "OVERVIEW.FMT" and not pattern:
            return reply_lines("215 Order of fields in overview database", (f.encode() for f in OVERVIEW_FIELDS))
        if keyword == "HEADERS" and (not pattern or pattern.upper() in ("MSGID", "RANGE")):
            return reply_lines("215 Headers and metadata items supported", [b":", b":bytes", b":lines"])
        return reply(f"501 Unknown LIST keyword or argument; try one of {COMMANDS['LIST'].syntax}")

    def cmd_OVER(self, arg: str) -> bytes:
        found = self._articles(arg)
        return found if isinstance(found, bytes) else reply("224 Overview information follows",
                                                             b"".join(b"%d%s\r\n" % (n, a.overview) for n, a in found))

    cmd_XOVER = cmd_OVER  # RFC 2980's name

    def cmd_HDR(self, arg: str, status: str = "225 Headers follow") -> bytes:
        name, *which = arg.split()
        found = self._articles(which[0] if which else "")
        return found if isinstance(found, bytes) else reply_lines(
            status, (b"%d %s" % (n, overview_value(a.header(name))) for n, a in found))

    cmd_XHDR = partialmethod(cmd_HDR, status="221 Header follows")  # RFC 2980's name, its own status

    def cmd_AUTHINFO(self, arg: str) -> bytes:
        kind, value = arg.split(None, 1)
        if self.user is not None:
            return reply("502 Already authenticated")
        elif not self.service.ctx.passwords_allowed(self.tls):
            return reply("483 Encryption required: use STARTTLS or the nntps port first")
        elif kind.upper() == "USER":
            self.pending_user = value
            return reply("381 Password required")
        elif self.pending_user is None:
            return reply("482 Authentication commands issued out of sequence (AUTHINFO USER first)")
        elif (name := check_login(self.pending_user, value)) is not None:
            self.user, self.pending_user = name, None
            self.transcript.login(name)
            self.log.info("%s logged in from %s", self.user, self.peer)
            return reply("281 Authentication accepted")
        else:
            self.log.info("NNTP login failed for %r from %s", self.pending_user, self.peer)
            self.pending_user = None
            return reply("481 Authentication failed")

    def cmd_STARTTLS(self, arg: str) -> bytes | None:
        if self.tls or self.user is not None:
            return reply("502 Already using TLS" if self.tls else "502 Already authenticated")
        # RFC 4642 §2.2.2: forget what the client told us before TLS (no command runs until it is up).
        self.group, self.current, self.pending_user = None, None, None
        self.start_tls(b"382 Continue with TLS negotiation\r\n")


# -- the service ---------------------------------------------------------------

class NNTPService(LineService):
    """NNTP on the "nntp" port (with STARTTLS) and NNTP over TLS on "nntps"."""

    name = "nntp"
    listeners = ("nntp", "nntps")
    session = NNTPSession
    starttls = uses_accounts = True
    options = {**LineService.options,
               "idle_timeout": Option(float, 900.0, "seconds of silence before a session is closed"),
               "max_article_bytes": Option(int, 1_000_000, "the largest article POST accepts")}

    @classmethod
    def seed(cls, data_dir: Path) -> None:
        from .newsseed import seed

        seed(data_dir)

    def opened(self) -> None:
        self.max_article = self.option("max_article_bytes")
        self.store = NewsStore(self.data_dir)
        self.log.info("news server: %d groups, %d articles", len(self.store.groups), len(self.store.by_id))

    def extra_info(self) -> dict:
        return {"groups": sorted(self.store.groups)}
