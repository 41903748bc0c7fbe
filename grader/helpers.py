"""Small helpers for lab tests (and instructors' hidden tests): looking behind the servers.

A test checks what the server really did (a file on its disk, a message in
a mailbox) rather than trusting what the student's code returns.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path


def data_dir(handle, service: str) -> Path:
    """The server set's data folder of a service ("ftp", "mail", "news", ...)."""
    return Path(handle.state_dir) / "data" / service


def delivered(handle, user: str, token: str, folder: str | None = None) -> list[email.message.EmailMessage]:
    """The messages in user's INBOX (or folder) on the server's disk that contain token."""
    box = data_dir(handle, "mail") / user
    if folder and folder.upper() != "INBOX":
        box = box / f".{folder}"
    found = []
    for sub in ("new", "cur"):
        for path in sorted((box / sub).glob("*")):
            data = path.read_bytes()
            if token.encode() in data:
                found.append(email.message_from_bytes(data, policy=email.policy.default))
    return found
