"""Reading and writing notebooks as nbformat's own JSON layout, so a rebuild gives the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LOCALE = ROOT / "locale"


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def dumps(notebook: dict) -> str:
    """nbformat's layout (indent 1, sorted keys), with Chinese kept readable in the file (no \\u escapes)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def as_lines(text: str) -> list[str]:
    """A cell source in nbformat's list-of-lines form."""
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def chapters() -> list[str]:
    """The English chapters, by file stem, in course order."""
    return sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb"))


def translated_chapters(lang: str) -> list[str]:
    """The chapters declared translated for lang: the check holds them to every entry translated."""
    declared = LOCALE / lang / "TRANSLATED"
    if not declared.exists():
        return []
    names = [line.split("#")[0].strip() for line in declared.read_text(encoding="utf-8").splitlines()]
    return [name for name in names if name]


def languages() -> list[str]:
    return sorted(path.name for path in LOCALE.iterdir() if (path / "LC_MESSAGES").is_dir()) if LOCALE.is_dir() else []
