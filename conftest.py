"""Set-up shared by the whole test suite.

Every test run gets its own state directory for the local servers
(LOCAL_SERVERS_HOME), made here before any test or notebook kernel starts,
so nothing a test does can reach a student's own running servers or data.

The notebooks call local_servers.ensure_running() like a student would, so
they run on the course's fixed default ports (their outputs show those
ports). If another program, such as your own servers, holds one of those
ports, the notebook tests are skipped with a message saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

_OWN_HOME = "_LOCAL_SERVERS_TEST_HOME"  # marks a home this run made (xdist workers inherit it)

#: A student's own copies (course.py start) and test artifacts are no part of the suite.
collect_ignore = ["workspace", "artifacts"]


def course_command(words: str) -> str:
    """A course.py command as a student types it in the course's folder."""
    return f"{'py' if os.name == 'nt' else 'python3'} course.py {words}"


def pytest_configure(config):
    if not any(char in config.option.reportchars for char in "saAN"):
        config.option.reportchars += "s"  # a skipped test says why, in one summary line per reason
    if os.environ.get(_OWN_HOME) and os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a worker: share the home its controller made
    home = tempfile.mkdtemp(prefix="local-servers-tests-")
    os.environ["LOCAL_SERVERS_HOME"] = home
    os.environ[_OWN_HOME] = home
    config._local_servers_home = home


def pytest_unconfigure(config):
    home = getattr(config, "_local_servers_home", None)
    if home:
        from local_servers import control

        control.stop(Path(home))
        shutil.rmtree(home, ignore_errors=True)


def _taken_default_ports() -> list[str]:
    from local_servers import config as servers_config

    if os.environ.get("LOCAL_SERVERS_PORTS"):
        return []
    taken = []
    for name, port in servers_config.DEFAULT_PORTS.items():
        with socket.socket() as sock:
            if sock.connect_ex((servers_config.DEFAULT_HOST, port)) == 0:
                taken.append(f"{name}:{port}")
    return taken


def pytest_collection_modifyitems(config, items):
    notebook_items = [item for item in items if str(item.fspath).endswith(".ipynb")]
    if not notebook_items:
        return
    from local_servers import control

    if control.find(Path(os.environ["LOCAL_SERVERS_HOME"])) is not None:
        return  # our own servers (started by another worker of this run)
    taken = _taken_default_ports()
    if taken:
        skip = pytest.mark.skip(reason=(
            f"the notebooks need the course's default ports, and {', '.join(taken)} are in use "
            f"(your own servers? stop them with `{course_command('stop')}`)"))
        for item in notebook_items:
            item.add_marker(skip)
