"""Solutions to the exercises of notebooks/03_nntp.ipynb."""

from __future__ import annotations

import email
import email.policy
import email.utils
import ssl
import warnings
from email.message import EmailMessage

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # 3.11-3.12; from standard-nntplib on 3.13+
    import nntplib


def thread_tree(host: str, port: int, group: str, timeout: float = 10.0) -> list[tuple[int, int, str]]:
    """Exercise 1: the group's articles in thread order, as (depth, number, decoded subject)."""
    with nntplib.NNTP(host, port, timeout=timeout) as news:
        resp, count, first, last, name = news.group(group)
        if count == 0:
            return []
        resp, overviews = news.over((first, last))

    number_of = {fields["message-id"]: number for number, fields in overviews}
    children: dict[int | None, list[int]] = {}
    subjects = {}
    for number, fields in overviews:  # in number order, so each list of children is too
        references = fields["references"].split()
        parent = number_of.get(references[-1]) if references else None  # None: starts a thread
        children.setdefault(parent, []).append(number)
        subjects[number] = nntplib.decode_header(fields["subject"])

    tree = []

    def walk(number: int, depth: int) -> None:
        tree.append((depth, number, subjects[number]))
        for child in children.get(number, []):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    return tree


def read_text(host: str, port: int, message_id: str, timeout: float = 10.0) -> tuple[str, str, str]:
    """Exercise 2: (author, subject, body) of an article, decoded to text."""
    with nntplib.NNTP(host, port, timeout=timeout) as news:
        resp, info = news.article(message_id)
    message = email.message_from_bytes(b"\n".join(info.lines), policy=email.policy.default)
    return str(message["From"]), str(message["Subject"]), message.get_content()


def post_securely(host: str, nntps_port: int, ca_file: str, user: str, password: str, from_addr: str,
                  group: str, subject: str, body: str, timeout: float = 10.0) -> tuple[str, int]:
    """Exercise 3: post over NNTPS after a login; return (Message-ID, the article's number in group)."""
    context = ssl.create_default_context(cafile=ca_file)  # verifies the certificate and the host name
    article = EmailMessage()
    article["From"] = from_addr
    article["Newsgroups"] = group
    article["Subject"] = subject  # non-ASCII is encoded for us
    domain = email.utils.parseaddr(from_addr)[1].rpartition("@")[2] or "localhost"  # no DNS look-up
    message_id = email.utils.make_msgid(domain=domain)  # our own, so that we can find the article again
    article["Message-ID"] = message_id
    article.set_content(body)
    with nntplib.NNTP_SSL(host, nntps_port, ssl_context=context, timeout=timeout) as news:
        news.login(user, password)
        news.post(bytes(article))
        resp, info = news.head(message_id)
    stored = email.message_from_bytes(b"\n".join(info.lines), policy=email.policy.default)
    for item in stored["Xref"].split()[1:]:  # "server group:number group:number ..."
        name, _, number = item.rpartition(":")
        if name == group:
            return message_id, int(number)
    raise LookupError(f"{message_id} was not filed in {group}")
