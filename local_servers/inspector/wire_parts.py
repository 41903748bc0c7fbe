"""The inspector's view of the wire package: transcripts, faults, the provider profile.

Each of them is built in its own module (local_servers/wire/, decision 0009); the
inspector shows whatever of them this checkout has, so every function here answers
None ("not in this build") when its module is missing instead of failing the page.
"""

from __future__ import annotations

import importlib
from pathlib import Path


def _module(name: str):
    try:
        return importlib.import_module(f"local_servers.wire.{name}")
    except ImportError:
        return None


def sessions(state_dir: Path, last: int, user: str | None = None) -> list | None:
    """The last sessions, oldest first (live ones included), or None without transcripts."""
    transcripts = _module("transcripts")
    if transcripts is None:
        return None
    return list(transcripts.sessions(state_dir, last=last, user=user))


def session(state_dir: Path, session_id: str, user: str | None = None):
    """One session by its id (among the recent ones), or None."""
    found = sessions(state_dir, last=None, user=user) or []
    return next((s for s in reversed(found) if str(s.id) == session_id), None)


def faults(state_dir: Path) -> list[dict] | None:
    """The active faults as dicts, or None without fault injection."""
    module = _module("faults")
    if module is None:
        return None
    return [fault.to_dict() for fault in module.active(state_dir)]


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
