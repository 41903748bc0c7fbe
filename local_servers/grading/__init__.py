"""Grading the course's labs: a pytest plugin, check() for notebooks, and a batch grader.

    from local_servers.grading import check
    check("ftp")                 # in a notebook: a table of passed and failed checks, with hints

    python -m local_servers.grading batch SUBMISSIONS --out grades.csv [--hidden-tests DIR] [--jobs N]
    python -m local_servers.grading check ftp [--labs-dir PATH]

See labs/README.md and docs/decisions/0003-grading.md.
"""

from .labs import LABS


def check(lab, labs_dir=None, **kwargs):
    """Run one lab's checks on your module (see check.check)."""
    from .check import check as _check

    return _check(lab, labs_dir, **kwargs)


__all__ = ["LABS", "check"]
