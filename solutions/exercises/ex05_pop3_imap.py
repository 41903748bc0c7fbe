"""Solutions to the exercises of chapter 5: notebooks/05a_pop3 (1), 05b_imap (2, 4, 5) and 05c_parsing (3, 6)."""

from __future__ import annotations

import base64
import email
import imaplib
import poplib
import select
import time
from email import policy
from email.message import Message
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


def download_resuming(host: str, port: int, user: str, password: str, attempts: int = 3,
                      timeout: float = 10.0) -> dict[str, bytes]:
    """Exercise 7: every message of the mailbox as {uid: bytes}, surviving dropped connections.

    When a session breaks (poplib.error_proto or OSError), open a new one, up
    to `attempts` sessions in all, and fetch only the unique ids not saved
    yet: no message is downloaded twice once it arrived whole. Deletes
    nothing. If the last session breaks too, raise its exception.
    """
    saved: dict[str, bytes] = {}
    for session in range(1, attempts + 1):
        box = poplib.POP3(host, port, timeout=timeout)
        try:
            box.user(user)
            box.pass_(password)
            for line in box.uidl()[1]:
                number, uid = line.decode().split(" ", 1)
                if uid not in saved:
                    saved[uid] = b"\r\n".join(box.retr(int(number))[1]) + b"\r\n"  # saved once whole
            box.quit()
            return saved
        except (poplib.error_proto, OSError):
            box.close()  # the connection is gone: no QUIT, so the server deleted nothing
            if session == attempts:
                raise
    raise ValueError("attempts must be at least 1")


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


def encode_mailbox_name(name: str) -> str:
    """Exercise 5: text -> modified UTF-7 (RFC 3501 5.1.3), the form IMAP4rev1 mailbox names travel in.

    Printable ASCII stays as it is, "&" becomes "&-", and each run of other
    characters becomes "&" + base64 of its UTF-16BE bytes ("," for "/", no
    "=" padding) + "-".
    """
    out, run = [], []

    def flush():
        if run:
            data = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    flush()
    return "".join(out)


def text_of(part: Message, fallbacks=("utf-8", "gb18030")) -> tuple[str, str]:
    """Exercise 6: (text, charset used) of a text part whose declared charset may be missing, wrong or unknown.

    The declared charset first, decoded strictly; then each fallback; if
    none decodes, the declared charset (or the last fallback) with
    errors="replace", so that the caller always gets text.
    """
    data = part.get_payload(decode=True) or b""
    declared = part.get_content_charset()  # lower case, or None
    for charset in ([declared] if declared else []) + list(fallbacks):
        try:
            return data.decode(charset), charset
        except (LookupError, UnicodeDecodeError):
            continue
    for charset in ([declared] if declared else []) + list(fallbacks[-1:]):
        try:
            return data.decode(charset, errors="replace"), charset
        except LookupError:
            continue
    return data.decode("ascii", errors="replace"), "ascii"
