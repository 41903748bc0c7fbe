"""Your answers to the exercises of notebooks/04_email_smtp.ipynb and 04b_smtp.ipynb (chapter 4).

Write each function here (replace the `raise NotImplementedError`), try it
in the chapter's notebook, then check it from a notebook cell:

    from grader import check
    check("ex04")

which grades this file (in workspace/labs/ when the course made you that
copy, else in labs/) like a lab: a table of checks with a hint for each one
that failed. The checks give your functions servers of their own, so use
the host and port they get. The reference answers are in
solutions/exercises/ex04_email_smtp.py (try first!).
"""

from __future__ import annotations

import ast  # noqa: F401
import contextlib  # noqa: F401
import io  # noqa: F401
import smtplib  # noqa: F401
import ssl  # noqa: F401
import time  # noqa: F401
from email.message import EmailMessage  # noqa: F401
from email.utils import format_datetime, localtime, make_msgid  # noqa: F401


def smtp_commands(host: str, port: int, msg: EmailMessage, timeout: float = 10.0) -> list[str]:
    """Exercise 1: send msg with send_message(); return the commands smtplib sent, as upper-case words."""
    raise NotImplementedError("TODO: exercise 1")


def newsletter(sender: str, recipients: list[str], subject: str, text: str, html: str,
               images: dict[str, bytes]) -> EmailMessage:
    """Exercise 2: text and HTML, the HTML with inline PNG images that it names as cid:<name>.

    The tree is multipart/alternative: [text/plain, multipart/related: [text/html, image/png, ...]].
    """
    raise NotImplementedError("TODO: exercise 2")


def send_all(host: str, smtps_port: int, ca_file: str, user: str, password: str,
             messages: list[EmailMessage], timeout: float = 10.0) -> list[dict]:
    """Exercise 3: send every message over ONE SMTPS connection; one dict of refused recipients per message."""
    raise NotImplementedError("TODO: exercise 3")


def send_with_retry(host: str, port: int, msg: EmailMessage, attempts: int = 4, first_wait: float = 0.2,
                    timeout: float = 10.0) -> int:
    """Exercise 4: send msg; after a 4xx refusal wait and try again, waiting twice as long each time.

    Returns the number of the attempt that went through. A 5xx refusal is
    raised at once (no second attempt); a 4xx on the last attempt is raised too.
    """
    raise NotImplementedError("TODO: exercise 4")


def client_commands(transcript: str) -> list[str]:
    """Exercise 5: the commands a client sent, as upper-case words, from the plain text of an SMTP transcript.

    transcript is what print(servers.transcripts("smtp", last=1)) shows.
    Only commands count: not the message after DATA (the step after a 354
    reply), not the answers to an AUTH challenge (the steps after a 334).
    """
    raise NotImplementedError("TODO: exercise 5")
