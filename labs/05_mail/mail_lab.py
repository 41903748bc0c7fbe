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
    raise NotImplementedError("TODO: write mailbox_report()")


def round_trip(smtp_host: str, smtp_port: int, pop_host: str, pop_port: int, user: str, password: str,
               address: str, wait: float = 10.0) -> str:
    """Send a message to address by SMTP, wait for it to arrive in user's POP3 mailbox, compare.

    Give the message a unique Message-ID (email.utils.make_msgid) and
    subject; poll the mailbox (UIDL/TOP, at most `wait` seconds) until it is
    there; retrieve it and check that subject and body came through
    unchanged. Leave it in the mailbox. Return its Message-ID; raise
    RuntimeError if it never arrived or differs.
    """
    raise NotImplementedError("TODO: write round_trip()")


def move_matching(host: str, port: int, user: str, password: str, criteria: str, folder: str,
                  timeout: float = 10.0) -> int:
    """Move the INBOX messages that match an IMAP SEARCH (e.g. 'SUBJECT "invoice"') into folder.

    Pass criteria to the server as given: its quotes matter (a quoted
    string may hold spaces). Create folder if it does not exist. Use UIDs (uid("SEARCH"), uid("COPY")
    or uid("MOVE")), mark the originals \\Deleted and expunge them. Return
    how many messages were moved.
    """
    raise NotImplementedError("TODO: write move_matching()")
