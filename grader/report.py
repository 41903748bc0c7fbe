"""Grade reports: the JSON document one grading run writes, its CSV row, its table.

The JSON report (schema 1) is what check() and the batch grader read::

    {"schema": 1, "student": "alice", "labs_dir": "...", "complete": true,
     "duration": 12.3, "score": 40, "max_score": 80,
     "labs": {"ftp": {"score": 10, "max": 14, "tests": 5, "passed": 4,
                      "failed": 1, "errors": 0, "timeouts": 0, "import_error": null}},
     "tests": [{"lab": "ftp", "nodeid": "...", "name": "test_x", "points": 3, "earned": 0,
                "outcome": "failed", "reason": "timeout", "message": "...", "hint": "...",
                "duration": 0.1}]}

outcome is passed, failed (the student's code is wrong, crashed or hung:
reason says "timeout", "import", "todo" or "crash" when known), error (the
grader itself broke: a fixture failed), skipped, or "not run" (the run was
cut off before the test). Only passed tests earn their points.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from .labs import LABS

SCHEMA = 1


def summarize(tests: list[dict]) -> dict[str, dict]:
    """Per-lab totals of a list of test results, in the labs' order."""
    labs: dict[str, dict] = {}
    order = {name: i for i, name in enumerate(LABS)}
    for test in sorted(tests, key=lambda t: order.get(t["lab"], len(order))):
        lab = labs.setdefault(test["lab"], {"score": 0, "max": 0, "tests": 0, "passed": 0, "failed": 0,
                                            "errors": 0, "timeouts": 0, "not_run": 0, "import_error": None})
        lab["tests"] += 1
        lab["max"] += test["points"]
        lab["score"] += test["earned"]
        outcome = test["outcome"]
        if outcome == "passed":
            lab["passed"] += 1
        elif outcome == "failed":
            lab["failed"] += 1
        elif outcome == "error":
            lab["errors"] += 1
        elif outcome == "not run":
            lab["not_run"] += 1
        if test.get("reason") == "timeout":
            lab["timeouts"] += 1
        if test.get("reason") == "import" and not lab["import_error"]:
            lab["import_error"] = test.get("message", "")
    return labs


def notes(report: dict, lang: str = "en") -> str:
    """One short line saying what went wrong beyond plain failed checks.

    English unless lang="zh" is asked for: the gradebook's CSV and JSON keep English notes on any locale
    (shards graded on differently set machines must merge); check() asks for the student's language.
    """
    from .i18n import text as _

    parts = []
    for name, lab in report.get("labs", {}).items():
        if lab.get("import_error"):
            parts.append(f"{name}: {lab['import_error']}")
        if lab.get("timeouts"):
            hung = [t["name"] for t in report.get("tests", []) if t.get("lab") == name and t.get("reason") == "timeout"]
            parts.append(_("note_timeouts", lang, lab=name, count=lab["timeouts"], names=", ".join(hung)))
        if lab.get("errors"):
            parts.append(_("note_errors", lang, lab=name, count=lab["errors"]))
    if not report.get("complete", True):
        not_run = sum(lab.get("not_run", 0) for lab in report.get("labs", {}).values())
        parts.append(_("note_cut_off", lang, count=not_run))
    isolation = report.get("isolation", "")
    if isolation and isolation != "ok":
        parts.append(_("note_degraded", lang, why=isolation))
    return ("；" if lang == "zh" else "; ").join(parts)


def write_json(path: Path, report: dict) -> None:
    """Write atomically, so a reader (or a kill) never sees half a report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


CSV_TAIL = ["total", "max", "failed", "flags", "note"]


def csv_text(rows: list[dict], labs: list[str], maxima: dict[str, float] | None = None) -> str:
    """The gradebook CSV: one row per student (a lab per column, total, max, failed checks, flags, note).

    With maxima, a first row "(maximum)" gives each lab's maximum.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *labs, *CSV_TAIL])
    if maxima:
        writer.writerow(["(maximum)", *(_number(maxima.get(lab, "")) for lab in labs),
                         _number(sum(maxima.get(lab, 0) for lab in labs)), "", "", "", "each lab's maximum"])
    for row in rows:
        writer.writerow([row["student"], *(_number(row["labs"].get(lab, "")) for lab in labs),
                         _number(row["total"]), _number(row["max"]), " ".join(row.get("failed", [])),
                         "; ".join(row.get("flags", [])), row.get("note", "")])
    return out.getvalue()


def csv_row(report: dict) -> dict:
    """A student's row, recomputed from the tests: a test earns its marker's points if it passed, else 0."""
    labs, maxima, failed = {}, {}, []
    for test in report.get("tests", []):
        points = test.get("points", 0)
        points = points if isinstance(points, (int, float)) and not isinstance(points, bool) and points >= 0 else 0
        lab = str(test.get("lab", ""))
        maxima[lab] = maxima.get(lab, 0) + points
        earned = points if test.get("outcome") == "passed" else 0
        labs[lab] = labs.get(lab, 0) + earned
        if test.get("outcome") != "passed":
            failed.append(f"{lab}:{test.get('name', '')}")
    return {"student": report.get("student", ""), "labs": labs, "maxima": maxima,
            "total": sum(labs.values()), "max": sum(maxima.values()), "failed": failed,
            "flags": [str(f) for f in report.get("flags", [])], "note": notes(report)}


def _number(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def table(report: dict) -> str:
    """The score table printed at the end of a run."""
    lines = [f"{'lab':<9} {'tests':>5} {'passed':>6} {'points':>9}  notes"]
    for name, lab in report.get("labs", {}).items():
        note = []
        if lab.get("import_error"):
            note.append("import failed")
        if lab.get("timeouts"):
            note.append(f"{lab['timeouts']} timed out")
        if lab.get("errors"):
            note.append(f"{lab['errors']} grader error(s)")
        points = f"{_number(lab['score'])}/{_number(lab['max'])}"
        lines.append(f"{name:<9} {lab['tests']:>5} {lab['passed']:>6} {points:>9}  {', '.join(note)}")
    total = f"{_number(report.get('score', 0))}/{_number(report.get('max_score', 0))}"
    lines.append(f"{'total':<9} {'':>5} {'':>6} {total:>9}")
    return "\n".join(lines)
