"""check("ex05"): the exercises of chapter 5 (reading mail: POP3, IMAP, parsing), graded like a lab.

The student's answers are exercises/ex05_pop3_imap.py in their labs folder
(labs/exercises/ holds the starter, solutions/exercises/ the reference).
Each function runs in the student's process against this run's own mail
servers; the expected values come from those servers, read here with
poplib and imaplib (or from the seeded mail, which every run has).
"""

from __future__ import annotations

import email
import imaplib
import poplib
import smtplib
import threading
import time
import uuid
from email import policy
from email.message import EmailMessage

import pytest

from grader.helpers import spy

pytestmark = pytest.mark.lab("ex05")
CHINESE_SENT = "&XfJT0ZAB-"  # alice's seeded 已发送


def send(handle, subject: str, to: str = "alice@example.test") -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@example.test", to, subject
    msg.set_content("test\n")
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as smtp:
        smtp.send_message(msg)


def pop_uids(handle, user: str = "alice") -> set[str]:
    """The unique ids of a POP3 mailbox, read here (and the session closed with QUIT)."""
    box = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    try:
        box.user(user)
        box.pass_(f"{user}-pw")
        return {line.decode().split(" ", 1)[1] for line in box.uidl()[1]}
    finally:
        box.quit()


def imap(handle) -> imaplib.IMAP4:
    client = imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10)
    client.login("alice", "alice-pw")
    return client


def seeded(handle, message_id: str) -> bytes:
    with imap(handle) as client:
        client.select("INBOX", readonly=True)
        number = client.search(None, f'HEADER Message-ID "{message_id}"')[1][0]
        return client.fetch(number, "(BODY.PEEK[])")[1][0][1]


@pytest.mark.points(2, hint="uidl() lists 'number uid' lines: retr only the numbers whose uid is new, join the "
                            "lines with CRLF, and end with quit() without any dele (chapter 5a, 'Unique ids: uidl' "
                            "and 'Deleting: dele, rset, and the UPDATE state').")
def test_download_new(student, lab_writable):
    """download_new() fetches every new message once, then only a newly sent one, and deletes nothing."""
    args = (lab_writable.pop3.host, lab_writable.pop3.port, "alice", "alice-pw")
    uids = pop_uids(lab_writable)
    first = student.download_new(*args, set())
    assert set(first) == uids, f"download_new() gave {len(first)} messages; the mailbox holds {len(uids)}"
    texts = {email.message_from_bytes(data, policy=policy.default)["Subject"] for data in first.values()}
    assert "Café ☕ am Freitag — Grüße aus Köln" in texts, "a seeded message is missing or not whole"
    again = student.download_new(*args, set(first))
    assert again == {}, f"nothing is new, yet download_new() gave {len(again)} messages"
    token = f"ex05 {uuid.uuid4().hex[:8]}"
    send(lab_writable, token)
    new = student.download_new(*args, set(first))
    assert len(new) == 1, f"one message was sent; download_new() gave {len(new)}"
    assert email.message_from_bytes(next(iter(new.values())))["Subject"] == token, "the new message is not whole"
    assert pop_uids(lab_writable) == uids | set(new), "messages were deleted (or the mailbox was left locked)"


@pytest.mark.points(2, hint="select(mailbox, readonly=True), uid('SEARCH', criteria), then uid('FETCH', ..., "
                            "'(BODY.PEEK[HEADER.FIELDS (SUBJECT)])') and decode each Subject (chapter 5b, "
                            "'Searching on the server: search' and 'Downloading: fetch').")
def test_subjects(student, lab_writable):
    """subjects() gives (uid, decoded subject) of the seeded matches, in any folder, and sets no \\Seen."""
    args = (lab_writable.imap.host, lab_writable.imap.port, "alice", "alice-pw")
    with imap(lab_writable) as client:
        before = client.status("INBOX", "(UNSEEN)")[1][0]
    found = student.subjects(*args, 'FROM "grace"')
    assert found == [(9, "Meeting notes 2"), (17, "Lunch on Friday?"), (25, "Re: budget 18"),
                     (33, "Meeting notes 26"), (41, "Lunch on Friday?")], f"FROM \"grace\" gave {found!r}"
    found = student.subjects(*args, 'FROM "jose"')
    assert found == [(7, "Café ☕ am Freitag — Grüße aus Köln")], f"FROM \"jose\" gave {found!r} (decoded?)"
    found = student.subjects(*args, 'SUBJECT "no such subject"')
    assert found == [], f"a search that matches nothing gave {found!r}"
    found = student.subjects(*args, "ALL", mailbox="Archive")
    assert found == [(1, "Old notes, part 1"), (2, "Old notes, part 2"), (3, "Old notes, part 3")], \
        f"ALL in Archive gave {found!r}"
    with imap(lab_writable) as client:
        after = client.status("INBOX", "(UNSEEN)")[1][0]
    assert after == before, f"reading subjects marked messages \\Seen: {before!r} became {after!r}"


@pytest.mark.points(1, hint="iter_attachments() of a message parsed with policy.default, get_payload(decode=True) "
                            "for the bytes (chapter 5c, 'Walking the parts: walk, get_content_type, "
                            "get_payload(decode=True)').")
def test_save_attachments(student, lab_writable, tmp_path):
    """save_attachments() saves the seeded PNG, and nothing for a text-and-HTML message."""
    paths = student.save_attachments(seeded(lab_writable, "<seed-012@example.test>"), tmp_path)
    assert [p.name for p in paths] == ["trip.png"], f"save_attachments() returned {paths!r}"
    assert (tmp_path / "trip.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), "trip.png is not the PNG"
    alternative = student.save_attachments(seeded(lab_writable, "<seed-011@example.test>"), tmp_path)
    assert alternative == [], f"text and HTML alternatives are not attachments; got {alternative!r}"


@pytest.mark.points(1, hint="The file name is the sender's choice: keep only its last part (after / or \\), so "
                            "nothing is written outside the folder (chapter 5c, 'Walking the parts: walk, "
                            "get_content_type, get_payload(decode=True)').")
def test_save_attachments_stays_inside(student, tmp_path):
    """save_attachments() writes "../../escape.txt" and "C:\\temp\\win.txt" inside the folder."""
    msg = EmailMessage()
    msg["Subject"] = "tricky names"
    msg.set_content("see attached")
    msg.add_attachment(b"one", maintype="application", subtype="octet-stream", filename="../../escape.txt")
    msg.add_attachment(b"two", maintype="application", subtype="octet-stream", filename="C:\\temp\\win.txt")
    target = tmp_path / "a" / "b" / "inside"
    target.mkdir(parents=True)
    paths = student.save_attachments(msg.as_bytes(), target)
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != target]
    assert not outside, f"files were written outside the folder: {outside}"
    assert sorted(p.name for p in paths) == ["escape.txt", "win.txt"], f"save_attachments() returned {paths!r}"
    assert (target / "escape.txt").read_bytes() == b"one", "escape.txt does not hold the attachment"


@pytest.mark.points(2, hint="Send 'tag IDLE', wait for '+', then read untagged lines (select() on imap.sock with "
                            "what is left of the timeout) until '* n EXISTS'; end with DONE and read the tagged "
                            "reply (chapter 5b, 'Waiting for new mail: NOOP and IDLE').")
def test_wait_for_mail(student, lab_writable):
    """wait_for_mail() returns 1 soon after a delivery, and 0 after its timeout when nothing comes."""
    timer = threading.Timer(0.5, send, args=(lab_writable, "while idling"))
    timer.start()
    try:
        started = time.monotonic()
        got = student.wait_for_mail(lab_writable.imap.host, lab_writable.imap.port, "alice", "alice-pw", timeout=8)
        took = time.monotonic() - started
    finally:
        timer.join()
    assert got == 1, f"one message arrived while idling; wait_for_mail() returned {got!r}"
    assert took < 6, f"wait_for_mail() took {took:.1f} s: the server announced the message, answer then"
    started = time.monotonic()
    got = student.wait_for_mail(lab_writable.imap.host, lab_writable.imap.port, "bob", "bob-pw", timeout=0.5)
    assert got == 0, f"nothing arrived for bob; wait_for_mail() returned {got!r}"
    assert time.monotonic() - started < 4, "wait_for_mail(timeout=0.5) did not give up in time"


@pytest.mark.points(1, hint="Printable ASCII stays, '&' becomes '&-', every other run becomes '&' + base64 of its "
                            "UTF-16BE bytes with ',' for '/' and no '=' + '-' (chapter 5b, 'Folder names beyond "
                            "ASCII: modified UTF-7').")
def test_encode_mailbox_name(student):
    """encode_mailbox_name() gives RFC 3501's modified UTF-7, its own example included."""
    for text, wire in (("已发送", "&XfJT0ZAB-"), ("Entwürfe", "Entw&APw-rfe"), ("Tom & Jerry", "Tom &- Jerry"),
                       ("INBOX", "INBOX"), ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-")):
        got = student.encode_mailbox_name(text)
        assert got == wire, f"encode_mailbox_name({text!r}) returned {got!r}, not {wire!r}"


@pytest.mark.points(1, hint="The server lists and opens folders by their encoded names (chapter 5b, 'Folder names "
                            "beyond ASCII: modified UTF-7').")
def test_encoded_name_is_the_servers(student, lab_writable):
    """A folder created under the encoded name is listed and opened under it, like the seeded 已发送."""
    name = student.encode_mailbox_name(f"Ch05-Entwürfe 草稿 {uuid.uuid4().hex[:6]}")
    with imap(lab_writable) as client:
        listed = [line.rsplit(b' "." ', 1)[1].strip(b'"').decode() for line in client.list()[1]]
        assert student.encode_mailbox_name("已发送") in listed, f"the server lists {listed}"
        assert client.create(f'"{name}"')[0] == "OK", f"the server refused to create {name!r}"
        try:
            assert client.select(f'"{name}"')[0] == "OK", f"the server cannot open {name!r}"
        finally:
            client.logout()


def chinese_sent(handle) -> list[EmailMessage]:
    with imap(handle) as client:
        client.select(CHINESE_SENT, readonly=True)
        data = client.fetch("1:*", "(BODY.PEEK[])")[1]
    return [email.message_from_bytes(item[1], policy=policy.default) for item in data if isinstance(item, tuple)]


@pytest.mark.points(2, hint="Try the declared charset strictly, then each fallback; a LookupError (an unknown "
                            "name) or UnicodeDecodeError means: try the next one (chapter 5c, 'Mail in Chinese "
                            "charsets: GBK and GB2312' and 'When the charset is missing or wrong').")
def test_text_of_the_seeded_chinese_mail(student, lab_writable):
    """text_of() decodes the seeded GBK/GB2312 mail, with missing, wrong and unknown charsets."""
    meeting, report, undeclared, wrong, unknown = chinese_sent(lab_writable)
    text, charset = student.text_of(meeting)
    assert charset == "gbk" and "明天上午十点开会" in text, f"text_of() returned {(text[:40], charset)!r}"
    body, attachment = [part for part in report.walk() if not part.is_multipart()]
    for part, expected in ((body, ("报告在附件里。\n", "gb2312")), (attachment, ("第一季度报告：一切顺利。\n", "gbk"))):
        text, charset = student.text_of(part)  # the part crosses to the student as bytes: "\n" line ends
        assert (text.replace("\r\n", "\n"), charset) == expected, \
            f"text_of() returned {(text, charset)!r}, not {expected!r}"
    for message, expected in ((undeclared, "没有声明字符集。"), (wrong, "字符集写错了。"), (unknown, "未知的字符集名称。")):
        text, charset = student.text_of(message)
        assert (text.strip(), charset) == (expected, "gb18030"), \
            f"{message['Subject']}: text_of() returned {(text, charset)!r}"


@pytest.mark.points(1, hint="When nothing decodes strictly, decode with errors='replace' so the caller still gets "
                            "text (chapter 5c, 'When the charset is missing or wrong').")
def test_text_of_never_fails(student):
    """text_of() prefers UTF-8 for mislabelled ASCII and returns replaced text when nothing fits."""
    mislabelled = email.message_from_bytes("Content-Type: text/plain; charset=us-ascii\n\nCafé\n".encode())
    got = student.text_of(mislabelled)
    assert got == ("Café\n", "utf-8"), f"text_of() of UTF-8 labelled us-ascii returned {got!r}"
    hopeless = email.message_from_bytes(b"Content-Type: text/plain; charset=utf-8\n\n\xff\xfe\n")
    got = student.text_of(hopeless, fallbacks=("utf-8", "ascii"))
    assert got == ("\ufffd\ufffd\n", "utf-8"), f"text_of() of bytes no charset fits returned {got!r}"
    unknown = email.message_from_bytes(b"Content-Type: text/plain; charset=x-nothing\n\n\xff\n")
    got = student.text_of(unknown, fallbacks=("ascii",))
    assert got == ("\ufffd\n", "ascii"), f"text_of() with an unknown charset returned {got!r}"


def pop_messages(handle, user: str = "alice") -> dict[str, bytes]:
    """{uid: message} of a POP3 mailbox, read here, with "\n" line ends and no final one (to compare)."""
    box = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    try:
        box.user(user)
        box.pass_(f"{user}-pw")
        return {uid: b"\n".join(box.retr(int(number))[1])
                for number, uid in (line.decode().split(" ", 1) for line in box.uidl()[1])}
    finally:
        box.quit()


def resumed(student, handle, **options):
    """Call download_resuming() for alice; return (its result or the exception it raised, RETRs, sessions)."""
    retrs, logins = spy(student, "poplib.POP3.retr"), spy(student, "poplib.POP3.user")
    try:
        try:
            outcome = student.download_resuming(handle.pop3.host, handle.pop3.port, "alice", "alice-pw", **options)
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - what the student's code raised is the result here
            outcome = exc
        return outcome, len(retrs.calls()), len(logins.calls())
    finally:
        retrs.restore()
        logins.restore()


def same_messages(got, expected: dict[str, bytes]) -> bool:
    normal = {uid: data.replace(b"\r\n", b"\n").rstrip(b"\n") for uid, data in got.items()}
    return normal == expected


@pytest.mark.points(3, hint="Keep a dict {uid: message} across sessions and put a message in it only once retr() "
                            "returned it whole; when poplib raises error_proto or OSError, close() the broken "
                            "connection, log in again, ask uidl() again and retr only the ids not in the dict yet "
                            "(chapter 5a, 'When the connection drops mid-download: resume with UIDL').")
def test_download_resuming(student, lab_writable):
    """The connection drops mid-RETR once: a second session fetches the rest, and no message twice."""
    expected = pop_messages(lab_writable)
    with lab_writable.faults("pop3", "drop", stage="RETR", after_bytes=1500, account="alice", count=1):
        outcome, retrs, sessions = resumed(student, lab_writable)
    assert isinstance(outcome, dict), f"download_resuming() did not survive the dropped connection: {outcome!r}"
    assert same_messages(outcome, expected), \
        f"download_resuming() gave {len(outcome)} messages; the mailbox holds {len(expected)} (or some are not whole)"
    assert sessions == 2, \
        f"one dropped connection needs one more session; download_resuming() logged in {sessions} times"
    assert retrs == len(expected) + 1, \
        f"{len(expected)} messages and one interrupted: {len(expected) + 1} RETRs are enough; download_resuming() " \
        f"sent {retrs}"
    assert pop_messages(lab_writable) == expected, "messages were deleted (or the mailbox was left locked)"


@pytest.mark.points(1, hint="Count the sessions: when the last one allowed breaks too, let its exception reach the "
                            "caller rather than returning a mailbox with holes in it (chapter 5a, 'When the "
                            "connection drops mid-download: resume with UIDL').")
def test_download_resuming_gives_up(student, lab_writable):
    """A connection that drops in every session: download_resuming(attempts=2) raises after two sessions."""
    with lab_writable.faults("pop3", "drop", stage="RETR", after_bytes=100, account="alice"):  # every RETR breaks
        outcome, _, sessions = resumed(student, lab_writable, attempts=2)
    assert isinstance(outcome, (poplib.error_proto, OSError)), \
        f"every session broke; download_resuming(attempts=2) gave {outcome!r:.200} instead of raising"
    assert sessions == 2, f"attempts=2, yet download_resuming() logged in {sessions} times"
