"""check("ftp"): a lab's tests against the student's module, shown as a table in the notebook.

The tests run in a subprocess (run.py), so an endless loop or a crash in
the student's code cannot take the kernel down, and nothing the servers or
the tests print reaches the cell: what comes back is the report, shown as
a table of checks with a hint for each one that failed.
"""

from __future__ import annotations

import html
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from . import run as runner
from .i18n import hint as _hint, language, text as _
from .labs import LABS, UNITS


@dataclass
class CheckResult:
    lab: str
    score: float = 0
    max_score: float = 0
    checks: list[dict] = field(default_factory=list)  # name, ok, points, earned, hint, message
    note: str = ""
    lang: str = "en"  # the language of the table's words: "en" or "zh" (grader/i18n.py)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c["ok"] for c in self.checks)

    def _rows(self):
        for c in self.checks:
            detail = "" if c["ok"] else (_("detail", self.lang, hint=c["hint"], message=c["message"])
                                         if c["message"] else c["hint"])
            yield _("passed" if c["ok"] else "failed", self.lang), c["name"], f"{_n(c['earned'])}/{_n(c['points'])}", detail

    def __repr__(self) -> str:
        lines = [self._title()]
        if self.note:
            lines.append(self.note)
        lines += [f"  {_pad(status, 6)}  {name}  {points}" + ("\n          " + _("hint", self.lang, detail=detail) if detail else "")
                  for status, name, points, detail in self._rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='color:{'green' if ok else 'red'}'>{'&#10004;' if ok else '&#10008;'}"
            f" {status}</td><td><code>{html.escape(name)}</code></td><td>{points}</td>"
            f"<td style='text-align:left'>{html.escape(detail)}</td></tr>"
            for (status, name, points, detail), ok in zip(self._rows(), (c["ok"] for c in self.checks)))
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        heads = [_(key, self.lang) for key in ("col_check", "col_test", "col_points", "col_hint")]
        return (f"<p><b>{html.escape(self._title())}</b></p>{note}"
                f"<table><tr><th>{heads[0]}</th><th>{heads[1]}</th><th>{heads[2]}</th>"
                f"<th style='text-align:left'>{heads[3]}</th></tr>{rows}</table>")

    def _title(self) -> str:
        return _("points", self.lang, lab=self.lab, score=_n(self.score), max=_n(self.max_score))


def _pad(text: str, width: int) -> str:
    """text padded to width terminal columns: a Chinese character takes two."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - columns)


def _n(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def default_labs_dir() -> Path:
    """The student's own copy of the labs (workspace/labs) when the course made one, else labs/."""
    workspace = runner.ROOT / "workspace" / "labs"
    return workspace if workspace.is_dir() else runner.ROOT / "labs"


def check(lab: str, labs_dir: str | Path | None = None, *, lab_timeout: float | None = None,
          timeout: float = 300, lang: str | None = None) -> CheckResult:
    """Run the checks of one lab ("sockets", "ftp", "nntp", "smtp", "mail", "http") or of a chapter's
    exercises ("ex02": your exercises/ex02_ftp.py) on your module.

    labs_dir is the folder holding your labs (default: workspace/labs if the
    course made it, else the course's labs/). Returns a CheckResult, which a
    notebook shows as a table. lang="zh" gives its words and hints in Chinese; by default the locale
    (LANG, LC_ALL, LC_MESSAGES) or COURSE_LANG chooses (grader/i18n.py).
    """
    lang = language(lang)
    if lab not in UNITS:
        raise ValueError(_("unknown_lab", lang, lab=lab, labs=", ".join(LABS),
                           exercises=", ".join(name for name in UNITS if name not in LABS)))
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
            message = _("not_run_import", lang)
        elif t["reason"] == "todo":
            message = _("todo", lang)
        else:
            message = t["message"]
        checks.append({"name": t["name"], "ok": t["outcome"] == "passed", "points": t["points"],
                       "earned": t["earned"], "hint": _hint(t["hint"], lang), "message": message})
    from .report import notes

    where = _("checked", lang, path=UNITS[lab].path(labs_dir))
    if import_error:
        note = _("import_error", lang, where=where, error=import_error)
    elif document:
        note = ("；" if lang == "zh" else "; ").join(filter(None, [where, notes(document, lang)]))
    else:
        note = _("could_not_run", lang, where=where, tail=tail)
    if result.killed:
        note = _("stopped", lang, seconds=f"{timeout:g}") + note
    return CheckResult(lab, document.get("score", 0), document.get("max_score", 0), checks, note, lang)
