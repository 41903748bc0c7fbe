"""Grading the course's labs: a pytest plugin, check() for notebooks, and a batch grader.

    from grader import check
    check("ftp")                 # in a notebook: a table of passed and failed checks, with hints

    python -m grader batch SUBMISSIONS --out grades.csv [--hidden-tests DIR] [--jobs N] [--shard K/N]
    python -m grader merge grades.csv grades-1.csv grades-2.csv ...   # the shards' CSVs, as one batch's
    python -m grader check ftp [--labs-dir PATH]

See labs/README.md and docs/decisions/0003-grading.md.
"""

from .labs import LABS


def check(lab, labs_dir=None, **kwargs):
    """Run one lab's checks on your module (see check.check)."""
    from .check import check as _check

    return _check(lab, labs_dir, **kwargs)


__all__ = ["LABS", "check"]
