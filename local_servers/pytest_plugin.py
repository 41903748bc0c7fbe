"""pytest fixtures: isolated servers for tests and graders.

Installed with the package (entry point `pytest11`), so any test can ask for:

- ``servers``: one set of servers for the whole session (per xdist worker),
  for tests that only read the seeded data;
- ``fresh_servers``: a new set with freshly seeded data, for one test that
  changes things (uploads, deletes, sends mail);
- ``servers_factory``: call it to start a set with options, e.g.
  ``servers_factory(names=["ftp"], options={"ftp_idle_timeout": 2})``.

Each set runs in its own process with its own temporary state directory and
ports chosen by the OS, so tests never meet a student's running servers,
nor each other under pytest-xdist.
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
        state_dir = self._tmp.mktemp("local-servers")
        handle = control.start(state_dir, ephemeral=True, names=names, options=options, **kwargs)
        self._started.append(state_dir)
        return handle

    def stop_all(self) -> None:
        while self._started:
            control.stop(self._started.pop())


@pytest.fixture(scope="session")
def servers(tmp_path_factory) -> Handle:
    """Shared servers with seeded data: do not change their data in a test."""
    factory = ServersFactory(tmp_path_factory)
    yield factory()
    factory.stop_all()


@pytest.fixture
def servers_factory(tmp_path_factory):
    """Start server sets with options; all are stopped when the test ends."""
    factory = ServersFactory(tmp_path_factory)
    yield factory
    factory.stop_all()


@pytest.fixture
def fresh_servers(servers_factory) -> Handle:
    """Servers with freshly seeded data, for this test alone."""
    return servers_factory()
