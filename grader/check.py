"""check("ftp"): a lab's tests against the student's module, shown as a table in the notebook.

The tests run in a subprocess (run.py), so an endless loop or a crash in
the student's code cannot take the kernel down, and nothing the servers or
the tests print reaches the cell: what comes back is the report, shown as
a table of checks with a hint for each one that failed.
"""

from __future__ import annotations

import html
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import run as runner
from .labs import LABS, UNITS


@dataclass
class CheckResult:
    lab: str
    score: float = 0
    max_score: float = 0
    checks: list[dict] = field(default_factory=list)  # name, ok, points, earned, hint, message
    note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c["ok"] for c in self.checks)

    def _rows(self):
        for c in self.checks:
            detail = "" if c["ok"] else (c["hint"] + (f" ({c['message']})" if c["message"] else ""))
            yield ("passed" if c["ok"] else "FAILED"), c["name"], f"{_n(c['earned'])}/{_n(c['points'])}", detail

    def __repr__(self) -> str:
        lines = [f"{self.lab}: {_n(self.score)}/{_n(self.max_score)} points"]
        if self.note:
            lines.append(self.note)
        lines += [f"  {status:<6}  {name}  {points}" + (f"\n          hint: {detail}" if detail else "")
                  for status, name, points, detail in self._rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='color:{'green' if status == 'passed' else 'red'}'>{'&#10004;' if status == 'passed' else '&#10008;'}"
            f" {status}</td><td><code>{html.escape(name)}</code></td><td>{points}</td>"
            f"<td style='text-align:left'>{html.escape(detail)}</td></tr>"
            for status, name, points, detail in self._rows())
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return (f"<p><b>{html.escape(self.lab)}: {_n(self.score)}/{_n(self.max_score)} points</b></p>{note}"
                "<table><tr><th>check</th><th>test</th><th>points</th><th style='text-align:left'>hint</th></tr>"
                f"{rows}</table>")


def _n(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def default_labs_dir() -> Path:
    """The student's own copy of the labs (workspace/labs) when the course made one, else labs/."""
    workspace = runner.ROOT / "workspace" / "labs"
    return workspace if workspace.is_dir() else runner.ROOT / "labs"


def check(lab: str, labs_dir: str | Path | None = None, *, lab_timeout: float | None = None,
          timeout: float = 300) -> CheckResult:
    """Run the checks of one lab ("sockets", "ftp", "nntp", "smtp", "mail", "http") or of a chapter's
    exercises ("ex02": your exercises/ex02_ftp.py) on your module.

    labs_dir is the folder holding your labs (default: workspace/labs if the
    course made it, else the course's labs/). Returns a CheckResult, which a
    notebook shows as a table.
    """
    if lab not in UNITS:
        raise ValueError(f"unknown lab {lab!r}; the labs are: {', '.join(LABS)}; the exercises: "
                         f"{', '.join(name for name in UNITS if name not in LABS)}")
    labs_dir = Path(labs_dir).resolve() if labs_dir else default_labs_dir()
    tests = (runner.lab_tests() if lab in LABS else runner.exercise_checks()) / f"test_{lab}.py"
    with tempfile.TemporaryDirectory(prefix="check-") as tmp:
        result = runner.run([tests], labs_dir, Path(tmp) / "report.json", Path(tmp) / "pytest.log",
                            lab_timeout=lab_timeout, wall_timeout=timeout)
        tail = result.log_tail()
    document = result.report or {}
    import_error = (document.get("labs", {}).get(lab) or {}).get("import_error")
    checks = []
    for t in document.get("tests", []):
        if t["reason"] == "import":
            message = "not run: your module did not import (see above)"
        elif t["reason"] == "todo":
            message = "not written yet"
        else:
            message = t["message"]
        checks.append({"name": t["name"], "ok": t["outcome"] == "passed", "points": t["points"],
                       "earned": t["earned"], "hint": t["hint"], "message": message})
    from .report import notes

    where = f"checked {UNITS[lab].path(labs_dir)}"
    if import_error:
        note = f"{where}. Your module could not be imported: {import_error}"
    elif document:
        note = "; ".join(filter(None, [where, notes(document)]))
    else:
        note = f"{where}. The checks could not run: {tail}"
    if result.killed:
        note = f"stopped after {timeout:g} s. " + note
    return CheckResult(lab, document.get("score", 0), document.get("max_score", 0), checks, note)
