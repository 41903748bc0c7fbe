"""The instructor's passwords file: one strong random password per student, made once.

The file lives in the class server's state directory, readable by its owner
only (0600), and is the only place the passwords are written: never a log,
never the terminal. Running `up --class` again keeps every password in it;
a student added to the roster gets a new one, and nobody else's changes.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from pathlib import Path

from ..files import write_atomically

FILE_NAME = "class-passwords.csv"
#: 16 characters of URL-safe base64: 96 random bits, easy to type.
PASSWORD_BYTES = 12


def path_in(state_dir: Path) -> Path:
    return Path(state_dir) / FILE_NAME


def load(state_dir: Path) -> dict[str, str]:
    """login -> password, from the file (empty if there is none yet)."""
    try:
        text = path_in(state_dir).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    rows = list(csv.reader(io.StringIO(text)))
    return {row[0]: row[2] for row in rows[1:] if len(row) >= 3}


def ensure(state_dir: Path, students) -> tuple[Path, int]:
    """Give every student a password (keeping those that exist); return the file and how many are new."""
    path = path_in(state_dir)
    known = load(state_dir)
    new = 0
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["login", "display name", "password"])
    for student in students:
        if student.login not in known:
            known[student.login] = secrets.token_urlsafe(PASSWORD_BYTES)
            new += 1
        writer.writerow([student.login, student.name, known[student.login]])
    if not path.exists() or path.read_text(encoding="utf-8") != out.getvalue():
        write_atomically(path, out.getvalue(), mode=0o600)
    if os.name == "posix":
        os.chmod(path, 0o600)
    return path, new
