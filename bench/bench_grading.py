"""How long the batch grader takes for a class: 100 synthetic submissions of all six labs.

    .venv/bin/python bench/bench_grading.py [--submissions 100] [--jobs N] [--lab-timeout 10]

Submissions are made from solutions/ and labs/ (grader/synthetic.py)
in a fixed mix: 6 in 10 fully solved, the others partial, untouched, failing
to import or not compiling (no hanging ones: they cost their timeouts, which
says nothing about the grader's speed). The batch is graded exactly as
`python -m grader batch` does it, then every row is checked
against the score its kind must get. Target: under 5 minutes on 2 cores.
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

from grader import batch, synthetic  # noqa: E402
from grader import run as runner  # noqa: E402

MIX = ["full", "full", "partial", "full", "import_error", "full", "syntax_error", "full", "starter", "full"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=None, help="default: the number of cores")
    parser.add_argument("--lab-timeout", type=float, default=None)
    args = parser.parse_args()
    jobs = args.jobs or os.cpu_count() or 1
    kinds = [MIX[i % len(MIX)] for i in range(args.submissions)]

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        reference = runner.run([runner.lab_tests()], ROOT / "solutions", tmp / "ref.json", tmp / "ref.log")
        maxima = {name: lab["max"] for name, lab in reference.report["labs"].items()}
        synthetic.make_batch(tmp / "submissions", kinds, ROOT / "solutions", ROOT / "labs")
        started = time.monotonic()
        rows = batch.grade(tmp / "submissions", tmp / "grades.csv", jobs=jobs, lab_timeout=args.lab_timeout)
        took = time.monotonic() - started

    wrong = []
    for row in rows:
        kind = row["student"].split("-", 1)[1]
        expected = synthetic.expected_scores(kind, maxima)
        if {lab: row["labs"].get(lab) for lab in maxima} != expected:
            wrong.append((row["student"], row["labs"], expected))
    seconds = sorted(row["seconds"] for row in rows)
    print(f"| Workload | Result | Target |\n|---|---|---|")
    print(f"| grade {len(rows)} submissions x 6 labs ({sum(maxima.values()):g} points, "
          f"{sum(len(t) for t in [reference.report['tests']])} tests each), {jobs} jobs | "
          f"{took:.0f} s ({took / len(rows):.2f} s per submission; one submission's run: "
          f"p50 {seconds[len(seconds) // 2]:.1f} s, max {seconds[-1]:.1f} s) | < 300 s |")
    print(f"| rows with the wrong score | {len(wrong)} of {len(rows)} | 0 |")
    for student, got, expected in wrong[:5]:
        print(f"  {student}: got {got}, expected {expected}", file=sys.stderr)
    return 0 if not wrong and took < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
