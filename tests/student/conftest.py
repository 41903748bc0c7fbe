"""tests/student: the student's path (course.py, the workspace, JupyterLab in a browser)."""

import shutil

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Mark a test whose call failed, so its fixtures can save evidence (the browser's screenshot)."""
    outcome = yield
    if call.when == "call" and outcome.get_result().failed:
        item.failed_call = True


def pytest_sessionfinish(session):
    """Remove the sandboxes' HOMEs (made outside pytest's tmp_path, whose paths are too long for sockets)."""
    import sandbox

    for folder in sandbox.MADE:
        shutil.rmtree(folder, ignore_errors=True)
