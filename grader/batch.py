"""Grade a folder of submissions into one CSV: one row per student.

    python -m grader batch SUBMISSIONS --out grades.csv [--hidden-tests DIR] [--jobs N]

SUBMISSIONS holds one folder per student, each shaped like labs/
(01_sockets/sockets_lab.py, 02_ftp/ftp_lab.py, ...). Each submission is
graded by a pytest process of its own (run.py), `jobs` at a time. One bad
submission (syntax error, crash, endless loop, stray threads) costs only
its own row: its process is cut off by per-test timeouts, and killed as a
whole if it overruns `submission_timeout`.

Speed: the servers whose data tests only read are started once for the
whole batch and shared (read-only); each submission starts only the set
its state-changing tests write to.
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
from .labs import LABS


def submissions_in(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_dir() and not p.name.startswith((".", "_")) and p.name != "__pycache__")


def test_paths(labs: list[str] | None, hidden_tests: Path | None) -> list[Path]:
    tests = runner.lab_tests()
    paths = [tests] if not labs else [tests / f"test_{lab}.py" for lab in labs]
    if hidden_tests is not None:
        hidden = Path(hidden_tests).resolve()
        if not hidden.is_dir():
            raise FileNotFoundError(f"hidden tests folder not found: {hidden}")
        paths.append(hidden)
    return paths


def row_for(student: str, result: runner.RunResult, submission_timeout: float) -> dict:
    document = result.report or {"student": student, "labs": {}, "score": 0, "max_score": 0}
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
    row["note"] = "; ".join(notes)
    row["seconds"] = round(result.duration, 1)
    return row


def grade(submissions: Path, out: Path, *, hidden_tests: Path | None = None, jobs: int | None = None,
          lab_timeout: float | None = None, submission_timeout: float = 300, labs: list[str] | None = None,
          shared_servers: bool = True, reports_dir: Path | None = None, progress=None) -> list[dict]:
    """Grade every submission; write the CSV (and a JSON of the details beside it); return the rows."""
    from local_servers import control, serve

    out = Path(out)
    students = submissions_in(submissions)
    paths = test_paths(labs, hidden_tests)
    reports_dir = Path(reports_dir or out.with_name(out.stem + "-reports"))
    reports_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, jobs or os.cpu_count() or 1)
    chosen = labs or list(LABS)
    work = Path(tempfile.mkdtemp(prefix="grading-batch-"))
    shared = None
    try:
        if shared_servers:
            names = [n for lab in chosen for n in LABS[lab].read_only if n in serve.SERVICES]
            shared = work / "shared-servers"
            control.start(shared, ephemeral=True, names=list(dict.fromkeys(names)) or ["echo"])

        def grade_one(index_and_folder):
            index, folder = index_and_folder
            result = runner.run(paths, folder, reports_dir / f"{folder.name}.json", reports_dir / f"{folder.name}.log",
                                student=folder.name, lab_timeout=lab_timeout, wall_timeout=submission_timeout,
                                shared_servers=shared)
            row = row_for(folder.name, result, submission_timeout)
            if progress:
                progress(f"[{index + 1}/{len(students)}] {folder.name}: {row['total']:g}/{row['max']:g} "
                         f"({result.duration:.1f} s){'  ' + row['note'] if row['note'] else ''}")
            return row

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            rows = list(pool.map(grade_one, enumerate(students)))
    finally:
        if shared is not None:
            control.stop(shared)
        shutil.rmtree(work, ignore_errors=True)
    columns = [lab for lab in LABS if any(lab in row["labs"] for row in rows)] or chosen
    maximum = max((row["max"] for row in rows), default=0)
    for row in rows:  # a submission without a report still gets a number in every column
        for lab in columns:
            row["labs"].setdefault(lab, 0)
        row["max"] = row["max"] or maximum
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(reports.csv_text(rows, columns), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"labs": columns, "rows": rows}, indent=1), encoding="utf-8")
    return rows


def main(args) -> int:
    started = time.monotonic()
    rows = grade(Path(args.submissions), Path(args.out), hidden_tests=args.hidden_tests, jobs=args.jobs,
                 lab_timeout=args.lab_timeout, submission_timeout=args.submission_timeout,
                 labs=args.labs.split(",") if args.labs else None, shared_servers=not args.no_shared_servers,
                 progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"graded {len(rows)} submission(s) in {time.monotonic() - started:.1f} s: {args.out}")
    return 0
