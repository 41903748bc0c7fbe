"""Your answers to the exercises of notebooks/05a_pop3, 05b_imap and 05c_parsing (chapter 5).

Write each function here (replace the `raise NotImplementedError`), try it
in the chapter's notebook, then check it from a notebook cell:

    from grader import check
    check("ex05")

which grades this file (in workspace/labs/ when the course made you that
copy, else in labs/) like a lab: a table of checks with a hint for each one
that failed. The checks give your functions servers of their own, so use
the host and port they get. The reference answers are in
solutions/exercises/ex05_pop3_imap.py (try first!).
"""

from __future__ import annotations

import base64  # noqa: F401
import email  # noqa: F401
import imaplib  # noqa: F401
import poplib  # noqa: F401
import select  # noqa: F401
import time  # noqa: F401
from email import policy  # noqa: F401
from email.message import Message  # noqa: F401
from pathlib import Path  # noqa: F401


def download_new(host: str, port: int, user: str, password: str, known_uids: set[str],
                 timeout: float = 10.0) -> dict[str, bytes]:
    """Exercise 1: every message whose unique id is not in known_uids, as {uid: bytes}; deletes nothing."""
    raise NotImplementedError("TODO: exercise 1")


def download_resuming(host: str, port: int, user: str, password: str, attempts: int = 3,
                      timeout: float = 10.0) -> dict[str, bytes]:
    """Exercise 7: every message of the mailbox as {uid: bytes}, surviving dropped connections.

    When a session breaks (poplib.error_proto or OSError), open a new one, up
    to `attempts` sessions in all, and fetch only the unique ids not saved
    yet: no message is downloaded twice once it arrived whole. Deletes
    nothing. If the last session breaks too, raise its exception.
    """
    raise NotImplementedError("TODO: exercise 7")


def subjects(host: str, port: int, user: str, password: str, criteria: str,
             mailbox: str = "INBOX", timeout: float = 10.0) -> list[tuple[int, str]]:
    """Exercise 2: [(uid, decoded subject)] of the messages matching an IMAP search; changes no flag."""
    raise NotImplementedError("TODO: exercise 2")


def save_attachments(data: bytes, directory) -> list[Path]:
    """Exercise 3: write each attachment into directory under its (bare) file name; return the paths."""
    raise NotImplementedError("TODO: exercise 3")


def wait_for_mail(host: str, port: int, user: str, password: str, timeout: float = 2.0) -> int:
    """Exercise 4: IDLE on the inbox for at most `timeout` seconds; how many messages arrived (0 if none)."""
    raise NotImplementedError("TODO: exercise 4")


def encode_mailbox_name(name: str) -> str:
    """Exercise 5: text -> modified UTF-7 (RFC 3501 5.1.3), the form IMAP4rev1 mailbox names travel in.

    Printable ASCII stays as it is, "&" becomes "&-", and each run of other
    characters becomes "&" + base64 of its UTF-16BE bytes ("," for "/", no
    "=" padding) + "-".
    """
    raise NotImplementedError("TODO: exercise 5")


def text_of(part: Message, fallbacks=("utf-8", "gb18030")) -> tuple[str, str]:
    """Exercise 6: (text, charset used) of a text part whose declared charset may be missing, wrong or unknown.

    The declared charset first, decoded strictly; then each fallback; if
    none decodes, the declared charset (or the last fallback) with
    errors="replace", so that the caller always gets text.
    """
    raise NotImplementedError("TODO: exercise 6")
