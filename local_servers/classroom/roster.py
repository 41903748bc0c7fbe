"""The class roster: a CSV file of students, one per line: login, display name.

A header line (``login,display name``) is allowed. Every problem is reported
with its line number, so an instructor can fix the file in one pass.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

#: A login is a mail local part, an FTP folder name and a Maildir name at once:
#: lower-case letters, digits, ".", "_" and "-", starting with a letter.
LOGIN = re.compile(r"[a-z][a-z0-9._-]{0,31}")
#: Names that mean something else on some service.
RESERVED = {"anonymous", "ftp", "postmaster", "root", "news", "staff"}
#: A display name goes into From headers: no control characters, no <>" or @.
BAD_NAME = re.compile(r'[\x00-\x1f\x7f<>"@\\]')
MAX_STUDENTS = 5000


class RosterError(ValueError):
    """The roster cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Student:
    login: str
    name: str


def parse(text: str, source: str = "roster") -> list[Student]:
    """Students from the roster's text, in file order; RosterError names the first bad line."""
    students: list[Student] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and cells[0].lower() == "login":
            continue  # the header
        if len(cells) > 2:
            raise RosterError(f"{source}, line {number}: expected 'login,display name', got {len(cells)} fields")
        login = cells[0].lower()
        name = cells[1] if len(cells) > 1 else ""
        if not LOGIN.fullmatch(login):
            raise RosterError(f"{source}, line {number}: bad login {cells[0]!r}: use 1-32 letters, digits, "
                              "'.', '_' or '-', starting with a letter")
        if login in RESERVED:
            raise RosterError(f"{source}, line {number}: {login!r} is reserved; choose another login")
        if login in seen:
            raise RosterError(f"{source}, line {number}: duplicate login {login!r} (first on line {seen[login]})")
        if BAD_NAME.search(name) or len(name) > 100:
            raise RosterError(f"{source}, line {number}: bad display name {name!r}: at most 100 characters, "
                              "no control characters and none of <>\"@\\")
        seen[login] = number
        students.append(Student(login, name or login))
        if len(students) > MAX_STUDENTS:
            raise RosterError(f"{source}, line {number}: more than {MAX_STUDENTS} students")
    if not students:
        raise RosterError(f"{source}: no students (expected lines 'login,display name')")
    return students


def read(path: Path) -> list[Student]:
    """The students of a roster file (UTF-8, with or without a byte-order mark)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise RosterError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return parse(text, str(path))
