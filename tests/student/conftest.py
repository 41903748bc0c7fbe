"""tests/student: the student's path (course.py, the workspace, JupyterLab in a browser)."""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Mark a test whose call failed, so its fixtures can save evidence (the browser's screenshot)."""
    outcome = yield
    if call.when == "call" and outcome.get_result().failed:
        item.failed_call = True
