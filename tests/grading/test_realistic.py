"""The realistic submissions kept as patches against solutions/ follow the solutions and fail loudly when
they no longer fit (tests/grading/realistic.py)."""

from __future__ import annotations

import pytest

import realistic

BUGGY = "    deadline = time.monotonic() + wait\n"
SOLUTION = "".join(f"line {n}\n" for n in range(1, 30)).replace("line 15\n", BUGGY)
STUDENT = SOLUTION.replace(BUGGY, "    deadline = time.monotonic() + 8\n").replace("line 2\n", "line two\n")


def test_a_patch_follows_a_solution_edited_elsewhere():
    patch = realistic.make_patch(SOLUTION, STUDENT, "05_mail/mail_lab.py", "hal")
    assert realistic.apply_patch(SOLUTION, patch) == STUDENT
    edited = "# a new first line\n" + SOLUTION.replace("line 22\n", "line 22 said better\nand more\n")
    rebuilt = realistic.apply_patch(edited, patch)
    assert "    deadline = time.monotonic() + 8\n" in rebuilt and BUGGY not in rebuilt
    assert "line two\n" in rebuilt and "line 22 said better\nand more\n" in rebuilt
    assert rebuilt.startswith("# a new first line\n")


def test_a_patch_whose_lines_changed_says_which_hunk():
    patch = realistic.make_patch(SOLUTION, STUDENT, "05_mail/mail_lab.py", "hal")
    changed = SOLUTION.replace(BUGGY, "    deadline = time.monotonic() + wait * 2\n")
    with pytest.raises(realistic.PatchDoesNotApply, match="hunk 2 .*materialize, edit, record"):
        realistic.apply_patch(changed, patch, "hal.patch")


def test_every_stored_patch_applies_and_changes_its_solution(tmp_path):
    folder = realistic.materialize(tmp_path)
    patches = sorted(realistic.SUBMISSIONS.rglob("*" + realistic.PATCH))
    assert len(patches) >= 13
    for patch in patches:
        student = patch.relative_to(realistic.SUBMISSIONS).parts[0]
        relative = patch.relative_to(realistic.SUBMISSIONS / student).with_suffix("")
        made = (folder / student / relative).read_text(encoding="utf-8")
        assert made != (realistic.SOLUTIONS / relative).read_text(encoding="utf-8"), patch
    assert sorted(p.name for p in folder.iterdir()) == realistic.names()
