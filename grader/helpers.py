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


# ---------------------------------------------------------------- looking into the student's process
# The student's code runs in a process of its own (grader/sandbox.py): what a test
# wants to know about that process, it asks through these.

def _sandbox_of(student):
    return object.__getattribute__(student, "_sandbox"), object.__getattribute__(student, "_lab")


def student_threads(student) -> dict[int, str]:
    """The threads alive in the student's process (ident -> name), besides its main thread."""
    sandbox, _ = _sandbox_of(student)
    return sandbox.request({"op": "threads"}, "listing threads")


def serve_handler(student, name: str):
    """Serve the student's http.server handler class `name` in the student's process.

    Returns a handle with .server_address, .errors (what the handler raised, as
    "Type: message" lines), .raise_last() (raises the handler's last exception
    here, as the student's code raised it) and .close().
    """
    sandbox, lab = _sandbox_of(student)
    return sandbox.request({"op": "serve_handler", "lab": lab, "name": name}, f"serving {name}")


def spy(student, path: str):
    """Count the calls the student's code makes to a library function, e.g. "smtplib.SMTP.connect".

    Returns a handle: .calls() lists each call's arguments (as text), .restore() ends the spying.
    """
    sandbox, lab = _sandbox_of(student)
    return sandbox.request({"op": "spy", "path": path}, f"watching {path}")
