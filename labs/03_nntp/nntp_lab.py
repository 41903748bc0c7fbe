"""Lab 3, NNTP: the newest subjects of a group, finding articles, posting a follow-up.

Use nntplib (on Python 3.13+ it comes from the standard-nntplib package the
course installs). Host and port are parameters; the grader points them at
its own news server.
"""

from __future__ import annotations

import email.utils
import nntplib


def newest_subjects(host: str, port: int, group: str, n: int = 10, timeout: float = 10.0) -> list[str]:
    """The subjects of the n newest articles of group, newest first, decoded to plain text.

    Select the group (GROUP gives first and last article numbers), ask for
    the overview of the last n (OVER), and decode each subject with
    nntplib.decode_header (subjects may be RFC 2047 encoded-words).
    """
    raise NotImplementedError("TODO: write newest_subjects()")


def find_articles(host: str, port: int, group: str, header: str, text: str, timeout: float = 10.0) -> list[str]:
    """The Message-IDs of the articles of group whose header (e.g. "From") contains text.

    The match ignores case and is done on the decoded header. Return the
    ids in article-number order, e.g. ["<t1a@example.test>", ...].
    """
    raise NotImplementedError("TODO: write find_articles()")


def post_followup(host: str, port: int, message_id: str, body: str, from_addr: str,
                  timeout: float = 10.0) -> str:
    """Post a follow-up to the article message_id; return the new article's Message-ID.

    A correct follow-up (RFC 5536/5537):
      - Newsgroups: the parent's Followup-To if it has one, else its Newsgroups;
      - Subject: "Re: " + the parent's subject (never "Re: Re: ...");
      - References: the parent's References followed by the parent's Message-ID;
      - From: from_addr, and a Message-ID of your own (email.utils.make_msgid).
    """
    raise NotImplementedError("TODO: write post_followup()")
