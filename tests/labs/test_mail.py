"""Lab 5 (POP3/IMAP): mailbox report, round trip, moving messages in 05_mail/mail_lab.py.

Expected values come from poplib/imaplib and from the server's disk, so the
tests hold whatever the seeded mail is.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import smtplib
import uuid
from collections import Counter
from email.message import EmailMessage
from email.utils import parseaddr

import pytest

from local_servers import mailstore
from grader.helpers import data_dir, delivered
from local_servers.pop3 import to_wire

pytestmark = pytest.mark.lab("mail")


def reference_report(handle, user):
    """The report read from the server's disk, not over POP3, so it cannot share a mistake with the lab."""
    box = mailstore.open_box(data_dir(handle, "mail"), user)
    count = size = 0
    senders = Counter()
    for key in box.keys():
        raw = box.get_bytes(key)
        count += 1
        size += len(to_wire(raw))  # POP3 counts octets as sent: CRLF line endings
        headers = email.message_from_bytes(raw, policy=email.policy.default)
        senders[parseaddr(str(headers.get("From", "")))[1].lower()] += 1
    return {"count": count, "size": size, "senders": dict(senders)}


def send(handle, to_user, subject, body="hello\n"):
    message = EmailMessage()
    message["From"] = "alice@example.test"
    message["To"] = f"{to_user}@example.test"
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as smtp:
        smtp.send_message(message)


@pytest.mark.points(3, hint="STAT gives count and size; TOP n 0 gives the headers; parseaddr(From)[1].lower().")
def test_mailbox_report(student, lab_writable):
    """mailbox_report() gives the count and size of STAT and the messages per sender address."""
    expected = reference_report(lab_writable, "bob")
    assert expected["count"] > 0, "the grader expected seeded mail for bob"
    got = student.mailbox_report(lab_writable.pop3.host, lab_writable.pop3.port, "bob", "bob-pw")
    assert got["count"] == expected["count"] and got["size"] == expected["size"], \
        f"count/size: expected {expected['count']}/{expected['size']}, got {got.get('count')}/{got.get('size')}"
    assert dict(got["senders"]) == expected["senders"], f"senders: expected {expected['senders']!r}, got {got['senders']!r}"


@pytest.mark.points(1, hint="Only read: use TOP (or RETR) without DELE, and QUIT at the end.")
def test_mailbox_report_deletes_nothing(student, lab_writable):
    """Making the report leaves the mailbox as it was."""
    before = reference_report(lab_writable, "carol")
    student.mailbox_report(lab_writable.pop3.host, lab_writable.pop3.port, "carol", "carol-pw")
    assert reference_report(lab_writable, "carol") == before, "the mailbox changed"


@pytest.mark.points(3, hint="Send with a unique Message-ID, poll POP3 (bounded), RETR and compare; do not delete.")
def test_round_trip(student, lab_writable):
    """round_trip() sends a message, finds it in the POP3 mailbox, and leaves it there."""
    s, p = lab_writable.smtp, lab_writable.pop3
    message_id = student.round_trip(s.host, s.port, p.host, p.port, "carol", "carol-pw", "carol@example.test")
    assert isinstance(message_id, str) and message_id.startswith("<"), f"expected a Message-ID, got {message_id!r}"
    found = delivered(lab_writable, "carol", message_id)
    assert len(found) == 1, "the message is not (or more than once) in carol's mailbox"
    assert found[0]["Message-ID"] == message_id


@pytest.mark.points(1, hint="Poll with a deadline and raise RuntimeError when it passes.")
def test_round_trip_never_arrives(student, lab_writable):
    """round_trip() raises RuntimeError within its wait when the message goes elsewhere."""
    s, p = lab_writable.smtp, lab_writable.pop3
    with pytest.raises(RuntimeError) as info:
        # Sent to bob, looked for in carol's mailbox: it never arrives there.
        student.round_trip(s.host, s.port, p.host, p.port, "carol", "carol-pw", "bob@example.test", wait=0.5)
    if isinstance(info.value, NotImplementedError):
        raise info.value


@pytest.mark.points(4, hint="create(folder); select('INBOX'); uid('SEARCH', None, criteria); uid('COPY', ...); "
                            "uid('STORE', ..., '+FLAGS', '(\\\\Deleted)'); expunge().")
def test_move_matching(student, lab_writable):
    """move_matching() moves exactly the matching messages into the folder (created if needed)."""
    token = uuid.uuid4().hex[:12]
    for i in range(3):
        send(lab_writable, "alice", f"invoice {token} #{i}")
    send(lab_writable, "alice", f"not an invoice {uuid.uuid4().hex[:12]}")
    imap = lab_writable.imap
    with imaplib.IMAP4(imap.host, imap.port, timeout=10) as client:
        client.login("alice", "alice-pw")
        inbox_before = int(client.select("INBOX")[1][0])
    folder = f"Invoices-{token[:6]}"
    moved = student.move_matching(imap.host, imap.port, "alice", "alice-pw", f'SUBJECT "{token}"', folder)
    assert moved == 3, f"expected 3 messages moved, got {moved!r}"
    with imaplib.IMAP4(imap.host, imap.port, timeout=10) as client:
        client.login("alice", "alice-pw")
        assert int(client.select("INBOX")[1][0]) == inbox_before - 3, "INBOX should have 3 messages fewer"
        assert client.search(None, f'SUBJECT "{token}"')[1][0] == b"", "matching messages are still in INBOX"
        client.close()
        status, data = client.select(folder)
        assert status == "OK", f"the folder {folder} was not created"
        assert int(data[0]) == 3, f"{folder} holds {int(data[0])} messages, expected 3"
    assert student.move_matching(imap.host, imap.port, "alice", "alice-pw", f'SUBJECT "{token}"', folder) == 0
