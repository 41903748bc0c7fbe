"""The realistic submissions of tests/grading/submissions/, made ready to grade.

A few are written from scratch in another style and kept as whole files. The
others are a reference solution with a small bug: each of those is kept as a
unified diff against solutions/ (`01_sockets/sockets_lab.py.patch`) and
applied here, at test time, so a change to a solution reaches every copy of
it. A hunk is applied where its lines are found (the nearest match to its line
number, as `patch` does), so edits elsewhere in the solution need nothing; a
patch whose own lines no longer match fails with the file and hunk to redo.

    python tests/grading/realistic.py materialize DEST    # the submissions as students hand them in
    python tests/grading/realistic.py record DEST         # after editing DEST/<name>/..., rewrite the patches
"""

from __future__ import annotations

import difflib
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
PATCH = ".patch"
_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchDoesNotApply(ValueError):
    """A stored patch whose lines are no longer in the solution it was made from."""


def names() -> list[str]:
    """The submissions' folder names (expected.json beside them is not one)."""
    return sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def make_patch(original: str, changed: str, relative: str, student: str) -> str:
    """A unified diff of a solution file and a student's copy, as stored in the submissions folder."""
    for text, what in ((original, f"solutions/{relative}"), (changed, f"{student}/{relative}")):
        if text and not text.endswith("\n"):
            raise ValueError(f"{what} must end with a newline to be stored as a patch")
    return "".join(difflib.unified_diff(original.splitlines(keepends=True), changed.splitlines(keepends=True),
                                        f"solutions/{relative}", f"{student}/{relative}"))


def apply_patch(original: str, patch: str, where: str = "the patch") -> str:
    """original with patch's hunks applied, each where its old lines are found nearest its line number."""
    lines = original.splitlines(keepends=True)
    hunks: list[tuple[int, list[str], list[str]]] = []
    for line in patch.splitlines(keepends=True):
        match = _HUNK.match(line)
        if match:
            hunks.append((int(match[1]), [], []))
        elif hunks and line[:1] in (" ", "-", "+"):
            _, old, new = hunks[-1]
            if line[0] in " -":
                old.append(line[1:])
            if line[0] in " +":
                new.append(line[1:])
    if not hunks:
        raise PatchDoesNotApply(f"{where} has no hunks")
    shift = 0
    for number, (start, old, new) in enumerate(hunks, start=1):
        expected = max(0, start - 1 + shift)
        places = [i for i in range(len(lines) - len(old) + 1) if lines[i:i + len(old)] == old]
        if not places:
            raise PatchDoesNotApply(f"{where}: hunk {number} (line {start}) no longer matches the solution; "
                                    "redo the submission: materialize, edit, record")
        at = min(places, key=lambda i: abs(i - expected))
        lines[at:at + len(old)] = new
        shift += (at - expected) + len(new) - len(old)  # later hunks move as this one moved the lines
    return "".join(lines)


def materialize(dest: Path) -> Path:
    """Every submission in dest/<name>/, whole files copied and patches applied to their solutions."""
    dest = Path(dest)
    for name in names():
        for source in sorted((SUBMISSIONS / name).rglob("*")):
            if not source.is_file() or "__pycache__" in source.parts:
                continue
            relative = source.relative_to(SUBMISSIONS / name)
            if source.name.endswith(PATCH):
                relative = relative.with_name(relative.name[:-len(PATCH)])
                target = dest / name / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                solution = (SOLUTIONS / relative).read_text(encoding="utf-8")
                target.write_text(apply_patch(solution, source.read_text(encoding="utf-8"),
                                              f"{source.relative_to(ROOT)}"), encoding="utf-8")
            else:
                target = dest / name / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    return dest


def record(edited: Path) -> list[Path]:
    """Rewrite each stored patch from the edited copy in edited/<name>/ (made by materialize)."""
    written = []
    for patch in sorted(SUBMISSIONS.rglob("*" + PATCH)):
        student = patch.relative_to(SUBMISSIONS).parts[0]
        relative = patch.relative_to(SUBMISSIONS / student)
        relative = relative.with_name(relative.name[:-len(PATCH)])
        changed = (Path(edited) / student / relative).read_text(encoding="utf-8")
        original = (SOLUTIONS / relative).read_text(encoding="utf-8")
        patch.write_text(make_patch(original, changed, relative.as_posix(), student), encoding="utf-8")
        written.append(patch)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("materialize", "record"):
        sys.exit(__doc__)
    if sys.argv[1] == "materialize":
        print(materialize(Path(sys.argv[2])))
    else:
        for path in record(Path(sys.argv[2])):
            print(path.relative_to(ROOT))
