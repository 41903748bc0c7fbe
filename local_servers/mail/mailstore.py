"""The mail store that SMTP writes and POP3 and IMAP read: one Maildir per user.

Layout, under the services' shared data folder ``<data_dir>/mail`` (each function's mail_dir)::

    mail/alice/{cur,new,tmp}          alice's INBOX
    mail/alice/.Sent/{cur,new,tmp}    a folder (Maildir++), as mailbox.Maildir.add_folder makes it
    mail/alice/.Archive/...
    mail/bob/..., mail/carol/...
    mail/_catchall/{cur,new,tmp}      mail for other domains: captured, never sent anywhere

Rules every server keeps:

- The info separator is ``!`` (Windows forbids ``:`` in file names), so a
  message with flags is ``<key>!2,FS``. Use open_box(), which sets it.
- Files on disk have LF line endings; servers add CR on the wire.
- Delivery is atomic: the file is written in tmp/ and renamed into new/,
  so nothing half-written ever appears in new/ or cur/.
- The Maildir key (the file name before ``!``) is a message's stable id
  (POP3's UIDL). Look messages up by key, never by path: flag changes
  rename files.
- Arrival order is (file mtime, key); deliver() sets the mtime to the
  delivery time, so messages() returns the order IMAP assigns UIDs in.
- Files whose names start with ``.imap`` belong to the IMAP server.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import itertools
import mailbox
import os
import socket
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import NamedTuple

from .. import config
from ..files import png

COLON = "!"
USERS = tuple(config.ACCOUNTS)
CATCHALL = "_catchall"
#: Domains whose mail is delivered to the course's accounts.
LOCAL_DOMAINS = (config.MAIL_DOMAIN, "localhost")

_counter = itertools.count()
_host = socket.gethostname().replace("/", r"\057").replace(":", r"\072").replace(COLON, r"\041") or "localhost"


#: How a "/" in a folder name is kept on disk (where it would be a path separator): its modified
#: UTF-7 spelling. "/" is no hierarchy delimiter here (that is "."), so names like Gmail's
#: "[Gmail]/Sent Mail" are plain names (wire/profiles.py).
SLASH_ON_DISK = "&AC8-"


def folder_file_name(folder: str) -> str:
    """The Maildir++ directory name of a folder: "Sent" -> ".Sent", "[Gmail]/Sent Mail" -> ".[Gmail]&AC8-Sent Mail"."""
    return "." + folder.replace("/", SLASH_ON_DISK)


def folder_name(file_name: str) -> str:
    """The inverse of folder_file_name."""
    return file_name[1:].replace(SLASH_ON_DISK, "/")


def user_dir(mail_dir: Path, user: str, folder: str | None = None) -> Path:
    """The Maildir of a user's INBOX (folder None or "INBOX") or of one of their folders."""
    inbox = Path(mail_dir) / user
    return inbox / folder_file_name(folder) if folder and folder.upper() != "INBOX" else inbox


def open_box(mail_dir: Path, user: str, folder: str | None = None, create: bool = False) -> mailbox.Maildir:
    """A mailbox.Maildir for the INBOX or a folder, with "!" as its info separator."""
    box = mailbox.Maildir(str(user_dir(mail_dir, user, folder)), factory=None, create=create)
    box.colon = COLON
    return box


def users(mail_dir: Path) -> list[str]:
    """The accounts that have a Maildir (the catch-all box is not an account)."""
    root = Path(mail_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith((".", "_")) and (p / "cur").is_dir())


def folders(mail_dir: Path, user: str) -> list[str]:
    """A user's folders besides INBOX, e.g. ["Archive", "Sent"]."""
    root = user_dir(mail_dir, user)
    return sorted(folder_name(p.name) for p in root.iterdir()
                  if p.is_dir() and p.name.startswith(".") and not p.name.startswith(".imap") and (p / "cur").is_dir())


def split_name(name: str) -> tuple[str, str]:
    """'<key>!2,FS' -> ('<key>', 'FS'); a name without info has no flags."""
    key, _, info = name.partition(COLON)
    return key, info[2:] if info.startswith("2,") else ""


class Entry(NamedTuple):
    """One message file: its key, where it is now, when it arrived, its flags and size on disk."""

    key: str
    path: Path
    mtime: float
    flags: str
    size: int


def messages(path: Path) -> list[Entry]:
    """Every message in new/ and cur/ of one Maildir, in arrival order (mtime, then key)."""
    found = []
    for sub in ("new", "cur"):
        with contextlib.suppress(FileNotFoundError), os.scandir(Path(path) / sub) as items:  # no such folder: none
            for item in items:
                if item.name.startswith(".") or not item.is_file():
                    continue
                try:
                    st = item.stat()
                except FileNotFoundError:  # renamed by another server meanwhile
                    continue
                key, flags = split_name(item.name)
                found.append(Entry(key, Path(item.path), st.st_mtime, flags, st.st_size))
    found.sort(key=lambda e: (e.mtime, e.key))
    return found


def new_key(when: float | None = None) -> str:
    """A unique Maildir key in the usual time.M<usec>P<pid>Q<n>.host form."""
    now = time.time() if when is None else when
    # zero-padded, so that keys of one second sort in delivery order
    return f"{int(now)}.M{int(now % 1 * 1e6):06d}P{os.getpid()}Q{next(_counter):06d}.{_host}"


def deliver(mail_dir: Path, user: str, data: bytes, when: float | None = None, folder: str | None = None,
            flags: str = "", key: str | None = None) -> str:
    """Store one message with write_message (with flags: already seen, into cur/) and return its key."""
    root = user_dir(mail_dir, user, folder)
    when = time.time() if when is None else when
    key = key or new_key(when)
    info = f"2,{''.join(sorted(flags))}" if flags else None
    try:
        write_message(root, key, data, when, info)
    except FileNotFoundError:  # a mailbox or folder never used before
        open_box(mail_dir, user, folder, create=True)  # makes cur/ new/ tmp/
        write_message(root, key, data, when, info)
    return key


def write_message(folder: Path, key: str, data: bytes, when: float, info: str | None = None) -> None:
    """The one way a message file is made, for SMTP delivery, the seed and IMAP's APPEND/COPY.

    The bytes (CRLF line endings become LF) go to tmp/<key>, get `when` as their mtime, then are renamed in one
    step into new/<key> (info None) or cur/<key>:<info>: a reader sees all or nothing, a crash leaves tmp/ only.
    """
    tmp = os.path.join(folder, "tmp", key)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with open(fd, "wb", closefd=True) as f:
            f.write(data.replace(b"\r\n", b"\n"))
        os.utime(tmp, (when, when))
        final = os.path.join(folder, "cur", f"{key}{COLON}{info}") if info is not None else os.path.join(folder, "new", key)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def local_user(address: str) -> str | None:
    """'Alice@Example.test' -> 'alice' for a local domain, else None."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    return local.lower() if at and domain.lower() in LOCAL_DOMAINS else None


# --------------------------------------------------------------------------
# Seed: deterministic mail for the course's lessons


def _who(spec: str) -> Address:
    """'Alice Liddell <alice@example.test>' -> Address."""
    name, _, addr = spec.rpartition("<")
    return Address(display_name=name.strip(), addr_spec=addr.rstrip(">").strip())


_ZONE = datetime.timezone(datetime.timedelta(hours=1))


def _message(n: int, when: datetime.datetime, sender: str, to: list[str], subject: str, text: str,
             cc: list[str] = (), reply_to: EmailMessage | None = None, html: str | None = None,
             attachment: tuple[str, bytes, str] | None = None) -> EmailMessage:
    """One message with fixed headers and fixed MIME boundaries, so every seed is byte-identical."""
    msg = EmailMessage()
    msg["From"] = _who(sender)
    msg["To"] = [_who(t) for t in to]
    if cc:
        msg["Cc"] = [_who(c) for c in cc]
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<seed-{n:03d}@example.test>"
    if reply_to is not None:
        msg["In-Reply-To"] = reply_to["Message-ID"]
        msg["References"] = (reply_to.get("References", "") + " " + reply_to["Message-ID"]).strip()
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    if attachment is not None:
        name, data, ctype = attachment
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    boundaries = (f"=={kind}-{n:03d}==" for kind in itertools.count())
    for part in msg.walk():
        if part.is_multipart():
            part.set_boundary(next(boundaries))
    return msg


_SEARCH_SENDERS = [
    "Dave Brown <dave@example.org>", "Erin Davis <erin@example.net>", "Frank Green <frank@example.com>",
    "Grace Hopper <grace@example.org>", "Heidi Klum <heidi@example.net>", "Ivan Petrov <ivan@example.com>",
    "Bob Builder <bob@example.test>", "Carol Singer <carol@example.test>",
]
_SEARCH_SUBJECTS = [
    ("Invoice {n} for March", "Please find invoice {n} below. Total due: {amount} EUR."),
    ("Meeting notes {n}", "Notes from today's meeting: we agreed on the schedule and the budget."),
    ("Weekly report week {n}", "The weekly report: {amount} tickets closed, all tests green."),
    ("Lunch on Friday?", "Shall we have lunch on Friday at noon? The usual place."),
    ("Server maintenance window", "The servers will be down for maintenance on Sunday from 02:00 to 04:00."),
    ("Re: budget {n}", "The budget looks fine to me, approved for {amount} EUR."),
]


def _course_mail() -> list[tuple[str, str | None, str, EmailMessage]]:
    """(user, folder, flags, message) in delivery order (chronological)."""
    alice, bob, carol = ("Alice Liddell <alice@example.test>", "Bob Builder <bob@example.test>",
                         "Carol Singer <carol@example.test>")
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=_ZONE)
    out: list[tuple[str, str | None, str, EmailMessage]] = []
    n = itertools.count(1)

    def at(days: float) -> datetime.datetime:
        return start + datetime.timedelta(days=days)

    # Welcome mail for everyone: the simplest possible message.
    for user, spec in (("alice", alice), ("bob", bob), ("carol", carol)):
        out.append((user, None, "S", _message(next(n), at(0), "Postmaster <postmaster@example.test>", [spec],
                                              "Welcome to example.test",
                                              f"Hello {spec.split()[0]},\n\nyour mailbox is ready.\n"
                                              "Mail to anyone@example.test is delivered here; mail to other\n"
                                              "domains is kept in a catch-all box and never leaves the machine.\n\n"
                                              "-- \nThe postmaster\n")))

    # Older mail in alice's Archive.
    for i in range(3):
        out.append(("alice", "Archive", "S", _message(next(n), at(-60 + i * 7), bob, [alice], f"Old notes, part {i + 1}",
                                                      f"Archived notes, part {i + 1}.\n")))

    # A thread: bob asks, alice answers (her copy in Sent), bob replies, carol joins.
    first = _message(next(n), at(1), bob, [alice], "Project plan",
                     "Hi Alice,\n\ncould you review the project plan by Friday?\n\nBob\n")
    out.append(("alice", None, "S", first))
    answer = _message(next(n), at(1.1), alice, [bob], "Re: Project plan",
                      "Hi Bob,\n\nyes, I will send comments on Thursday.\n\nAlice\n\n> could you review the project plan by Friday?\n",
                      reply_to=first)
    out += [("bob", None, "", answer), ("alice", "Sent", "S", answer)]
    reply = _message(next(n), at(1.2), bob, [alice], "Re: Project plan",
                     "Thanks! Thursday is fine.\n\nBob\n", reply_to=answer)
    out.append(("alice", None, "", reply))
    joined = _message(next(n), at(1.3), carol, [alice, bob], "Re: Project plan",
                      "Can I join the review? I wrote the budget section.\n\nCarol\n", reply_to=reply)
    out += [("alice", None, "", joined), ("bob", None, "", joined)]

    # HTML with a plain-text alternative.
    out.append(("alice", None, "", _message(
        next(n), at(2), "Course News <news@example.org>", [alice], "This week's newsletter",
        "This week's newsletter\n\n* Sockets: the echo server\n* Mail: SMTP, POP3 and IMAP\n",
        html="<html><body><h1>This week's newsletter</h1><ul><li>Sockets: the echo server</li>"
             "<li>Mail: <b>SMTP</b>, POP3 and IMAP</li></ul></body></html>\n")))

    # An image attachment.
    for user, spec in (("alice", alice), ("carol", carol)):
        out.append((user, None, "", _message(next(n), at(2.5), bob, [spec], "Photo from the trip",
                                             "Here is the photo I promised.\n\nBob\n",
                                             attachment=("trip.png", png(16, 16, lambda x, y: (x * 16, y * 16, 128)), "image/png"))))

    # Non-ASCII names and subjects (RFC 2047 encoded by the email package).
    out.append(("alice", None, "", _message(next(n), at(3), "José Müller <jose@example.org>", [alice],
                                            "Café ☕ am Freitag — Grüße aus Köln",
                                            "Hallo Alice,\n\nTreffen wir uns am Freitag im Café? Grüße, José\n")))
    out.append(("bob", None, "", _message(next(n), at(3.1), "Zoë Ångström <zoe@example.net>", [bob],
                                          "Résumé attached? Ça va", "Bonjour Bob, ça va ? — Zoë\n")))

    # The search corpus: a few dozen messages with varied senders, subjects and dates.
    for i in range(36):
        subject, body = _SEARCH_SUBJECTS[i % len(_SEARCH_SUBJECTS)]
        amount = 100 + (i * 37) % 900
        sender = _SEARCH_SENDERS[(i * 3) % len(_SEARCH_SENDERS)]
        msg = _message(next(n), at(4 + i * 1.5), sender, [alice], subject.format(n=i + 1, amount=amount),
                       body.format(n=i + 1, amount=amount) + f"\n-- \n{sender.rpartition(' <')[0]}\n",
                       cc=[carol] if i % 5 == 0 else ())
        out.append(("alice", None, "S" if i < 20 else "", msg))

    # Carol: a little mail of her own.
    out.append(("carol", None, "", _message(next(n), at(60), alice, [carol], "Slides for Monday",
                                            "Hi Carol, the slides are ready.\n\nAlice\n")))
    return out


#: alice's Sent folder of an older Chinese mail program, 已发送, by its IMAP name (RFC 3501 5.1.3:
#: mailbox names travel in modified UTF-7; the server keeps them as they travel, like Dovecot does)
CHINESE_SENT = "&XfJT0ZAB-"


def _b64(text: str, charset: str) -> str:
    return base64.b64encode(text.encode(charset)).decode("ascii")


def _charset_mail() -> list[tuple[datetime.datetime, bytes]]:
    """Raw messages as older and sloppier mail programs write them, for the charset lessons.

    Built as bytes, not with EmailMessage: the email package would never
    write an undeclared or a wrong charset, and these are what readers meet.
    """
    start = datetime.datetime(2026, 5, 4, 10, 0, tzinfo=_ZONE)  # after the rest of the seed

    def head(n: int, subject: str, content: str, extra: str = "") -> bytes:
        return ("From: =?gbk?B?" + _b64("爱丽丝", "gbk") + "?= <alice@example.test>\n"
                "To: =?gbk?B?" + _b64("李雷", "gbk") + "?= <lilei@example.cn>\n"
                f"Subject: {subject}\n"
                f"Date: {format_datetime(start + datetime.timedelta(hours=n))}\n"
                f"Message-ID: <seed-{100 + n:03d}@example.test>\n"
                "MIME-Version: 1.0\n" + content + extra + "\n").encode("ascii")

    report = "第一季度报告：一切顺利。\n"
    raw = [
        # GB2312 header, GBK body in base64: what Chinese mail programs wrote for decades
        (1, head(1, "=?gb2312?B?" + _b64("会议通知", "gb2312") + "?=",
                 'Content-Type: text/plain; charset="gbk"\nContent-Transfer-Encoding: base64\n')
         + _b64("李雷：\n\n明天上午十点开会。\n\n爱丽丝\n", "gbk").encode("ascii") + b"\n"),
        # a GB2312 body in 8 bits and an attachment whose Chinese name is in RFC 2231 form
        (2, head(2, "=?gb2312?B?" + _b64("季度报告", "gb2312") + "?=",
                 'Content-Type: multipart/mixed; boundary="==gb-102=="\n')
         + b"--==gb-102==\nContent-Type: text/plain; charset=\"gb2312\"\nContent-Transfer-Encoding: 8bit\n\n"
         + "报告在附件里。\n".encode("gb2312")
         + b"\n--==gb-102==\nContent-Type: text/plain; charset=\"gbk\"\nContent-Transfer-Encoding: base64\n"
           b"Content-Disposition: attachment; filename*=utf-8''%E6%8A%A5%E5%91%8A.txt\n\n"
         + _b64(report, "gbk").encode("ascii") + b"\n--==gb-102==--\n"),
        # no charset declared: the body's GBK bytes are not ASCII, as the default would have it
        (3, head(3, "No charset declared", "Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n")
         + "没有声明字符集。\n".encode("gbk")),
        # a wrong charset: declared UTF-8, written in GBK
        (4, head(4, "Declared UTF-8, written in GBK",
                 'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: 8bit\n')
         + "字符集写错了。\n".encode("gbk")),
        # a charset name Python does not know (some programs wrote x-gbk)
        (5, head(5, "An unknown charset name", 'Content-Type: text/plain; charset="x-gbk"\n'
                 "Content-Transfer-Encoding: 8bit\n") + "未知的字符集名称。\n".encode("gbk")),
    ]
    return [(start + datetime.timedelta(hours=n), data) for n, data in raw]


def _chinese_inbox_mail() -> tuple[datetime.datetime, bytes]:
    """A Chinese sender writes to alice, as Chinese mail programs write: From and Subject as GBK
    encoded-words, a GB18030 body in base64, and an attachment whose Chinese file name is in
    RFC 2231 form with its charset (filename*=GBK''...). Dated after the rest of alice's INBOX,
    so it is her last message and the numbers of the others stay as they were."""
    date = datetime.datetime(2026, 5, 5, 9, 30, tzinfo=_ZONE)
    name = "聚会名单.txt"
    guests = "周六聚会名单\n\n爱丽丝\n李雷\n韩梅梅\n张伟\n"
    data = ("From: =?GBK?B?" + _b64("张伟", "gbk") + "?= <zhangwei@example.cn>\n"
            "To: =?GBK?B?" + _b64("爱丽丝", "gbk") + "?= <alice@example.test>\n"
            "Subject: =?GBK?B?" + _b64("周六聚会的名单", "gbk") + "?=\n"
            f"Date: {format_datetime(date)}\n"
            "Message-ID: <seed-201@example.cn>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="==gb-201=="\n\n'
            "--==gb-201==\n"
            'Content-Type: text/plain; charset="GB18030"\nContent-Transfer-Encoding: base64\n\n'
            + _b64("爱丽丝：\n\n附件是周六聚会的名单，请看看有没有漏掉的人。\n\n张伟\n", "gb18030") + "\n"
            "--==gb-201==\n"
            'Content-Type: text/plain; charset="GBK"\nContent-Transfer-Encoding: base64\n'
            "Content-Disposition: attachment; filename*=GBK''"
            + "".join(f"%{b:02X}" if b > 127 else chr(b) for b in name.encode("gbk")) + "\n\n"
            + _b64(guests, "gbk") + "\n--==gb-201==--\n")
    return date, data.encode("ascii")


def seed(mail_dir: Path) -> None:
    """Every account's Maildir and folders, and the seeded messages: fixed keys, and mtimes rising in delivery order."""
    mail_dir = Path(mail_dir)
    mail_dir.mkdir(parents=True, exist_ok=True)
    for user in USERS:
        box = open_box(mail_dir, user, create=True)
        for folder in ("Sent", "Archive"):
            box.add_folder(folder)
    open_box(mail_dir, CATCHALL, create=True)
    mail = sorted(_course_mail(), key=lambda item: item[3]["Date"].datetime)  # stable: ties keep list order
    for i, (user, folder, flags, msg) in enumerate(mail):
        when = msg["Date"].datetime.timestamp() + 60 + i  # arrived a minute after it was written; strictly increasing
        data = msg.as_bytes(policy=msg.policy.clone(linesep="\n"))
        deliver(mail_dir, user, data, when=when, folder=folder, flags=flags, key=f"{int(when)}.S{i:04d}.seed")
    _seed_chinese(mail_dir, len(mail))


def _seed_chinese(mail_dir: Path, first: int) -> None:
    """alice's Chinese Sent folder and the Chinese letter in her INBOX; keys numbered on from `first`."""
    for j, (date, data) in enumerate(_charset_mail(), start=first):
        when = date.timestamp() + 60
        deliver(mail_dir, "alice", data, when=when, folder=CHINESE_SENT, flags="S", key=f"{int(when)}.S{j:04d}.seed")
    date, data = _chinese_inbox_mail()
    when, j = date.timestamp() + 60, first + len(_charset_mail())
    deliver(mail_dir, "alice", data, when=when, flags="S", key=f"{int(when)}.S{j:04d}.seed")
