"""Lab 5, POP3 and IMAP: a mailbox report, the round trip, moving messages.

poplib and imaplib, against the course's mail servers (SMTP delivers into
the same mailboxes that POP3 and IMAP read). Addresses are parameters.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import poplib
import smtplib
import time
from collections import Counter
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr


def mailbox_report(host: str, port: int, user: str, password: str, timeout: float = 10.0) -> dict:
    """A report on a POP3 mailbox: {"count": n, "size": octets, "senders": {address: n}}.

    count and size are what STAT says; senders counts the messages of each
    From address (the address only, in lower case, e.g. "bob@example.test"),
    read with TOP n 0 (headers only, nothing is downloaded twice or deleted).
    """
    box = poplib.POP3(host, port, timeout=timeout)
    try:
        box.user(user)
        box.pass_(password)
        count, size = box.stat()
        senders: Counter = Counter()
        for number in range(1, count + 1):
            _, lines, _ = box.top(number, 0)
            headers = email.message_from_bytes(b"\r\n".join(lines), policy=email.policy.default)
            senders[parseaddr(str(headers.get("From", "")))[1].lower()] += 1
    finally:
        box.quit()
    return {"count": count, "size": size, "senders": dict(senders)}


def round_trip(smtp_host: str, smtp_port: int, pop_host: str, pop_port: int, user: str, password: str,
               address: str, wait: float = 10.0) -> str:
    """Send a message to address by SMTP, wait for it to arrive in user's POP3 mailbox, compare.

    Give the message a unique Message-ID (email.utils.make_msgid) and
    subject; poll the mailbox (UIDL/TOP, at most `wait` seconds) until it is
    there; retrieve it and check that subject and body came through
    unchanged. Leave it in the mailbox. Return its Message-ID; raise
    RuntimeError if it never arrived or differs.
    """
    message_id = make_msgid(domain="example.test")
    message = EmailMessage()
    message["From"] = address
    message["To"] = address
    message["Subject"] = f"round trip {message_id}"
    message["Message-ID"] = message_id
    body = "There and back again.\n"
    message.set_content(body)
    with smtplib.SMTP(smtp_host, smtp_port, timeout=wait) as smtp:
        smtp.send_message(message)
    deadline = time.monotonic() + wait
    while True:
        box = poplib.POP3(pop_host, pop_port, timeout=wait)
        try:
            box.user(user)
            box.pass_(password)
            count, _ = box.stat()
            for number in range(count, 0, -1):
                _, lines, _ = box.retr(number)
                received = email.message_from_bytes(b"\r\n".join(lines), policy=email.policy.default)
                if received["Message-ID"] == message_id:
                    if received["Subject"] != message["Subject"] or received.get_content().strip() != body.strip():
                        raise RuntimeError("the message arrived changed")
                    return message_id
        finally:
            box.quit()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{message_id} did not arrive within {wait} s")
        time.sleep(0.1)


def move_matching(host: str, port: int, user: str, password: str, criteria: str, folder: str,
                  timeout: float = 10.0) -> int:
    """Move the INBOX messages that match an IMAP SEARCH (e.g. 'SUBJECT "invoice"') into folder.

    Pass criteria to the server as given: its quotes matter (a quoted
    string may hold spaces). Create folder if it does not exist. Use UIDs (uid("SEARCH"), uid("COPY")
    or uid("MOVE")), mark the originals \\Deleted and expunge them. Return
    how many messages were moved.
    """
    imap = imaplib.IMAP4(host, port, timeout=timeout)
    try:
        imap.login(user, password)
        imap.create(folder)  # NO if it exists already: fine
        imap.select("INBOX")
        status, data = imap.uid("SEARCH", None, criteria)
        if status != "OK":
            raise RuntimeError(f"SEARCH {criteria} failed: {data}")
        uids = data[0].split()
        if uids:
            uid_set = b",".join(uids).decode()
            status, data = imap.uid("COPY", uid_set, folder)
            if status != "OK":
                raise RuntimeError(f"COPY to {folder} failed: {data}")
            imap.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
            imap.expunge()
        imap.close()
        return len(uids)
    finally:
        imap.logout()
