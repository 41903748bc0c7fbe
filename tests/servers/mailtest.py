"""Helpers shared by the SMTP and POP3 tests: raw protocol conversations and the store on disk."""

from __future__ import annotations

import email
import email.policy
import poplib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from local_servers.mail import mailstore

MAIL_SERVICES = ["smtp", "pop3"]


def mail_dir(handle) -> Path:
    return Path(handle.state_dir) / "data" / "mail"


def inbox_files(handle, user: str) -> list[Path]:
    """Every message file of a user's INBOX (new/ and cur/), in arrival order."""
    return [e.path for e in mailstore.messages(mailstore.user_dir(mail_dir(handle), user))]


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def pop_messages(client: poplib.POP3, user: str, password: str) -> list[email.message.EmailMessage]:
    """Log in, read every message, and QUIT."""
    client.user(user)
    client.pass_(password)
    count, _ = client.stat()
    messages = [parse(b"\n".join(client.retr(n)[1])) for n in range(1, count + 1)]
    client.quit()
    return messages


class Raw:
    """A line-oriented conversation over a plain socket, for what the stdlib clients never send."""

    def __init__(self, address, timeout: float = 10):
        self.sock = socket.create_connection(address, timeout=timeout)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        line = self.file.readline()
        assert line, "the server closed the connection"
        return line

    def command(self, data: bytes) -> bytes:
        self.send(data + b"\r\n")
        return self.line()

    def smtp_reply(self) -> bytes:
        """A whole (possibly multi-line) SMTP reply."""
        lines = [self.line()]
        while lines[-1][3:4] == b"-":
            lines.append(self.line())
        return b"".join(lines)

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def curl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    return subprocess.run(["curl", "--silent", "--show-error", "--max-time", "15", *args],
                          capture_output=True, timeout=timeout)


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
