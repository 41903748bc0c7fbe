"""Your answers to the exercises of notebooks/03_nntp.ipynb (chapter 3, "Exercises").

Write each function here (replace the `raise NotImplementedError`), try it
in the chapter's notebook, then check it from a notebook cell:

    from grader import check
    check("ex03")

which grades this file (in workspace/labs/ when the course made you that
copy, else in labs/) like a lab: a table of checks with a hint for each one
that failed. The checks give your functions servers of their own, so use
the host and port they get. The reference answers are in
solutions/exercises/ex03_nntp.py (try first!).
"""

from __future__ import annotations

import email  # noqa: F401
import email.policy  # noqa: F401
import email.utils  # noqa: F401
import ssl  # noqa: F401
import warnings
from email.message import EmailMessage  # noqa: F401

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # 3.11-3.12; from standard-nntplib on 3.13+
    import nntplib  # noqa: F401


def thread_tree(host: str, port: int, group: str, timeout: float = 10.0) -> list[tuple[int, int, str]]:
    """Exercise 1: the group's articles in thread order, as (depth, number, decoded subject)."""
    raise NotImplementedError("TODO: exercise 1")


def read_text(host: str, port: int, message_id: str, timeout: float = 10.0) -> tuple[str, str, str]:
    """Exercise 2: (author, subject, body) of an article, decoded to text."""
    raise NotImplementedError("TODO: exercise 2")


def post_securely(host: str, nntps_port: int, ca_file: str, user: str, password: str, from_addr: str,
                  group: str, subject: str, body: str, timeout: float = 10.0) -> tuple[str, int]:
    """Exercise 3: post over NNTPS after a login; return (Message-ID, the article's number in group)."""
    raise NotImplementedError("TODO: exercise 3")
