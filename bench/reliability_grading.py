"""The reference solutions get full marks, run after run: 20 runs at --jobs 1 and at --jobs 8,
with and without the course's servers on their default ports.

    .venv/bin/python bench/reliability_grading.py [--runs 20] [--jobs 1,8] [--default-ports both|on|off]

Each configuration grades a batch of `runs` copies of solutions/ (so
--jobs 1 is 20 consecutive runs, --jobs 8 is 20 runs 8 at a time) and
checks that every row has full marks, no flag and no note. "on" starts
the course's servers on the default ports first (as on an instructor's
laptop), holding /tmp/course-default-ports.lock while they run, with a
private LOCAL_SERVERS_HOME. Prints one table row per configuration and
the checks that failed; exits 1 if any run lost a point.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import batch  # noqa: E402

LOCK = "/tmp/course-default-ports.lock"


@contextlib.contextmanager
def default_port_servers(tmp: Path):
    """The course's servers on their default ports, as a student's laptop runs them."""
    from local_servers import control

    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        home = tmp / "home"
        previous = os.environ.get("LOCAL_SERVERS_HOME")
        os.environ["LOCAL_SERVERS_HOME"] = str(home)
        try:
            control.start(home)
            yield
        finally:
            control.stop(home)
            if previous is None:
                os.environ.pop("LOCAL_SERVERS_HOME", None)
            else:
                os.environ["LOCAL_SERVERS_HOME"] = previous


def run_config(runs: int, jobs: int, ports: bool) -> tuple[float, list[str]]:
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        tmp = Path(tmp)
        submissions = tmp / "submissions"
        for i in range(runs):
            shutil.copytree(ROOT / "solutions", submissions / f"run-{i + 1:02d}",
                            ignore=shutil.ignore_patterns("__pycache__", "exercises"))
        with default_port_servers(tmp) if ports else contextlib.nullcontext():
            started = time.monotonic()
            rows = batch.grade(submissions, tmp / "grades.csv", jobs=jobs)
            took = time.monotonic() - started
        problems = []
        for row in rows:
            if row["total"] != row["max"] or row["flags"] or row["note"]:
                problems.append(f"{row['student']}: {row['total']}/{row['max']} failed={row['failed']} "
                                f"flags={row['flags']} note={row['note']}")
                report = tmp / "grades-reports" / f"{row['student']}.json"
                if report.exists():
                    import json

                    for test in json.loads(report.read_text())["tests"]:
                        if test["outcome"] != "passed":
                            problems.append(f"    {test['nodeid']}: {test['message'][:300]}")
        return took, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--jobs", default="1,8")
    parser.add_argument("--default-ports", choices=("both", "on", "off"), default="both")
    args = parser.parse_args()
    ports = {"both": (False, True), "on": (True,), "off": (False,)}[args.default_ports]
    print("| jobs | course's servers on default ports | runs | full marks | took |\n|---|---|---|---|---|")
    failed = False
    for jobs in (int(j) for j in args.jobs.split(",")):
        for on in ports:
            took, problems = run_config(args.runs, jobs, on)
            full = args.runs - sum(1 for p in problems if not p.startswith("    "))
            print(f"| {jobs} | {'yes' if on else 'no'} | {args.runs} | {full} | {took:.0f} s |", flush=True)
            for line in problems:
                print("   ", line, file=sys.stderr)
            failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
