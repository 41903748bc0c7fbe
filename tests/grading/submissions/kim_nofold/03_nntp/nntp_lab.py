"""Kim's NNTP lab."""

from __future__ import annotations

import email.utils
import nntplib


def newest_subjects(host: str, port: int, group: str, n: int = 10, timeout: float = 10.0) -> list[str]:
    """The subjects of the n newest articles of group, newest first, decoded to plain text.

    Select the group (GROUP gives first and last article numbers), ask for
    the overview of the last n (OVER), and decode each subject with
    nntplib.decode_header (subjects may be RFC 2047 encoded-words).
    """
    with nntplib.NNTP(host, port, timeout=timeout) as news:
        _, _, first, last, _ = news.group(group)
        start = max(first, last - n + 1)
        _, overviews = news.over((start, last))
    overviews = sorted(overviews, key=lambda item: item[0], reverse=True)[:n]
    return [nntplib.decode_header(fields["subject"]) for _, fields in overviews]


def find_articles(host: str, port: int, group: str, header: str, text: str, timeout: float = 10.0) -> list[str]:
    """The Message-IDs of the articles of group whose header (e.g. "From") contains text.

    The match ignores case and is done on the decoded header. Return the
    ids in article-number order, e.g. ["<t1a@example.test>", ...].
    """
    wanted = text.lower()
    with nntplib.NNTP(host, port, timeout=timeout) as news:
        _, count, first, last, _ = news.group(group)
        if count == 0:
            return []
        _, values = news.xhdr(header, f"{first}-{last}")  # [(number, value), ...]
        matching = sorted(int(number) for number, value in values
                          if wanted in nntplib.decode_header(value).lower())
        found = []
        for number in matching:
            _, _, message_id = news.stat(number)
            found.append(message_id)
    return found


def post_followup(host: str, port: int, message_id: str, body: str, from_addr: str,
                  timeout: float = 10.0) -> str:
    """Post a follow-up to the article message_id; return the new article's Message-ID.

    A correct follow-up (RFC 5536/5537):
      - Newsgroups: the parent's Followup-To if it has one, else its Newsgroups;
      - Subject: "Re: " + the parent's subject (never "Re: Re: ...");
      - References: the parent's References followed by the parent's Message-ID;
      - From: from_addr, and a Message-ID of your own (email.utils.make_msgid).
    """
    with nntplib.NNTP(host, port, timeout=timeout) as news:
        _, info = news.head(message_id)
        parent = {}
        for line in info.lines:
            name, _, value = line.decode("utf-8", "replace").partition(":")
            parent.setdefault(name.strip().lower(), value.strip())
        subject = parent.get("subject", "")
        if not subject.lower().startswith("re:"):
            subject = "Re: " + subject
        references = " ".join(filter(None, [parent.get("references", ""), parent["message-id"]]))
        new_id = email.utils.make_msgid(domain="example.test")
        headers = [("From", from_addr), ("Newsgroups", parent.get("followup-to") or parent["newsgroups"]),
                   ("Subject", subject), ("References", references), ("Message-ID", new_id),
                   ("Date", email.utils.formatdate()), ("Content-Type", "text/plain; charset=utf-8")]
        article = [f"{name}: {value}".encode() for name, value in headers] + [b""]
        article += [line.encode("utf-8") for line in body.splitlines()]
        news.post(article)
    return new_id


def _unfold(lines: list[bytes]) -> list[bytes]:
    """Header lines with folded continuations joined back."""
    out: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b" " + line.strip()
        else:
            out.append(line)
    return out
