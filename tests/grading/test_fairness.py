"""The grader is fair: realistic submissions score what a fair human grader gives them.

tests/grading/submissions/ holds submissions written the way students write
them (correct in another style, partly done, one per bug class the lab tests
must catch), and expected.json the score a fair human grader gives each,
with the reason. The submissions that are a solution with a small bug are
stored as patches against solutions/ and made whole for the batch
(realistic.py). One batch grades them all; each total must be within 5% of
the expected one (of the points of the labs it hands in), and the failure
shows the per-lab differences and the grader's note.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import realistic

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = Path(__file__).parent / "submissions"
EXPECTED = json.loads((SUBMISSIONS / "expected.json").read_text(encoding="utf-8"))
MAXIMA: dict[str, float] = EXPECTED["_maxima"]
NAMES = sorted(name for name in EXPECTED if not name.startswith("_"))
TOLERANCE = 0.05


def run_batch(submissions: Path, out: Path, jobs: int = 4) -> dict[str, dict]:
    """Grade a folder of submissions with the batch grader's command line; the CSV rows by student.

    The one place this file names the grader's command. The CSV's "(maximum)" row (each lab's maximum)
    comes back under that name."""
    command = [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out), "--jobs", str(jobs)]
    done = subprocess.run(command, cwd=str(ROOT), capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, f"the batch grader failed: {done.stderr[-2000:]}"
    with out.open(encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict]:
    """Every submission graded in one batch, as students hand them in (patches applied to the solutions)."""
    folder = tmp_path_factory.mktemp("fairness")
    return run_batch(realistic.materialize(folder / "submissions"), folder / "grades.csv")


@pytest.mark.timeout(900)
def test_every_submission_is_graded_against_the_labs_maxima(graded):
    students = {name: row for name, row in graded.items() if name != "(maximum)"}
    assert sorted(students) == NAMES, "a submission without an expected score, or an expected score without a folder"
    assert len(NAMES) >= 12
    per_lab = {lab: float(graded["(maximum)"][lab]) for lab in MAXIMA}
    assert per_lab == {lab: float(value) for lab, value in MAXIMA.items()}, \
        f"the labs' maxima changed (grader: {per_lab}, expected.json: {MAXIMA}): update _maxima and scores"
    maxima = {float(row["max"]) for row in students.values()}
    assert maxima == {float(sum(MAXIMA.values()))}, f"each student's maximum should be the labs' sum, got {maxima}"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", NAMES)
def test_score_is_what_a_fair_grader_gives(graded, name):
    row, scores = graded[name], EXPECTED[name]["scores"]
    got = {lab: float(row.get(lab) or 0) for lab in MAXIMA}
    want = {lab: float(scores.get(lab, 0)) for lab in MAXIMA}
    maximum = sum(MAXIMA[lab] for lab in scores)
    differences = {lab: f"{got[lab]:g} (fair: {want[lab]:g})" for lab in MAXIMA if got[lab] != want[lab]}
    assert abs(sum(got.values()) - sum(want.values())) <= TOLERANCE * maximum, (
        f"{name}: the grader gives {sum(got.values()):g}, a fair grader {sum(want.values()):g} of {maximum:g} "
        f"({EXPECTED[name]['why']}); per lab: {differences}; grader's note: {row.get('note')!r}")
