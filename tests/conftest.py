"""The grading plugin (points, hints, per-test timeouts, grade reports) for tests/labs/.

It is inert for tests without a points marker, so the other tests are unaffected.
"""

from pathlib import Path

pytest_plugins = ["grader.plugin"]

LAB_TESTS = Path(__file__).parent / "labs"
EXERCISE_CHECKS = Path(__file__).parent / "exercises" / "checks"  # check("ex02"): graded like the labs


def pytest_ignore_collect(collection_path, config):
    """The whole suite leaves tests/labs/ (and the exercises' checks) out: they grade labs/, whose
    starters fail by design.

    They run when named (pytest tests/labs, or a file in it) or given --labs-dir;
    tests/grading/ proves them honest on solutions/ and labs/ in every full run.
    """
    graded = Path(collection_path)
    if graded not in (LAB_TESTS, EXERCISE_CHECKS) or config.getoption("--labs-dir"):
        return None
    named = any(graded == p or graded in p.parents
                for p in (Path(arg.split("::")[0]).resolve() for arg in config.args))
    return None if named else True
