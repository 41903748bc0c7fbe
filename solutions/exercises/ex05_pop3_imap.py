"""Solutions to the exercises of notebooks/05_pop3_imap.ipynb."""

from __future__ import annotations

import email
import imaplib
import poplib
import select
import time
from email import policy
from pathlib import Path


def download_new(host: str, port: int, user: str, password: str, known_uids: set[str],
                 timeout: float = 10.0) -> dict[str, bytes]:
    """Exercise 1: every message whose unique id is not in known_uids, as {uid: bytes}; deletes nothing."""
    box = poplib.POP3(host, port, timeout=timeout)
    try:
        box.user(user)
        box.pass_(password)
        resp, lines, _ = box.uidl()
        new = {}
        for line in lines:
            number, uid = line.decode("ascii").split(" ", 1)
            if uid not in known_uids:
                resp, message_lines, _ = box.retr(int(number))
                new[uid] = b"\r\n".join(message_lines) + b"\r\n"
        return new
    finally:
        box.quit()  # no DELE was sent, so the UPDATE state removes nothing


def subjects(host: str, port: int, user: str, password: str, criteria: str,
             mailbox: str = "INBOX", timeout: float = 10.0) -> list[tuple[int, str]]:
    """Exercise 2: [(uid, decoded subject)] of the messages matching an IMAP search; changes no flag."""
    with imaplib.IMAP4(host, port, timeout=timeout) as imap:
        imap.login(user, password)
        imap.select(mailbox, readonly=True)  # EXAMINE: even a mistake cannot set \Seen
        typ, data = imap.uid("SEARCH", criteria)
        uids = data[0].split()
        if not uids:
            return []
        typ, data = imap.uid("FETCH", b",".join(uids), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    found = []
    for item in data:
        if not isinstance(item, tuple):
            continue  # the b")" that ends each message's response
        prefix, header = item
        uid = int(prefix.split(b"UID ")[1].split()[0].rstrip(b")"))
        subject = email.message_from_bytes(header, policy=policy.default)["Subject"] or ""
        found.append((uid, str(subject)))
    return sorted(found)


def save_attachments(data: bytes, directory) -> list[Path]:
    """Exercise 3: write each attachment into directory under its (bare) file name; return the paths."""
    message = email.message_from_bytes(data, policy=policy.default)
    directory = Path(directory)
    saved = []
    for number, attachment in enumerate(message.iter_attachments(), 1):
        # Only the last component of the name the sender chose: "../../x" or "C:\\x" must not escape.
        name = Path((attachment.get_filename() or "").replace("\\", "/")).name
        if name in ("", ".", ".."):
            name = f"attachment-{number}"
        path = directory / name
        path.write_bytes(attachment.get_payload(decode=True) or b"")
        saved.append(path)
    return saved


def wait_for_mail(host: str, port: int, user: str, password: str, timeout: float = 2.0) -> int:
    """Exercise 4: IDLE on the inbox for at most `timeout` seconds; how many messages arrived (0 if none)."""
    with imaplib.IMAP4(host, port, timeout=max(timeout, 1.0) + 10) as imap:
        imap.login(user, password)
        typ, data = imap.select("INBOX")
        before = int(data[0])
        imap.send(b"w1 IDLE\r\n")
        line = imap.readline()
        if not line.startswith(b"+"):
            raise imaplib.IMAP4.error(line.decode(errors="replace").strip())
        count = before
        deadline = time.monotonic() + timeout
        while count == before:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([imap.sock], [], [], remaining)[0]:
                break
            line = imap.readline()
            if line.endswith(b" EXISTS\r\n"):
                count = int(line.split()[1])
        imap.send(b"DONE\r\n")
        while not (line := imap.readline()).startswith(b"w1 "):
            if not line:
                raise imaplib.IMAP4.abort("the server closed the connection")
            if line.endswith(b" EXISTS\r\n"):
                count = int(line.split()[1])
    return max(count - before, 0)
