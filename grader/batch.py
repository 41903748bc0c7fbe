"""Grade a folder of submissions into one CSV: one row per student.

    python -m grader batch SUBMISSIONS --out grades.csv [--hidden-tests DIR] [--jobs N] [--shard K/N]

SUBMISSIONS holds one folder per student, each shaped like labs/
(01_sockets/sockets_lab.py, ...), possibly one or two levels down
(student/labs/01_sockets/..., as a zip unpacks). Each submission is graded
by a run of its own (run.py): a trusted pytest process, in namespaces of
its own where the OS allows, with the student's code in a sandboxed
process beside it (sandbox.py). Runs never share servers, so a submission
can harm nothing but its own grade.

The CSV: a "(maximum)" row with each lab's maximum, then per student the
lab scores, total, max, the failed checks by name, the tampering flags and
a note (timeouts, import errors, a degraded sandbox). Totals are computed
here from each test's outcome and its marker's points, never read from a
number the run claims.

With --shard K/N only a slice of the submissions is graded, and
`python -m grader merge` joins the slices' CSVs into this same CSV
(shards.py says how the slice is chosen).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import report as reports
from . import run as runner
from . import shards as sharding
from .i18n import text
from .labs import LABS

#: Submissions graded at once per core: a run mostly waits (servers starting, sockets, time limits).
#: Measured on 2 cores (bench/bench_grading.py, 100 submissions): 4 jobs 325 s, 8 jobs 126 s, 12 jobs 124 s;
#: after the speed work (issue 14): 8 jobs 130-147 s, 16 jobs 108 s, reference solutions 20/20 at 16.
JOBS_PER_CORE = 8


class SubmissionsNotFound(FileNotFoundError):
    """The SUBMISSIONS folder does not exist or is not a folder."""


def default_jobs() -> int:
    return max(1, (os.cpu_count() or 1) * JOBS_PER_CORE)


def submissions_in(folder: Path) -> list[Path]:
    """The student folders, sorted by name in code-point order (the same on every OS: the CSV's row order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionsNotFound(text("no_submissions", folder=folder))
    return sorted((p for p in folder.iterdir()
                   if p.is_dir() and not p.name.startswith((".", "_")) and p.name != "__pycache__"),
                  key=lambda p: p.name)


def labs_folder(submission: Path, depth: int = 3) -> Path:
    """Where a submission's lab folders are: itself, or one or two levels down (student/labs/01_sockets)."""
    names = {lab.folder for lab in LABS.values()}
    level = [Path(submission)]
    for _ in range(depth):
        for folder in level:
            if any((folder / name).is_dir() for name in names):
                return folder
        level = sorted(child for folder in level for child in folder.iterdir()
                       if child.is_dir() and not child.is_symlink() and not child.name.startswith((".", "_")))
    return Path(submission)


def test_paths(labs: list[str] | None, hidden_tests: Path | None) -> list[Path]:
    tests = runner.lab_tests()
    paths = [tests] if not labs else [tests / f"test_{lab}.py" for lab in labs]
    if hidden_tests is not None:
        hidden = Path(hidden_tests).resolve()
        if not hidden.is_dir():
            raise FileNotFoundError(text("no_hidden_tests", folder=hidden))
        paths.append(hidden)
    return paths


def row_for(student: str, result: runner.RunResult, submission_timeout: float) -> dict:
    document = result.report or {"student": student, "labs": {}, "tests": []}
    row = reports.csv_row(document)
    row["student"] = student
    notes = [row["note"]] if row["note"] else []
    if result.killed:
        running = next((t for t in document.get("tests", []) if t["outcome"] == "not run"), None)
        where = f" in {running['lab']}: {running['name']}" if running else ""
        notes.insert(0, f"timed out: stopped after {submission_timeout:g} s{where}")
    elif result.report is None:
        notes.insert(0, f"grading crashed (exit {result.returncode}): {result.log_tail()}")
    elif not result.report.get("complete") or result.returncode not in (0, 1):
        notes.insert(0, f"grading crashed (exit {result.returncode})")
    if row["flags"]:
        notes.insert(0, "FLAGGED: tried to tamper, see flags")
    row["note"] = "; ".join(notes)
    row["seconds"] = round(result.duration, 1)
    return row


def grade(submissions: Path, out: Path, *, hidden_tests: Path | None = None, jobs: int | None = None,
          lab_timeout: float | None = None, submission_timeout: float = 300, labs: list[str] | None = None,
          shared_servers: bool = False, reports_dir: Path | None = None, progress=None,
          shard: sharding.Shard | None = None) -> list[dict]:
    """Grade every submission (or shard K/N of them); write the CSV (and a JSON of the details beside it);
    return the rows."""
    submissions = Path(submissions).resolve()
    out = Path(out).resolve()
    students = submissions_in(submissions)
    shard_meta = None
    if shard is not None:
        everyone = [folder.name for folder in students]
        chosen = set(shard.select(everyone))
        students = [folder for folder in students if folder.name in chosen]
        if progress and not students:
            progress(text("batch_shard_empty", shard=shard, everyone=len(everyone), shards=shard.count))
    reports_dir = Path(reports_dir).resolve() if reports_dir else out.with_name(out.stem + "-reports")
    reports_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, jobs or default_jobs())
    work = Path(tempfile.mkdtemp(prefix="grading-batch-"))  # 0700: the students' uids cannot read it
    try:
        if hidden_tests is not None:  # a private copy: the original may sit where students can read it
            hidden_copy = work / "hidden-tests"
            shutil.copytree(Path(hidden_tests).resolve(), hidden_copy)
            hidden_tests = hidden_copy
        paths = test_paths(labs, hidden_tests)
        if shard is not None:
            shard_meta = sharding.describe(shard, everyone, labs, sharding.tests_fingerprint(paths))
        hide = [submissions, reports_dir, out.parent, work]

        def grade_one(index_and_folder):
            index, folder = index_and_folder
            result = runner.run(paths, labs_folder(folder), reports_dir / f"{folder.name}.json",
                                reports_dir / f"{folder.name}.log", student=folder.name, lab_timeout=lab_timeout,
                                wall_timeout=submission_timeout, hide=hide)
            row = row_for(folder.name, result, submission_timeout)
            if progress:
                progress(text("batch_progress", number=index + 1, count=len(students), student=folder.name,
                              total=row["total"], max=row["max"], seconds=result.duration,
                              note="  " + row["note"] if row["note"] else ""))
            return row

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            rows = list(pool.map(grade_one, enumerate(students)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    maxima: dict[str, float] = {}
    for row in rows:  # the tests are the same for everyone: the largest maximum seen is the lab's
        for lab, value in row["maxima"].items():
            maxima[lab] = max(maxima.get(lab, 0), value)
    columns = finish(rows, maxima)
    extra = []
    if shard is not None:
        extra = [sharding.shard_row(shard_meta)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(reports.csv_text(extra + rows, columns, maxima), encoding="utf-8")
    write_details(out, columns, maxima, rows, shard=shard_meta)
    return rows


def finish(rows: list[dict], maxima: dict[str, float]) -> list[str]:
    """Fill in the rows against the labs' maxima (every column, clamped scores, total, max); the columns.

    The lab columns are the labs' order, then any other lab (hidden tests) by name; maxima is put in that
    order too. The batch and the merge of shards both finish their rows here, so both write the same CSV."""
    columns = [lab for lab in LABS if lab in maxima] + sorted(lab for lab in maxima if lab not in LABS)
    ordered = {lab: maxima[lab] for lab in columns}
    maxima.clear()
    maxima.update(ordered)
    for row in rows:  # a submission without a report still gets a number in every column
        for lab in columns:
            row["labs"].setdefault(lab, 0)
            row["labs"][lab] = min(row["labs"][lab], maxima[lab])
        row["labs"] = {lab: row["labs"][lab] for lab in columns}
        row["max"] = sum(maxima[lab] for lab in columns)
        row["total"] = sum(row["labs"][lab] for lab in columns)
    return columns


def write_details(out: Path, columns: list[str], maxima: dict[str, float], rows: list[dict], *,
                  shard: dict | None = None) -> None:
    """The JSON beside the CSV: every row with its failed checks, flags, notes and seconds."""
    document = {"labs": columns, "maxima": maxima, "rows": rows}
    if shard is not None:
        document["shard"] = shard
    out.with_suffix(".json").write_text(json.dumps(document, indent=1), encoding="utf-8")


def main(args) -> int:
    started = time.monotonic()
    try:
        rows = grade(Path(args.submissions), Path(args.out), hidden_tests=args.hidden_tests, jobs=args.jobs,
                     lab_timeout=args.lab_timeout, submission_timeout=args.submission_timeout,
                     labs=args.labs.split(",") if args.labs else None, shard=args.shard,
                     progress=lambda line: print(line, file=sys.stderr, flush=True))
    except FileNotFoundError as exc:  # the missing SUBMISSIONS (or hidden tests) folder: one line, no traceback
        print(text("error", message=exc), file=sys.stderr)
        return 2
    print(text("batch_done", count=len(rows), seconds=time.monotonic() - started, out=args.out))
    return 0
