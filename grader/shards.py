"""Grading a large class on several machines: a batch cut into shards, and the merge of their CSVs.

    python -m grader batch SUBMISSIONS --out grades-2.csv --shard 2/5    # on machine 2 (of 5)
    python -m grader merge grades.csv grades-*.csv                        # once every shard is done

The slice: the submission folders' names, sorted by code point (the same on
every OS and locale), are dealt out like cards: the i-th name (from 0) goes
to shard i mod N + 1. So every machine that sees the same SUBMISSIONS folder
cuts the same slices, the shards differ in size by one at most, and a block
of alike names (one tutorial group, the late submissions) is spread over all
of them. K counts from 1 (Slurm's --array=1-N); a 0-based index (Kubernetes'
JOB_COMPLETION_INDEX) needs a 1 added.

A shard's CSV is the batch CSV of its slice plus a "(shard)" row after the
"(maximum)" row. Its note says which slice of which whole it is, so merge can
refuse what would not add up to one batch::

    shard=2/5 submissions=2000 set=<hash of all names> labs=all tests=<hash of the tests and grader>

merge checks that the shards are 1..N of one split, of the same submissions,
graded for the same labs by the same tests, with no student twice and none
missing; then it writes exactly the CSV one unsharded batch writes (the labs'
maxima, the columns, the row order, the totals), and the JSON beside it when
every shard's JSON is there.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import report as reports
from .labs import LABS

#: The first column of a shard CSV's row that says which slice it is.
SHARD_ROW = "(shard)"
MAXIMUM_ROW = "(maximum)"
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class ShardError(ValueError):
    """A --shard value, or a set of shard CSVs, that cannot be used: the message says why."""


@dataclass(frozen=True)
class Shard:
    index: int  # K, from 1
    count: int  # N

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, names: list[str]) -> list[str]:
        """This shard's names: every N-th of the names in code-point order, starting at the K-th."""
        return [name for position, name in enumerate(sorted(names)) if position % self.count == self.index - 1]


def parse(text: str) -> Shard:
    """'K/N' -> Shard(K, N); anything else is a ShardError that says what is wanted."""
    match = _SPEC.fullmatch(str(text))
    if not match:
        raise ShardError(f"--shard wants K/N, two whole numbers such as 2/5 (shard 2 of 5), not {text!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1:
        raise ShardError(f"--shard {text}: N, the number of shards, must be at least 1")
    if index == 0:
        raise ShardError(f"--shard {text}: shards are numbered from 1 to N; with a 0-based index "
                         "(Kubernetes' JOB_COMPLETION_INDEX) add 1")
    if index > count:
        raise ShardError(f"--shard {text}: K must be between 1 and N={count}")
    return Shard(index, count)


def set_fingerprint(names: list[str]) -> str:
    """A short hash of all the submissions' names: shards of different folders do not merge."""
    return hashlib.sha256("\n".join(sorted(names)).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def tests_fingerprint(paths: list[Path]) -> str:
    """A short hash of the tests' files and the grader's code: shards graded by different versions do not merge.

    Relative paths and contents, so two clones of the same commit on different machines agree."""
    digest = hashlib.sha256()
    roots = [Path(p) for p in paths] + [Path(__file__).resolve().parent]
    for root in roots:
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
        for path in files:
            name = path.name if root.is_file() else path.relative_to(root).as_posix()
            digest.update(name.encode("utf-8", "surrogateescape") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def labs_key(labs: list[str] | None) -> str:
    """The graded labs as the shard row says them: 'all', or the names in the labs' order."""
    if not labs:
        return "all"
    order = list(LABS)
    return ",".join(sorted(set(labs), key=lambda lab: (order.index(lab) if lab in order else len(order), lab)))


def describe(shard: Shard, all_names: list[str], labs: list[str] | None, tests: str) -> dict:
    return {"shard": str(shard), "submissions": len(all_names), "set": set_fingerprint(all_names),
            "labs": labs_key(labs), "tests": tests}


def shard_row(meta: dict) -> dict:
    """The "(shard)" pseudo-row of a shard's CSV: empty cells, its note says which slice it is."""
    note = " ".join(f"{key}={meta[key]}" for key in ("shard", "submissions", "set", "labs", "tests"))
    return {"student": SHARD_ROW, "labs": {}, "total": "", "max": "", "failed": [], "flags": [], "note": note}


# --- merging -------------------------------------------------------------------------------------


@dataclass
class ShardCSV:
    path: Path
    shard: Shard
    meta: dict
    labs: list[str]  # its lab columns
    maxima: dict[str, float]
    rows: list[dict]  # student rows, as batch.grade() makes them (labs as numbers)


def _number(cell: str, where: str) -> float | int:
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        raise ShardError(f"{where}: {cell!r} is not a number") from None


def read(path: Path) -> ShardCSV:
    """One shard's CSV, checked for the shape batch --shard writes."""
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"no shard CSV at {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    tail = reports.CSV_TAIL
    if not lines or lines[0][:1] != ["student"] or lines[0][-len(tail):] != tail:
        raise ShardError(f"{path} is not a grades CSV (its header is not student,<labs>,{','.join(tail)})")
    header = lines[0]
    labs = header[1:-len(tail)]
    body = [dict(zip(header, line)) for line in lines[1:]]
    for number, row in enumerate(body, start=2):
        if len(lines[number - 1]) != len(header):
            raise ShardError(f"{path}, line {number}: {len(lines[number - 1])} cells, the header has {len(header)}")
    maxima: dict[str, float] = {}
    if body and body[0]["student"] == MAXIMUM_ROW:
        maxima = {lab: _number(body[0][lab], f"{path}, (maximum) row") for lab in labs}
        body = body[1:]
    if not body or body[0]["student"] != SHARD_ROW:
        raise ShardError(f"{path} is not a shard's CSV (no {SHARD_ROW} row): grade each shard with "
                         "batch --shard K/N")
    meta = dict(item.partition("=")[::2] for item in body[0]["note"].split())
    missing = {"shard", "submissions", "set", "labs", "tests"} - meta.keys()
    if missing:
        raise ShardError(f"{path}: its {SHARD_ROW} row lacks {', '.join(sorted(missing))}")
    try:
        shard = parse(meta["shard"])
        meta["submissions"] = int(meta["submissions"])
    except (ShardError, ValueError) as exc:
        raise ShardError(f"{path}: its {SHARD_ROW} row is damaged ({exc})") from None
    rows = []
    for row in body[1:]:
        where = f"{path}, {row['student']}"
        rows.append({"student": row["student"],
                     "labs": {lab: _number(row[lab], where) for lab in labs if row[lab] != ""},
                     "maxima": {}, "total": _number(row["total"], where), "max": _number(row["max"], where),
                     "failed": [row["failed"]] if row["failed"] else [],
                     "flags": [row["flags"]] if row["flags"] else [], "note": row["note"]})
    return ShardCSV(path, shard, meta, labs, maxima, rows)


def check_complete(shards: list[ShardCSV]) -> None:
    """Refuse shards that do not add up to one batch: other splits, sets, labs or tests, overlaps, gaps."""
    if not shards:
        raise ShardError("no shard CSVs to merge")
    first = shards[0]
    for other in shards[1:]:
        if other.shard.count != first.shard.count:
            raise ShardError(f"shards of different splits: {first.path} is {first.shard}, "
                             f"{other.path} is {other.shard}")
        if (other.meta["set"], other.meta["submissions"]) != (first.meta["set"], first.meta["submissions"]):
            raise ShardError(f"shards of different submission sets: {first.path} was cut from "
                             f"{first.meta['submissions']} submissions (set {first.meta['set']}), {other.path} from "
                             f"{other.meta['submissions']} (set {other.meta['set']}): grade every shard from "
                             "the same SUBMISSIONS folder")
        if other.meta["labs"] != first.meta["labs"]:
            raise ShardError(f"shards of different lab sets: {first.path} graded labs {first.meta['labs']}, "
                             f"{other.path} labs {other.meta['labs']}: grade every shard with the same --labs")
        if other.meta["tests"] != first.meta["tests"]:
            raise ShardError(f"shards graded by different tests or grader code: {first.path} (tests "
                             f"{first.meta['tests']}) and {other.path} (tests {other.meta['tests']}): grade every "
                             "shard with the same checkout of the course and the same --hidden-tests")
    seen: dict[int, Path] = {}
    for one in shards:
        if one.shard.index in seen:
            raise ShardError(f"overlapping shards: {seen[one.shard.index]} and {one.path} are both shard {one.shard}")
        seen[one.shard.index] = one.path
    gaps = [f"{k}/{first.shard.count}" for k in range(1, first.shard.count + 1) if k not in seen]
    if gaps:
        raise ShardError(f"missing shard(s) {', '.join(gaps)}: got {', '.join(f'{s.shard} ({s.path})' for s in shards)}")
    owner: dict[str, Path] = {}
    for one in shards:
        for row in one.rows:
            if row["student"] in owner:
                raise ShardError(f"overlapping shards: {row['student']} is in {owner[row['student']]} and {one.path}")
            owner[row["student"]] = one.path
    if len(owner) != first.meta["submissions"] or set_fingerprint(list(owner)) != first.meta["set"]:
        raise ShardError(f"the shards hold {len(owner)} students, not the {first.meta['submissions']} submissions "
                         f"they were cut from (set {first.meta['set']}): a shard's CSV was edited or cut short")


def merge(out: Path, shard_csvs: list[Path]) -> tuple[list[dict], list[Path]]:
    """Join complete shards into the CSV (and JSON) one unsharded batch writes.

    Returns the student rows and the shards' JSONs that were missing (then no JSON is written: a stale
    one beside OUT is removed rather than left to disagree with the CSV)."""
    from . import batch

    out = Path(out).resolve()
    if any(Path(path).resolve() == out for path in shard_csvs):
        raise ShardError(f"{out} is one of the shards: merge into another file")
    shards = [read(path) for path in shard_csvs]
    check_complete(shards)
    maxima: dict[str, float] = {}
    for one in shards:
        for lab, value in one.maxima.items():
            maxima[lab] = max(maxima.get(lab, 0), value)
    rows = sorted((row for one in shards for row in one.rows), key=lambda row: row["student"])
    columns = batch.finish(rows, maxima)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(reports.csv_text(rows, columns, maxima), encoding="utf-8")
    details = [Path(one.path).with_suffix(".json") for one in shards]
    missing = [path for path in details if not path.is_file()]
    if not missing:
        json_rows = sorted((row for path in details for row in json.loads(path.read_text(encoding="utf-8"))["rows"]),
                           key=lambda row: row["student"])
        batch.finish(json_rows, maxima)
        batch.write_details(out, columns, maxima, json_rows)
    else:
        out.with_suffix(".json").unlink(missing_ok=True)
    return rows, missing
