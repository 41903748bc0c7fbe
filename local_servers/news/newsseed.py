"""The news server's seeded groups and articles, built in code so every run is identical.

- comp.lang.python: eight threads of a Python discussion (References chains,
  a folded header, non-ASCII names and subjects in RFC 2047 encoded-words,
  a UTF-8 body, lines that begin with "." or end in spaces). Read-only, so a
  chapter that lists it prints the same thing every time.
- cn.comp.lang.python: a short Python thread in Chinese, as the cn.* hierarchy
  carried it: GB2312 (From and Subject as GB2312 encoded-words, GB2312 bodies)
  with one reply in UTF-8, whose body holds a character GB2312 lacks. Read-only.
- course.announce: course news, read-only (posting flag n).
- course.test: where students post; it starts with the welcome article,
  which is cross-posted to course.announce too (see its Xref header).

Dates and message-ids are fixed; the server's own headers (Path, Lines,
Injection-Date, Xref) are added by NewsStore.post exactly as for any post.
"""

from __future__ import annotations

import base64
import datetime
import email.header
import email.utils
from pathlib import Path

from ..config import MAIL_DOMAIN
from .newsstore import NewsStore

UTC = datetime.timezone.utc

GROUPS = [
    # name, posting flag, created, description
    ("comp.lang.python", "n", datetime.datetime(2024, 1, 10, tzinfo=UTC),
     "Discussion about the Python programming language (seeded, read-only)."),
    ("cn.comp.lang.python", "n", datetime.datetime(2024, 3, 14, tzinfo=UTC),
     "Python discussion in Chinese (seeded, read-only)."),
    ("course.announce", "n", datetime.datetime(2024, 2, 1, tzinfo=UTC), "Course announcements (read-only)."),
    ("course.test", "y", datetime.datetime(2024, 2, 1, 12, 0, tzinfo=UTC), "Post your test articles here."),
]

PEOPLE = {  # each author's name; the address is <key>@example.test
    "alice": "Alice Example", "bob": "Bob Example", "carol": "Carol Example", "dave": "Dave Example",
    "renee": "Renée Müller", "lukasz": "Łukasz Nowak",  # non-ASCII: sent as RFC 2047 encoded-words
    "staff": "Course Staff",
    "lilei": "李雷",
    "hanmeimei": "韩梅梅",
    "wangfang": "王芳",
}

# comp.lang.python: (key, parent key or None, author, "month-day hh:mm" in 2024, subject of a thread start, body).
# A reply's body starts with its attribution line ("Alice Example wrote:"), added by _post_threads.
CLP = [
    ("t1a", None, "alice", "03-04 09:15", "Reading a large file line by line", """\
Hello all,

I have a 3 GB log file and f.readlines() eats all my memory.
What is the idiomatic way to go through it one line at a time?

Alice
"""),
    ("t1b", "t1a", "bob", "03-04 10:02", None, """\
> What is the idiomatic way to go through it one line at a time?

A file object is its own iterator:

    with open("big.log", encoding="utf-8") as f:
        for line in f:
            handle(line)

Only one buffer's worth is in memory at any time.
"""),
    ("t1c", "t1b", "carol", "03-04 11:40", None, """\
>     with open("big.log", encoding="utf-8") as f:
>         for line in f:

Note that each line keeps its "\\n"; use line.rstrip("\\n") if you
do not want it, not line.strip(), which also eats the indentation.
And pass errors="replace" if the log may hold a stray byte or two.
"""),
    ("t1d", "t1c", "alice", "03-04 13:05", None, """\
> And pass errors="replace" if the log may hold a stray byte or two.

That was exactly my next problem. Thanks, both of you!
"""),
    ("t1e", "t1b", "dave", "03-04 15:30", None, """\
> Only one buffer's worth is in memory at any time.

If you need random access rather than one pass, mmap is worth a look:
mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) lets you search the
whole file with .find() without reading it.
"""),
    ("t2a", None, "bob", "03-05 08:20", "f-strings vs str.format", """\
Is there still any reason to use "{}".format(x) now that we have
f-strings? My team lead insists on .format() for "consistency".
"""),
    ("t2b", "t2a", "renee", "03-05 09:45", None, """\
> Is there still any reason to use "{}".format(x)

Yes: when the template is data rather than code. A translated message
such as "{count} Äpfel" comes from a catalogue at run time, and you
cannot write an f-string for it. For everything else, f-strings.

Renée
"""),
    ("t2c", "t2b", "alice", "03-05 10:10", None, """\
> Yes: when the template is data rather than code.

Also logging: log.info("got %s", x) formats only if the message is
actually emitted, while log.info(f"got {x}") always pays.
"""),
    ("t2d", "t2c", "bob", "03-05 12:00", None, """\
> Also logging: log.info("got %s", x) formats only if the message is

Good point. And my favourite f-string trick for debugging:

    >>> x = 42
    >>> f"{x=}"
    'x=42'
"""),
    ("t3a", None, "renee", "03-06 07:55", "Unicode in Python 3 — ça marche ?", """\
Bonjour,

Why does "Müller".encode("ascii") raise UnicodeEncodeError while
"Müller".encode("utf-8") gives b'M\\xc3\\xbcller'? Both are "bytes", no?
"""),
    ("t3b", "t3a", "lukasz", "03-06 08:30", None, """\
> Why does "Müller".encode("ascii") raise UnicodeEncodeError

ASCII has no "ü": it stops at 127. UTF-8 can encode every code point,
using one to four bytes. Try it with Polish:

    >>> len("zażółć gęślą jaźń"), len("zażółć gęślą jaźń".encode())
    (17, 26)

Łukasz
"""),
    ("t3c", "t3b", "carol", "03-06 09:12", None, """\
>     >>> len("zażółć gęślą jaźń"), len("zażółć gęślą jaźń".encode())

Nice example. Rule of thumb: decode bytes to str as soon as they come
in (socket, file, news article), encode str to bytes as late as
possible, and always say which encoding.
"""),
    ("t3d", "t3b", "renee", "03-06 10:40", None, """\
> ASCII has no "ü": it stops at 127.

Merci ! It makes sense now. Dziękuję, too.
"""),
    ("t4a", None, "carol", "03-07 14:00", "asyncio.gather or TaskGroup?", """\
Python 3.11 added asyncio.TaskGroup. Should I stop using gather()?
"""),
    ("t4b", "t4a", "dave", "03-07 14:45", None, """\
> Python 3.11 added asyncio.TaskGroup. Should I stop using gather()?

The difference is what happens on failure: when one task in a
TaskGroup fails, the others are cancelled and you get an
ExceptionGroup. gather() lets the others run on unless you cancel them.
"""),
    ("t4c", "t4b", "alice", "03-07 16:20", None, """\
> TaskGroup fails, the others are cancelled and you get an
> ExceptionGroup.

Which you catch with except* -- also new in 3.11. If your code must
still run on 3.10, gather(..., return_exceptions=True) is the way.
"""),
    ("t4d", "t4c", "carol", "03-07 17:05", None, """\
> If your code must still run on 3.10, gather(..., return_exceptions=True)

Ours must, so gather it is for now. Thanks.
"""),
    ("t4e", "t4d", "dave", "03-08 09:00", None, """\
> Ours must, so gather it is for now.

Then wrap each call in asyncio.wait_for() if you need timeouts;
asyncio.timeout() is 3.11+ as well.
"""),
    ("t5a", None, "dave", "03-09 11:11", "Why does my default argument keep growing?", """\
def add(item, items=[]):
    items.append(item)
    return items

add(1) gives [1], then add(2) gives [1, 2]. Is this a bug in Python?
"""),
    ("t5b", "t5a", "alice", "03-09 11:30", None, """\
> def add(item, items=[]):

Not a bug: the default is evaluated once, when "def" runs, and the
same list is used by every call. The usual idiom:

    def add(item, items=None):
        if items is None:
            items = []
"""),
    ("t5c", "t5b", "bob", "03-09 12:15", None, """\
> Not a bug: the default is evaluated once, when "def" runs

You can even see it: add.__defaults__ shows the list growing.
"""),
    ("t5d", "t5c", "dave", "03-09 13:00", None, """\
> You can even see it: add.__defaults__ shows the list growing.

Wow, so it does. Lesson learnt.
"""),
    ("t6a", None, "alice", "03-11 10:00", "pyproject.toml or setup.py in 2024?", """\
Starting a new package. Do I still need a setup.py at all?
"""),
    ("t6b", "t6a", "bob", "03-11 10:40", None, """\
> Do I still need a setup.py at all?

No. Put the metadata in the [project] table of pyproject.toml (PEP 621)
and name a build backend in [build-system]; pip does the rest.
"""),
    ("t6c", "t6b", "carol", "03-11 11:25", None, """\
> No. Put the metadata in the [project] table of pyproject.toml (PEP 621)

Only keep a setup.py if you build C extensions with custom steps.
"""),
    ("t7a", None, "bob", "03-12 09:00", "Dots and spaces: does the server keep them?", """\
Testing how the server handles unusual lines. The next line is a dot:
.
..and this one starts with two dots.
This line ends with three spaces:\x20\x20\x20
\tThis one starts with a tab.

The line above is empty. End of test.
"""),
    ("t7b", "t7a", "alice", "03-12 09:30", None, """\
> .
> ..and this one starts with two dots.

They came through intact here: on the wire each leading dot is
doubled ("dot-stuffing") and nntplib removes the extra one.
"""),
    ("t8a", None, "carol", "03-13 15:00", "nntplib is gone in 3.13?", """\
I read that nntplib was removed from the standard library in
Python 3.13 (PEP 594). How do I read news now?
"""),
    ("t8b", "t8a", "alice", "03-13 15:20", None, """\
> I read that nntplib was removed from the standard library in

"pip install standard-nntplib" brings the same module back, and
"import nntplib" works unchanged.
"""),
    ("t8c", "t8a", "bob", "03-13 16:05", None, """\
> How do I read news now?

Or speak the protocol yourself: it is a few lines of text over a
socket. "GROUP comp.lang.python", then "OVER 1-10", then "QUIT".
"""),
]

# cn.comp.lang.python: (key, parent key or None, author, "month-day hh:mm" in 2024, charset, subject of a
# thread start, body). GB2312 is what Chinese newsreaders wrote for years; wangfang's newer reader writes
# UTF-8, and her body needs it: GB2312 has no 喆.
CN = [
    ("c1a", None, "lilei", "03-14 09:00", "GB2312", "读取中文文件时出现乱码", """\
大家好：

我用 open("data.txt") 读一个从 Windows 拷来的文件，
中文全变成了乱码，有时还抛出 UnicodeDecodeError。
应该怎么办？

李雷
"""),
    ("c1b", "c1a", "hanmeimei", "03-14 09:40", "GB2312", None, """\
> 我用 open("data.txt") 读一个从 Windows 拷来的文件，

不写 encoding 时，open() 用的是系统的默认编码。
文件是用 GBK 写的，就要明确说出来：

    with open("data.txt", encoding="gbk") as f:
        text = f.read()

韩梅梅
"""),
    ("c1c", "c1b", "wangfang", "03-14 10:15", "utf-8", None, """\
> 文件是用 GBK 写的，就要明确说出来：

再补充一点：GB2312 只收了六千多个汉字，像“喆”这样的字它编不了码。
新写的文件最好用 UTF-8；读旧文件时用 gb18030 比 gbk 更保险，
它是 GBK 的超集，能表示所有的 Unicode 字符：

    >>> "喆".encode("gb18030")
    b'\\x86\\xb4'

这篇文章本身就是 UTF-8 的，因为它里面有“喆”字。

王芳
"""),
    ("c1d", "c1b", "lilei", "03-14 11:30", "GB2312", None, """\
>     with open("data.txt", encoding="gbk") as f:

加上 encoding 以后就正常了。谢谢！

李雷
"""),
]

ANNOUNCEMENTS = [
    # (key, "month-day hh:mm" in 2024, newsgroups, subject, body)
    ("welcome", "02-01 12:00", "course.announce,course.test", "Welcome to the course news server", """\
Welcome!

This server carries four groups:

  comp.lang.python     a seeded Python discussion (read-only)
  cn.comp.lang.python  a short one in Chinese (read-only)
  course.announce      course news (read-only)
  course.test          post your own test articles here

This article is cross-posted to course.announce and course.test:
look at its Xref header to see its number in each group.

Follow-ups go to course.test.
"""),
    ("lab-news", "02-15 09:00", "course.announce", "Lab: reading news with nntplib", """\
The news lab is open. You will connect with nntplib, select a group,
list it with OVER, read an article, and post a reply to course.test.
"""),
    ("resume", "03-01 08:00", "course.announce", "Résumé of the first weeks — à bientôt", """\
Sockets, FTP, e-mail and now news: well done. Questions about
encodings (like the "é" in this subject) go to course.test.
"""),
]


def _gb_word(text: str, charset: str) -> str:
    """One RFC 2047 B encoded-word, labelled as Chinese mail programs label it (the email
    package would write Python's alias "eucgb2312_cn" instead of "gb2312")."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode('ascii')}?="


def _address(key: str, charset: str = "utf-8") -> str:
    name, addr = PEOPLE[key], f"{key}@{MAIL_DOMAIN}"
    if charset == "utf-8":
        return email.utils.formataddr((name, addr), charset="utf-8")
    return f"{_gb_word(name, charset)} <{addr}>"


def _encode(text: str, charset: str = "utf-8") -> str:
    """A header value, as an RFC 2047 encoded-word in charset if it is not plain ASCII."""
    if text.isascii():
        return text
    if charset != "utf-8":
        return _gb_word(text, charset)
    return email.header.Header(text, charset).encode(linesep="\r\n")


def _post_threads(store: NewsStore, group: str, rows, extra: list[tuple[str, str]] = (),
                  wrote: str = "{} wrote:\n") -> None:
    """Post a group's threads; rows as CN's. A reply takes its thread's subject and References chain, and its body
    starts with an attribution line, `wrote` with the parent's author filled in (as newsreaders write it)."""
    posted: dict[str, tuple[str, str, list[str], str]] = {}  # key -> Message-ID, thread subject, References, author
    for key, parent, author, when, charset, subject, body in rows:
        date = datetime.datetime.strptime(f"2024-{when}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        message_id = f"<{date:%Y%m%d%H%M%S}.{key}@{MAIL_DOMAIN}>"
        references: list[str] = []  # a thread start has none
        if parent is not None:
            parent_id, subject, parent_references, parent_author = posted[parent]
            references = parent_references + [parent_id]
            body = wrote.format(PEOPLE[parent_author]) + body
        posted[key] = message_id, subject, references, author
        headers = [("From", _address(author, charset)), ("Newsgroups", group),
                   ("Subject", ("Re: " if parent else "") + _encode(subject, charset)),
                   ("Date", email.utils.format_datetime(date)), ("Message-ID", message_id)]
        if references:  # folded when long, as newsreaders write them (tests header unfolding)
            headers.append(("References", (" " if len(references) <= 2 else "\r\n ").join(references)))
        headers += [*extra, ("MIME-Version", "1.0"), ("Content-Type", f"text/plain; charset={charset}"),
                    ("Content-Transfer-Encoding", "8bit")]
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)  # ASCII: non-ASCII is in encoded-words
        article = head.encode("ascii") + b"\r\n" + body.replace("\n", "\r\n").encode(charset)  # CRLF line ends
        store.post(article, now=date.timestamp(), allow_read_only=True)


def seed(data_dir: Path) -> None:
    store = NewsStore(data_dir)
    for name, posting, created, description in GROUPS:
        store.create_group(name, description, posting, created=int(created.timestamp()))

    _post_threads(store, "comp.lang.python", [(*row[:4], "utf-8", *row[4:]) for row in CLP],  # CN's shape
                  [("Organization", "Python Internet Course")])
    _post_threads(store, "cn.comp.lang.python", CN, wrote="{} 写道：\n")
    for key, when, newsgroups, subject, body in ANNOUNCEMENTS:  # a thread start each, from the staff
        followup = [("Followup-To", "course.test")] if "," in newsgroups else []  # cross-posted: answers go here
        _post_threads(store, newsgroups, [(key, None, "staff", when, "utf-8", subject, body)], followup)
