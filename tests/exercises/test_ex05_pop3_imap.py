"""The mail-reading chapter's exercise solutions, run against the course's servers."""

from __future__ import annotations

import email
import imaplib
import poplib
import smtplib
import threading
import time
from email import policy
from email.message import EmailMessage

import pytest

MAIL = ["smtp", "pop3", "imap"]


@pytest.fixture
def mail(servers_factory):
    """Mail servers with freshly seeded mailboxes, for the tests that send mail."""
    return servers_factory(names=MAIL)


def send(handle, subject: str, to: str = "alice@example.test") -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@example.test", to, subject
    msg.set_content("test\n")
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as smtp:
        smtp.send_message(msg)


def pop_count(handle, user="alice") -> int:
    box = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    try:
        box.user(user)
        box.pass_(f"{user}-pw")
        return box.stat()[0]
    finally:
        box.quit()


def unseen(handle, user="alice") -> bytes:
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:
        imap.login(user, f"{user}-pw")
        return imap.status("INBOX", "(MESSAGES UNSEEN)")[1][0]


def test_download_new_fetches_each_message_once_and_deletes_nothing(mail, solution):
    args = (mail.pop3.host, mail.pop3.port, "alice", "alice-pw")
    first = solution.download_new(*args, set())
    assert len(first) == pop_count(mail) == 44
    subjects = {email.message_from_bytes(data, policy=policy.default)["Subject"] for data in first.values()}
    assert "Café ☕ am Freitag — Grüße aus Köln" in subjects
    assert solution.download_new(*args, set(first)) == {}
    send(mail, "one more")
    new = solution.download_new(*args, set(first))
    assert len(new) == 1
    assert email.message_from_bytes(next(iter(new.values())))["Subject"] == "one more"
    assert pop_count(mail) == 45  # nothing deleted, and the session was closed with QUIT (no [IN-USE])



# --- 05a exercise 7: a download that survives a dropped connection

def counting_retr(monkeypatch) -> list[int]:
    """Record the message number of every retr() call poplib makes from now on."""
    calls = []
    real_retr = poplib.POP3.retr
    monkeypatch.setattr(poplib.POP3, "retr", lambda self, which: calls.append(which) or real_retr(self, which))
    return calls


def test_download_resuming_fetches_the_rest_after_a_drop(mail, solution, monkeypatch):
    expected = solution.download_new(mail.pop3.host, mail.pop3.port, "alice", "alice-pw", set())
    retrs = counting_retr(monkeypatch)
    with mail.faults("pop3", "drop", stage="RETR", after_bytes=1500, account="alice", count=1):
        got = solution.download_resuming(mail.pop3.host, mail.pop3.port, "alice", "alice-pw")
    assert got == expected
    assert len(retrs) == len(expected) + 1  # only the interrupted message was asked for again
    assert len(set(retrs)) == len(expected)
    assert pop_count(mail) == len(expected)  # nothing deleted, the mailbox not left locked


def test_download_resuming_raises_when_every_session_breaks(mail, solution, monkeypatch):
    before = pop_count(mail)
    retrs = counting_retr(monkeypatch)
    with mail.faults("pop3", "drop", stage="RETR", after_bytes=100, account="alice"):
        with pytest.raises(poplib.error_proto):
            solution.download_resuming(mail.pop3.host, mail.pop3.port, "alice", "alice-pw", attempts=2)
    assert retrs == [1, 1]  # two sessions, each broken in its first message
    assert pop_count(mail) == before  # nothing deleted, the mailbox not left locked


def test_subjects_decodes_and_changes_no_flag(servers, solution):
    args = (servers.imap.host, servers.imap.port, "alice", "alice-pw")
    before = unseen(servers)
    found = solution.subjects(*args, 'FROM "grace"')
    assert found == [(9, "Meeting notes 2"), (17, "Lunch on Friday?"), (25, "Re: budget 18"),
                     (33, "Meeting notes 26"), (41, "Lunch on Friday?")]
    assert solution.subjects(*args, 'FROM "jose"') == [(7, "Café ☕ am Freitag — Grüße aus Köln")]
    assert solution.subjects(*args, 'SUBJECT "no such subject"') == []
    assert solution.subjects(*args, "ALL", mailbox="Archive") == [
        (1, "Old notes, part 1"), (2, "Old notes, part 2"), (3, "Old notes, part 3")]
    assert unseen(servers) == before


def seeded(servers, message_id: str) -> bytes:
    with imaplib.IMAP4(servers.imap.host, servers.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        imap.select("INBOX", readonly=True)
        number = imap.search(None, f'HEADER Message-ID "{message_id}"')[1][0]
        return imap.fetch(number, "(BODY.PEEK[])")[1][0][1]


def test_save_attachments(servers, solution, tmp_path):
    paths = solution.save_attachments(seeded(servers, "<seed-012@example.test>"), tmp_path)
    assert [p.name for p in paths] == ["trip.png"]
    assert paths[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert solution.save_attachments(seeded(servers, "<seed-011@example.test>"), tmp_path) == []  # an alternative


def test_save_attachments_keeps_files_inside_the_directory(solution, tmp_path):
    msg = EmailMessage()
    msg["Subject"] = "tricky names"
    msg.set_content("see attached")
    msg.add_attachment(b"one", maintype="application", subtype="octet-stream", filename="../../escape.txt")
    msg.add_attachment(b"two", maintype="application", subtype="octet-stream", filename="C:\\temp\\win.txt")
    target = tmp_path / "inside"
    target.mkdir()
    paths = solution.save_attachments(msg.as_bytes(), target)
    assert sorted(p.name for p in paths) == ["escape.txt", "win.txt"]
    assert all(p.parent == target for p in paths)
    assert (target / "escape.txt").read_bytes() == b"one"


def test_wait_for_mail_sees_a_delivery(mail, solution):
    timer = threading.Timer(0.3, send, args=(mail, "while idling"))
    timer.start()
    try:
        started = time.monotonic()
        assert solution.wait_for_mail(mail.imap.host, mail.imap.port, "alice", "alice-pw", timeout=5) == 1
        assert time.monotonic() - started < 4  # announced, not found at the timeout
    finally:
        timer.join()


def test_wait_for_mail_times_out_with_zero(mail, solution):
    started = time.monotonic()
    assert solution.wait_for_mail(mail.imap.host, mail.imap.port, "bob", "bob-pw", timeout=0.5) == 0
    assert time.monotonic() - started < 3
    with imaplib.IMAP4(mail.imap.host, mail.imap.port, timeout=10) as imap:  # the server is fine afterwards
        imap.login("bob", "bob-pw")
        assert imap.select("INBOX")[0] == "OK"


# ---- 05b exercise 5: modified UTF-7 mailbox names; 05c exercise 6: text in a missing or wrong charset

CHINESE_SENT = "&XfJT0ZAB-"  # alice's seeded 已发送


@pytest.mark.parametrize("text, wire", [
    ("已发送", "&XfJT0ZAB-"),
    ("Entwürfe", "Entw&APw-rfe"),
    ("Tom & Jerry", "Tom &- Jerry"),
    ("INBOX", "INBOX"),
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # the example of RFC 3501, section 5.1.3
])
def test_encode_mailbox_name(solution, text, wire):
    assert solution.encode_mailbox_name(text) == wire


def test_encoded_name_is_the_one_the_server_lists(mail, solution):
    """The seeded Chinese folder is listed under its encoded name; a folder made with the encoder comes back."""
    with imaplib.IMAP4(mail.imap.host, mail.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        listed = [line.rsplit(b' "." ', 1)[1].strip(b'"').decode() for line in imap.list()[1]]
        assert solution.encode_mailbox_name("已发送") in listed
        name = solution.encode_mailbox_name("Ch05-Entwürfe 草稿")
        assert imap.create(f'"{name}"')[0] == "OK"
        assert imap.list('""', f'"{name}"')[1] == [f'(\\HasNoChildren) "." "{name}"'.encode()]
        assert imap.select(f'"{name}"')[0] == "OK"


def chinese_sent(handle) -> list[email.message.EmailMessage]:
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        imap.select(CHINESE_SENT, readonly=True)
        data = imap.fetch("1:*", "(BODY.PEEK[])")[1]
    return [email.message_from_bytes(item[1], policy=policy.default) for item in data if isinstance(item, tuple)]


def test_text_of_the_seeded_chinese_mail(servers, solution):
    meeting, report, undeclared, wrong, unknown = chinese_sent(servers)
    text, charset = solution.text_of(meeting)
    assert charset == "gbk" and "明天上午十点开会" in text
    body, attachment = [part for part in report.walk() if not part.is_multipart()]
    assert solution.text_of(body) == ("报告在附件里。\r\n", "gb2312")
    assert solution.text_of(attachment) == ("第一季度报告：一切顺利。\n", "gbk")
    for message, expected in ((undeclared, "没有声明字符集。"), (wrong, "字符集写错了。"), (unknown, "未知的字符集名称。")):
        text, charset = solution.text_of(message)
        assert (text.strip(), charset) == (expected, "gb18030"), message["Subject"]


def test_text_of_prefers_utf8_and_never_fails(solution):
    mislabelled = email.message_from_bytes("Content-Type: text/plain; charset=us-ascii\n\nCafé\n".encode())
    assert solution.text_of(mislabelled) == ("Café\n", "utf-8")
    hopeless = email.message_from_bytes(b"Content-Type: text/plain; charset=utf-8\n\n\xff\xfe\n")
    assert solution.text_of(hopeless, fallbacks=("utf-8", "ascii")) == ("\ufffd\ufffd\n", "utf-8")
    unknown = email.message_from_bytes(b"Content-Type: text/plain; charset=x-nothing\n\n\xff\n")
    assert solution.text_of(unknown, fallbacks=("ascii",)) == ("\ufffd\n", "ascii")
