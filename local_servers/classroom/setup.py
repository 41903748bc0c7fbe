"""What `up --class ROSTER.csv` writes into the state directory before it starts the servers.

class.json names the class, its news group, its rate limits and its
students (logins and display names: no passwords, those are in the
passwords file). The server process reads both when it starts in class mode.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..files import write_atomically
from . import passwords, ratelimit, roster

FILE_NAME = "class.json"
#: A class name is a news group name component.
CLASS_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,30}")


def group_of(name: str) -> str:
    """The class's shared news group."""
    return f"class.{name}.discuss"


def prepare(state_dir: Path, roster_file: Path, *, name: str = "course", rate: float = ratelimit.RATE,
            burst: float = ratelimit.BURST, transfer_mb: float = ratelimit.TRANSFER_MB) -> dict:
    """Check the roster, make any missing passwords, write class.json; return what was done.

    Raises roster.RosterError or ValueError with a message for the instructor.
    """
    if not CLASS_NAME.fullmatch(name):
        raise ValueError(f"bad class name {name!r}: lower-case letters, digits and '-' (a news group name part)")
    ratelimit.RateLimits(rate, burst)  # checks the numbers
    if transfer_mb <= 0:
        raise ValueError("a transfer rate needs MB/s > 0")
    students = roster.read(roster_file)
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    password_file, new = passwords.ensure(state_dir, students)
    document = {"name": name, "group": group_of(name), "rate": rate, "burst": burst, "transfer_mb": transfer_mb,
                "students": [{"login": s.login, "name": s.name} for s in students]}
    write_atomically(Path(state_dir) / FILE_NAME, json.dumps(document, indent=1))
    return {"students": len(students), "new_passwords": new, "password_file": password_file,
            "group": document["group"]}


def load(state_dir: Path) -> dict:
    return json.loads((Path(state_dir) / FILE_NAME).read_text(encoding="utf-8"))
