"""Lab 5 (POP3/IMAP): mailbox report, round trip, moving messages in 05_mail/mail_lab.py.

Expected values come from poplib/imaplib and from the server's disk, so the
tests hold whatever the seeded mail is.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import smtplib
import time
import traceback
import uuid
from collections import Counter
from email.message import EmailMessage
from email.utils import parseaddr

import pytest

from local_servers.mail import mailstore
from grader.helpers import data_dir, delivered
from local_servers.mail.pop3 import to_wire

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


def call(function, *args, **kwargs):
    """Call a student's function; if it raises, let go of its frames before the test fails.

    pytest keeps a failed test's traceback, and with it every object the
    frames held. The student's own objects (an open POP3 session that keeps
    its mailbox locked, [IN-USE]) live in the student's process, which is
    replaced after a failure that left anything behind (grader/sandbox.py);
    clearing the frames here lets go of what this side held. (A full garbage
    collection after each failure, needed when student code ran in this
    process, cost a failing submission ~0.1 CPU-s per check.)
    """
    try:
        return function(*args, **kwargs)
    except BaseException as exc:
        error = exc
    seen = set()
    chained = error
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        traceback.clear_frames(chained.__traceback__)
        chained = chained.__cause__ or chained.__context__
    raise error


def unfolded(value) -> str:
    """A header value as RFC 5322 reads it: folding (CRLF before white space) removed, ends trimmed."""
    return str(value or "").replace("\r\n", "").replace("\n", "").strip()


def send(handle, to_user, subject, body="hello\n", sender="alice@example.test"):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"{to_user}@example.test"
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as smtp:
        smtp.send_message(message)


@pytest.mark.points(2, hint="STAT answers with the number of messages and their size in octets: see chapter 5a, "
                            "'The mailbox at a glance: stat and list', and use the server you are given.")
def test_mailbox_report_count_size(student, lab_writable):
    """mailbox_report() gives the count and size of STAT, from the server it is given."""
    send(lab_writable, "bob", f"only on this server {uuid.uuid4().hex}")
    expected = reference_report(lab_writable, "bob")
    got = call(student.mailbox_report, lab_writable.pop3.host, lab_writable.pop3.port, "bob", "bob-pw")
    assert isinstance(got, dict), f"mailbox_report() returned {got!r}"
    assert (got.get("count"), got.get("size")) == (expected["count"], expected["size"]), \
        f"bob's mailbox holds {expected['count']} messages of {expected['size']} octets; " \
        f"the report says {got.get('count')!r} and {got.get('size')!r}"


@pytest.mark.points(1, hint="Read only the headers (TOP n 0) and keep the address of From, in lower case "
                            "(email.utils.parseaddr): see chapter 5a, 'A quick look: top'.")
def test_mailbox_report_senders(student, lab_writable):
    """mailbox_report() counts the messages per sender address."""
    send(lab_writable, "bob", f"hello {uuid.uuid4().hex}", sender="Ünal Test <Unal.Test@Example.test>")
    expected = reference_report(lab_writable, "bob")
    got = call(student.mailbox_report, lab_writable.pop3.host, lab_writable.pop3.port, "bob", "bob-pw")
    senders = dict(got.get("senders") or {}) if isinstance(got, dict) else got
    assert senders == expected["senders"], f"senders: the mailbox has {expected['senders']!r}, the report {senders!r}"


@pytest.mark.points(1, hint="A report only reads: no DELE, and QUIT at the end so the session closes cleanly "
                            "(see chapter 5a, 'Deleting: dele, rset, and the UPDATE state').")
def test_mailbox_report_deletes_nothing(student, lab_writable):
    """Making the report leaves the mailbox as it was."""
    send(lab_writable, "carol", f"only on this server {uuid.uuid4().hex}")
    before = reference_report(lab_writable, "carol")
    got = call(student.mailbox_report, lab_writable.pop3.host, lab_writable.pop3.port, "carol", "carol-pw")
    after = reference_report(lab_writable, "carol")
    assert isinstance(got, dict) and got.get("count") == before["count"], \
        f"the report is not of carol's mailbox on the server given ({before['count']} messages): {got!r}"
    assert after == before, f"carol's mailbox had {before['count']} messages, now {after['count']}"


@pytest.mark.points(3, hint="Give the message an id of its own, then look for that id in the POP3 mailbox: see "
                            "chapter 5a, 'The round trip: send with SMTP, receive with POP3'.")
def test_round_trip(student, lab_writable):
    """round_trip() sends a message, finds it in the POP3 mailbox, and leaves it there."""
    s, p = lab_writable.smtp, lab_writable.pop3
    message_id = call(student.round_trip, s.host, s.port, p.host, p.port, "carol", "carol-pw", "carol@example.test")
    assert isinstance(message_id, str) and unfolded(message_id).startswith("<"), \
        f"expected a Message-ID like <...@...>, round_trip() returned {message_id!r}"
    found = delivered(lab_writable, "carol", unfolded(message_id))
    ids = [unfolded(m["Message-ID"]) for m in found]
    assert ids == [unfolded(message_id)], \
        f"carol's mailbox holds {len(found)} message(s) with {unfolded(message_id)!r} (Message-IDs: {ids})"


@pytest.mark.timeout(30)  # a round_trip() that ignores its wait must fail on the clock below, not time out
@pytest.mark.points(1, hint="Poll until a deadline computed from the caller's wait, then give up with "
                            "RuntimeError (see chapter 5a, 'The round trip: send with SMTP, receive with POP3').")
def test_round_trip_never_arrives(student, lab_writable):
    """round_trip() raises RuntimeError once its wait is over when the message goes elsewhere."""
    s, p = lab_writable.smtp, lab_writable.pop3
    bob_before = reference_report(lab_writable, "bob")["count"]
    begin = time.monotonic()
    try:
        # Sent to bob, looked for in carol's mailbox: it never arrives there.
        result = call(student.round_trip, s.host, s.port, p.host, p.port, "carol", "carol-pw", "bob@example.test",
                      wait=1.0)
    except RuntimeError as exc:
        if isinstance(exc, NotImplementedError):
            raise
    else:
        pytest.fail(f"the message never arrived, yet round_trip() returned {result!r}")
    took = time.monotonic() - begin
    assert reference_report(lab_writable, "bob")["count"] == bob_before + 1, \
        "the message did not reach bob's mailbox on the SMTP server given"
    assert took < 6, f"with wait=1.0 round_trip() gave up after {took:.1f} s"


def mailbox_counts(imap, folder):
    with imaplib.IMAP4(imap.host, imap.port, timeout=10) as client:
        client.login("alice", "alice-pw")
        status, data = client.select(folder, readonly=True)
        return int(data[0]) if status == "OK" else None


@pytest.mark.points(3, hint="The criteria go to the server as given, quotes included: a quoted string may hold "
                            "spaces. Copy by UID, then mark \\Deleted and expunge (see chapter 5b, 'Searching on "
                            "the server: search' and 'Folders: create, copy, move, status').")
def test_move_matching(student, lab_writable):
    """move_matching() moves exactly the messages matching a quoted search with spaces into a new folder."""
    token = uuid.uuid4().hex[:12]
    for i in range(3):
        send(lab_writable, "alice", f"invoice {token} #{i}")
    send(lab_writable, "alice", f"not an invoice but {token}")
    imap = lab_writable.imap
    inbox_before = mailbox_counts(imap, "INBOX")
    folder = f"Invoices-{token[:6]}"
    moved = call(student.move_matching, imap.host, imap.port, "alice", "alice-pw", f'SUBJECT "invoice {token}"',
                 folder)
    with imaplib.IMAP4(imap.host, imap.port, timeout=10) as client:
        client.login("alice", "alice-pw")
        client.select("INBOX", readonly=True)
        left = len(client.search(None, f'SUBJECT "invoice {token}"')[1][0].split())
        other = len(client.search(None, f'SUBJECT "not an invoice but {token}"')[1][0].split())
    in_folder = mailbox_counts(imap, folder)
    observed = (f"INBOX went from {inbox_before} to {mailbox_counts(imap, 'INBOX')} messages, {left} matching ones "
                f"are left there, {folder} holds {in_folder}, move_matching() returned {moved!r}")
    assert (left, other, in_folder) == (0, 1, 3), observed
    assert moved == 3, observed


@pytest.mark.points(1, hint="CREATE answers NO when the folder exists: that is fine, go on (see chapter 5b, "
                            "'Folders: create, copy, move, status').")
def test_move_matching_into_existing_folder(student, lab_writable):
    """move_matching() moves into a folder that exists already, and returns 0 when nothing matches."""
    token = uuid.uuid4().hex[:12]
    imap = lab_writable.imap
    folder = f"Kept-{token[:6]}"
    with imaplib.IMAP4(imap.host, imap.port, timeout=10) as client:
        client.login("alice", "alice-pw")
        client.create(folder)
    send(lab_writable, "alice", f"keep-{token}")
    moved = call(student.move_matching, imap.host, imap.port, "alice", "alice-pw", f'SUBJECT "keep-{token}"', folder)
    assert (moved, mailbox_counts(imap, folder)) == (1, 1), \
        f"move_matching() returned {moved!r}; {folder} holds {mailbox_counts(imap, folder)} message(s), expected 1"
    again = call(student.move_matching, imap.host, imap.port, "alice", "alice-pw", f'SUBJECT "keep-{token}"', folder)
    assert again == 0, f"nothing matches any more, move_matching() returned {again!r}"
