"""The inspector's view of the wire package: transcripts, faults, the provider profile.

Each of them is built in its own module (local_servers/wire/, decision 0009); the
inspector shows whatever of them this checkout has, so every function here answers
None ("not in this build") when its module is missing instead of failing the page.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from pathlib import Path


def _module(name: str):
    try:
        return importlib.import_module(f"local_servers.wire.{name}")
    except ImportError:
        return None


class TranscriptReader:
    """The transcripts' files read incrementally: each poll parses only the lines added since the last.

    transcripts.sessions() parses every file (up to 24 MiB of JSON lines) at each call; the
    sessions page polls every 2 s, in the server process, so that would cost the mail and news
    servers a second of the interpreter now and then. This keeps what it read, and starts again
    only when the transcript store drops its oldest file (every few hundred sessions).
    """

    def __init__(self, state_dir: Path, transcripts):
        self.state_dir, self.transcripts = Path(state_dir), transcripts
        self.lock = threading.Lock()
        self.found: dict = {}
        self.positions: dict[Path, int] = {}

    def sessions(self, last: int | None, user: str | None, service: str | None = None) -> list:
        with self.lock:
            files = self.transcripts._files(self.state_dir)
            if any(path not in files for path in self.positions):  # rotated: sessions began in a dropped file
                self.found, self.positions = {}, {}
            for path in files:
                self._read(path)
            chosen = [s for s in self.found.values()
                      if (user is None or s.user == user) and (service is None or s.service == service)]
        return chosen[-last:] if last else chosen

    def _read(self, path: Path) -> None:
        position = self.positions.get(path, 0)
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size == position:
                    return
                f.seek(position)
                data = f.read()
        except FileNotFoundError:
            return
        complete = data[:data.rfind(b"\n") + 1]  # a line being written is read next time
        for line in complete.splitlines():
            try:
                self.transcripts._apply(self.found, json.loads(line))
            except (ValueError, IndexError, TypeError):
                continue
        self.positions[path] = position + len(complete)


_readers: dict[Path, TranscriptReader] = {}
_readers_lock = threading.Lock()


def sessions(state_dir: Path, last: int | None, user: str | None = None, service: str | None = None) -> list | None:
    """The last sessions, oldest first (live ones included), or None without transcripts."""
    transcripts = _module("transcripts")
    if transcripts is None:
        return None
    if not (hasattr(transcripts, "_files") and hasattr(transcripts, "_apply")):  # another reader: its own API
        return list(transcripts.sessions(state_dir, service=service, last=last, user=user))
    with _readers_lock:
        reader = _readers.setdefault(Path(state_dir), TranscriptReader(state_dir, transcripts))
    return reader.sessions(last, user, service)


def session(state_dir: Path, session_id: str, user: str | None = None):
    """One session by its id (among the recent ones), or None."""
    found = sessions(state_dir, last=None, user=user) or []
    return next((s for s in reversed(found) if str(s.id) == session_id), None)


def faults(state_dir: Path) -> list[dict] | None:
    """The active faults as dicts, or None without fault injection."""
    module = _module("faults")
    if module is None:
        return None
    found = []
    for fault in module.active(state_dir):
        item = fault.to_dict()
        if hasattr(fault, "describe"):  # one line for people, as `fault list` prints it
            item["what"] = fault.describe()
        found.append(item)
    return found


def clear_faults(state_dir: Path, fault_id: str | None) -> bool:
    """Clear one fault (or all); False without fault injection."""
    module = _module("faults")
    if module is None:
        return False
    module.clear(state_dir, fault_id or None)
    return True


def profile(state_dir: Path) -> str | None | bool:
    """The active provider profile's name, None for none, False without profiles."""
    module = _module("profiles")
    if module is None:
        return False
    return module.current(state_dir)
