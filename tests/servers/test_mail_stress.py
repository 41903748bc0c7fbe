"""SMTP, POP3 and IMAP on the same mailboxes at once, for a bounded time.

Senders deliver over SMTP while POP3 sessions read and delete and two IMAP
clients fetch, move and expunge, all on alice's and bob's mailboxes. At the
end every message the SMTP server accepted must be accounted for: seen by a
reader, or still in a mailbox, and never in two places; and no client may
have met an error other than POP3's expected [IN-USE] refusals.
"""

from __future__ import annotations

import email
import imaplib
import poplib
import re
import smtplib
import threading
import time
from email.message import EmailMessage

RUN_SECONDS = 4.0
USERS = ("alice", "bob")
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<stress-[^>]+>)", re.I | re.M)


class Ledger:
    """What the clients did, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent: dict[str, set[str]] = {user: set() for user in USERS}
        self.seen: set[str] = set()
        self.errors: list[str] = []
        self.in_use_refusals = 0

    def saw(self, raw: bytes, where: str) -> None:
        found = MESSAGE_ID.search(raw)
        if found is None:
            return  # seeded mail
        message = email.message_from_bytes(raw)
        body = message.get_payload().rstrip("\n")
        if body != f"body of {found.group(1).decode()}":
            self.error(f"{where}: a stress message arrived damaged: {body!r}")
        with self.lock:
            self.seen.add(found.group(1).decode())

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


def sender(servers, ledger: Ledger, deadline: float, number: int) -> None:
    count = 0
    try:
        with smtplib.SMTP(*servers.smtp.address, timeout=10) as smtp:
            while time.monotonic() < deadline:
                user = USERS[count % 2]
                message_id = f"<stress-{number}-{count}@example.test>"
                message = EmailMessage()
                message["From"] = "stress@example.test"
                message["To"] = f"{user}@example.test"
                message["Subject"] = f"stress {number}-{count}"
                message["Message-ID"] = message_id
                message.set_content(f"body of {message_id}")
                smtp.send_message(message)  # raises unless the server answered 250
                with ledger.lock:
                    ledger.sent[user].add(message_id)
                count += 1
    except Exception as exc:  # every failure is a finding
        ledger.error(f"SMTP sender {number}: {exc!r}")


def pop3_reader(servers, ledger: Ledger, deadline: float, user: str) -> None:
    while time.monotonic() < deadline:
        try:
            pop = poplib.POP3(*servers.pop3.address, timeout=10)
            try:
                pop.user(user)
                pop.pass_(servers.pop3.accounts[user])
            except poplib.error_proto as exc:
                pop.close()
                if b"IN-USE" in exc.args[0]:
                    with ledger.lock:
                        ledger.in_use_refusals += 1
                    time.sleep(0.02)
                    continue
                raise
            count, _ = pop.stat()
            for number in range(1, min(count, 20) + 1):
                try:
                    raw = b"\n".join(pop.retr(number)[1])
                except poplib.error_proto:
                    continue  # gone since (moved by IMAP): POP3 says -ERR, which is right
                ledger.saw(raw, f"POP3 {user}")
                if MESSAGE_ID.search(raw) and number % 2:
                    pop.dele(number)
            pop.quit()  # deletions happen here, in the UPDATE state
        except Exception as exc:
            ledger.error(f"POP3 {user}: {exc!r}")
            return


def imap_client(servers, ledger: Ledger, deadline: float, user: str, expunge: bool) -> None:
    try:
        imap = imaplib.IMAP4(*servers.imap.address, timeout=10)
        imap.login(user, servers.imap.accounts[user])
        if not expunge:
            imap.create("Stress")
        while time.monotonic() < deadline:
            imap.select("INBOX")
            typ, data = imap.uid("SEARCH", None, "SUBJECT", "stress")
            uids = data[0].split()[:10]
            if not uids:
                time.sleep(0.02)
                continue
            typ, fetched = imap.uid("FETCH", b",".join(uids), "(BODY.PEEK[])")
            for item in fetched:
                if isinstance(item, tuple):
                    ledger.saw(item[1].replace(b"\r\n", b"\n"), f"IMAP {user}")
            if expunge:
                imap.uid("STORE", b",".join(uids[::2]), "+FLAGS.SILENT", r"(\Deleted)")
                imap.uid("EXPUNGE", b",".join(uids[::2]))
            elif len(uids) > 1:
                imap.uid("MOVE", b",".join(uids[1::2]), "Stress")
        imap.logout()
    except Exception as exc:
        ledger.error(f"IMAP {user} ({'expunge' if expunge else 'move'}): {exc!r}")


def remaining(servers, user: str) -> list[str]:
    """Message-IDs of the stress messages left in the user's INBOX and Stress folder."""
    ids = []
    with imaplib.IMAP4(*servers.imap.address, timeout=10) as imap:
        imap.login(user, servers.imap.accounts[user])
        for folder in ("INBOX", "Stress"):
            if imap.select(folder, readonly=True)[0] != "OK":
                continue
            typ, data = imap.search(None, "SUBJECT", "stress")
            if data[0]:
                typ, fetched = imap.fetch(b",".join(data[0].split()), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                ids += [MESSAGE_ID.search(item[1]).group(1).decode() for item in fetched if isinstance(item, tuple)]
    return ids


def test_smtp_pop3_imap_together_lose_nothing(fresh_servers):
    ledger = Ledger()
    deadline = time.monotonic() + RUN_SECONDS
    threads = [threading.Thread(target=sender, args=(fresh_servers, ledger, deadline, n)) for n in range(3)]
    threads += [threading.Thread(target=pop3_reader, args=(fresh_servers, ledger, deadline, user)) for user in USERS]
    threads += [threading.Thread(target=imap_client, args=(fresh_servers, ledger, deadline, "alice", False)),
                threading.Thread(target=imap_client, args=(fresh_servers, ledger, deadline, "alice", True)),
                threading.Thread(target=imap_client, args=(fresh_servers, ledger, deadline, "bob", True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RUN_SECONDS + 30)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert ledger.errors == []

    for user in USERS:
        sent = ledger.sent[user]
        assert len(sent) > 20, "too little traffic to mean anything"
        left = remaining(fresh_servers, user)
        assert len(left) == len(set(left)), f"a message of {user} is in two places"
        lost = sent - ledger.seen - set(left)
        assert not lost, f"{len(lost)} of {len(sent)} messages to {user} were accepted and then lost"
        assert set(left) <= sent, "a mailbox holds a stress message nobody sent"
    deleted = (ledger.sent["alice"] | ledger.sent["bob"]) - set(remaining(fresh_servers, "alice")) \
        - set(remaining(fresh_servers, "bob"))
    assert deleted, "no reader deleted anything: the test exercised no deletions"
