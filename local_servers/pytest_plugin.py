"""pytest fixtures: isolated servers for tests and graders (installed with the package: entry point `pytest11`).

``servers`` (one set per session and xdist worker), ``fresh_servers`` (one test's own) and ``servers_factory``
(sets with options). Each set runs in its own process with its own temporary state directory and ports chosen
by the OS, so tests never meet a student's running servers, nor each other under pytest-xdist.
"""

from __future__ import annotations

import pytest

from . import control
from .handle import Handle


class ServersFactory:
    """Starts isolated server sets and stops every one of them at teardown."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self._tmp = tmp_path_factory
        self._started: list = []

    def __call__(self, names: list[str] | None = None, options: dict | None = None, **kwargs) -> Handle:
        self._started.append(self._tmp.mktemp("local-servers"))  # before the start: a half-started set stops too
        return control.start(self._started[-1], ephemeral=True, names=names, options=options, **kwargs)

    def stop_all(self) -> None:
        while self._started:
            control.stop(self._started.pop())


@pytest.fixture(scope="session")
def servers(tmp_path_factory) -> Handle:
    """One set for the whole session, for tests that only read the seeded data: do not change it in a test."""
    factory = ServersFactory(tmp_path_factory)
    yield factory()
    factory.stop_all()


@pytest.fixture
def servers_factory(tmp_path_factory):
    """Start sets with options, e.g. ``servers_factory(names=["ftp"], options={"ftp_idle_timeout": 2})``; all stop
    when the test ends."""
    factory = ServersFactory(tmp_path_factory)
    yield factory
    factory.stop_all()


@pytest.fixture
def fresh_servers(servers_factory) -> Handle:
    """Servers with freshly seeded data, for one test that changes things (uploads, deletes, sends mail)."""
    return servers_factory()
