"""How long the batch grader takes for a class: 100 synthetic submissions of all six labs.

    .venv/bin/python bench/bench_grading.py [--submissions 100] [--jobs N] [--lab-timeout 10]

Submissions are made from solutions/ and labs/ (grader/synthetic.py) in a
fixed mix per 10: 5 fully solved, 1 partial, 1 untouched, 1 hanging (its
TCP server never returns: 8 checks stopped, at the time limit, then at 3 s), 1 crashing
(its TCP client ends the process), 1 failing to import or to compile. The
batch is graded exactly as `python -m grader batch` does it (sandbox,
isolation, servers per submission), then every row is checked against the
score its kind must get. Target (issue 14): 100 submissions in <= 2 minutes
on 2 cores. Also times check("ftp") on the solutions (target <= 1 s).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import batch, check, synthetic  # noqa: E402
from grader import run as runner  # noqa: E402

MIX = ["full", "hang", "partial", "full", "import_error", "full", "crash", "full", "starter", "full",
       "full", "hang", "partial", "full", "syntax_error", "full", "crash", "full", "starter", "full"]


class TreeCPU:
    """CPU seconds of this process and everything it starts, orphans included (Linux, root: a cgroup).

    os.times() counts only children that were waited for: a run's servers and
    the student's processes die with the run's PID namespace and are reaped
    outside it, so they would be missed. A cgroup of our own counts them all
    (cgroup v1 cpuacct, or v2 cpu.stat); elsewhere this falls back to os.times().
    """

    def __init__(self):
        self.group = self.previous = None
        self.kind = "os.times() children (servers killed with a namespace not counted)"
        for root, controller in (("/sys/fs/cgroup/cpuacct", "cpuacct"), ("/sys/fs/cgroup", "")):
            try:
                current = next(line.split(":", 2)[2].strip() for line in open("/proc/self/cgroup")
                               if line.split(":", 2)[1] == controller)
                group = Path(root + current.rstrip("/"), f"bench-grading-{os.getpid()}")
                group.mkdir()
            except (OSError, StopIteration, IndexError):
                continue
            try:
                (group / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                group.rmdir()
                continue
            self.group, self.previous = group, group.parent
            self.kind = "whole process tree (cgroup)"
            break

    def seconds(self) -> float:
        if self.group is None:
            times = os.times()
            return times.user + times.system + times.children_user + times.children_system
        if (self.group / "cpuacct.usage").exists():
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        stat = dict(line.split() for line in (self.group / "cpu.stat").read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6

    def close(self) -> None:
        if self.group is not None:
            (self.previous / "cgroup.procs").write_text(str(os.getpid()))
            for _ in range(50):  # the last runs' processes may still be exiting
                try:
                    self.group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def time_check(lab: str, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = check(lab, ROOT / "solutions")
        times.append(time.perf_counter() - started)
        assert result.passed, result
    return sorted(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=None, help="default: the batch's default (2 per core)")
    parser.add_argument("--lab-timeout", type=float, default=None)
    parser.add_argument("--check-repeats", type=int, default=5)
    args = parser.parse_args()
    jobs = args.jobs or batch.default_jobs()
    kinds = [MIX[i % len(MIX)] for i in range(args.submissions)]

    checks = time_check("ftp", args.check_repeats) if args.check_repeats else []
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        reference = runner.run([runner.lab_tests()], ROOT / "solutions", tmp / "ref.json", tmp / "ref.log")
        maxima = {name: lab["max"] for name, lab in reference.report["labs"].items()}
        points = {t["name"]: t["points"] for t in reference.report["tests"] if t["lab"] == "sockets"}
        synthetic.make_batch(tmp / "submissions", kinds, ROOT / "solutions", ROOT / "labs")
        meter = TreeCPU()
        started = time.monotonic()
        cpu = meter.seconds()
        rows = batch.grade(tmp / "submissions", tmp / "grades.csv", jobs=jobs, lab_timeout=args.lab_timeout)
        took = time.monotonic() - started
        time.sleep(0.5)  # processes killed with the last runs' namespaces finish exiting
        cpu_seconds = meter.seconds() - cpu
        meter.close()

    wrong = []
    for row in rows:
        kind = row["student"].split("-", 1)[1]
        expected = synthetic.expected_scores(kind, maxima, points)
        if {lab: row["labs"].get(lab) for lab in maxima} != expected or row["flags"]:
            wrong.append((row["student"], row["labs"], expected, row["flags"], row["note"]))
    seconds = sorted(row["seconds"] for row in rows)
    print("| Workload | Result | Target |\n|---|---|---|")
    print(f"| grade {len(rows)} submissions x 6 labs ({sum(maxima.values()):g} points, "
          f"{len(reference.report['tests'])} tests each; mix per 10: 5 full, 1 partial, 1 untouched, 1 hanging, "
          f"1 crashing, 1 import/syntax error), {jobs} jobs, {os.cpu_count()} cores | "
          f"{took:.0f} s ({took / len(rows):.2f} s per submission, {cpu_seconds:.0f} CPU-s; one submission's run: "
          f"p50 {seconds[len(seconds) // 2]:.1f} s, max {seconds[-1]:.1f} s) | <= 120 s |")
    print(f"  CPU-s: {meter.kind}; load average at the end {os.getloadavg()[0]:.1f}")
    print(f"| rows with the wrong score or a flag | {len(wrong)} of {len(rows)} | 0 |")
    if checks:
        print(f"| check(\"ftp\") on the solutions, {len(checks)} runs | min {checks[0]:.2f} s, "
              f"median {checks[len(checks) // 2]:.2f} s, max {checks[-1]:.2f} s | <= 1 s |")
    for student, got, expected, flags, note in wrong[:5]:
        print(f"  {student}: got {got}, expected {expected}; flags {flags}; {note}", file=sys.stderr)
    return 0 if not wrong and took <= 120 else 1


if __name__ == "__main__":
    sys.exit(main())
