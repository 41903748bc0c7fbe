"""reset_scratch(): the chapters' first cell removes what an earlier run left, and nothing else."""

from __future__ import annotations

import imaplib
import smtplib
from email.message import EmailMessage

from local_servers.scratch import reset_scratch


def send(handle, subject: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@example.test", "alice@example.test", subject
    msg.set_content("scratch\n")
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as smtp:
        smtp.send_message(msg)


def test_removes_the_chapters_mail_and_folders_only(fresh_servers):
    send(fresh_servers, "[ch05] left over")
    send(fresh_servers, "[ch04] another chapter's")
    send(fresh_servers, "mine, marked deleted")
    with imaplib.IMAP4(fresh_servers.imap.host, fresh_servers.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        for folder in ("Ch05-Archive", "Ch05-Archive.Old", "Ch04-Kept"):
            assert imap.create(folder)[0] == "OK"
        imap.select("INBOX")
        mine = imap.search(None, "SUBJECT", '"mine, marked deleted"')[1][0]
        imap.store(mine, "+FLAGS", r"(\Deleted)")  # a student's own pending deletion: must survive

    assert reset_scratch(fresh_servers, "ch05") == ["1 [ch05] message(s) from INBOX",
                                                    "folder Ch05-Archive.Old", "folder Ch05-Archive"]
    assert reset_scratch(fresh_servers, "ch05") == []  # nothing left to do

    with imaplib.IMAP4(fresh_servers.imap.host, fresh_servers.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        names = [line.rsplit(b' "." ', 1)[1] for line in imap.list()[1]]
        assert b'"Ch04-Kept"' in names and not any(b"Ch05" in name for name in names)
        imap.select("INBOX", readonly=True)
        assert imap.search(None, "SUBJECT", '"[ch05]"')[1] == [b""]
        assert imap.search(None, "SUBJECT", '"[ch04]"')[1][0]
        assert imap.search(None, "DELETED")[1] == imap.search(None, "SUBJECT", '"mine, marked deleted"')[1] != [b""]
        assert imap.select("INBOX", readonly=True)[1] == [b"46"]  # 44 seeded + [ch04] + mine
