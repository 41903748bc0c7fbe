"""Port blocks (local_servers/ports.py, decision 0008): a user whose well-known ports are taken gets a
block of their own, keeps it across restarts, and explicit ports still win.

The blocks tried are narrowed (monkeypatched candidates) to blocks that are free now, so these tests
never take the course's default ports that notebooks on this machine may be using.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from local_servers import config, control
from local_servers import ports as port_blocks

QUICK = ["echo", "time"]


def free_blocks(count: int) -> list[int]:
    found = [b for b in reversed(port_blocks.BLOCKS) if port_blocks.all_bind("127.0.0.1", port_blocks.block_ports(b))]
    if len(found) < count:
        pytest.skip(f"fewer than {count} port blocks are free on this machine")
    return found[:count]


@pytest.fixture
def blocks(monkeypatch, tmp_path):
    chosen = free_blocks(2)
    monkeypatch.setattr(port_blocks, "candidates", lambda uid=None: list(chosen))
    monkeypatch.setattr(port_blocks, "claims_dir", lambda: tmp_path / "claims")
    monkeypatch.delenv(config.PORTS_ENV, raising=False)
    return chosen


def test_block_ports_keep_the_standard_port_in_the_last_digits():
    assert port_blocks.block_ports(0) == config.DEFAULT_PORTS
    assert port_blocks.block_ports(3)["ftp"] == 13021 and port_blocks.block_ports(3)["smtp"] == 13025
    assert port_blocks.block_of(port_blocks.block_ports(7)) == 7
    assert port_blocks.block_of({**port_blocks.block_ports(7), "ftp": 2121}) is None
    assert port_blocks.block_of({"echo": 17007, "time": 17013}) == 7  # the services that run (--only)
    assert port_blocks.block_of({"echo": 17007, "time": 18013}) is None
    assert max(port_blocks.block_ports(max(port_blocks.BLOCKS)).values()) <= 65535


def test_candidates_start_at_zero_and_differ_by_uid():
    first, second = port_blocks.candidates(1000), port_blocks.candidates(1001)
    assert first[0] == second[0] == 0
    assert sorted(first) == sorted(second) == [0, *port_blocks.BLOCKS]
    assert first[1] != second[1]


def test_a_taken_port_moves_the_user_to_the_next_block_and_the_block_stays(blocks, tmp_path):
    first, second = blocks
    home = tmp_path / "home"
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port_blocks.block_ports(first)["nntps"]))  # one port of the first block
    blocker.listen()
    try:
        handle = control.start(home, names=QUICK)
        assert handle.echo.port == port_blocks.block_ports(second)["echo"]
        remembered = json.loads((home / port_blocks.REMEMBERED).read_text())
        assert remembered["block"] == second
        assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
        assert port_blocks.owner(second) == os.getuid()
        control.stop(home)
    finally:
        blocker.close()
    try:  # the first block is free again, but the user keeps the block they had
        again = control.start(home, names=QUICK)
        assert again.echo.port == port_blocks.block_ports(second)["echo"]
        # what `course.py status` prints under the table (it runs this module)
        line = subprocess.run([sys.executable, "-m", "local_servers.ports"], capture_output=True, text=True,
                              env={**os.environ, config.HOME_ENV: str(home)})
        assert line.returncode == 0, line.stderr
        line = line.stdout
        assert line.startswith(f"Port block {second}: ") and str(port_blocks.block_ports(second)["ftp"]) in line
    finally:
        control.stop(home)


def test_another_users_claim_is_passed_over(blocks, tmp_path):
    first, second = blocks
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / f"block-{first:02d}").write_text(f"{os.getuid() + 1}\n")
    home = tmp_path / "home"
    try:
        handle = control.start(home, names=QUICK)
        assert handle.echo.port == port_blocks.block_ports(second)["echo"]
    finally:
        control.stop(home)


def test_explicit_ports_win_over_blocks(blocks, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv(config.PORTS_ENV, ",".join(f"{name}=0" for name in config.DEFAULT_PORTS))
    try:
        handle = control.start(home, names=QUICK)
        assert handle.echo.port not in {port_blocks.block_ports(b)["echo"] for b in blocks}
        assert not (home / port_blocks.REMEMBERED).exists()
    finally:
        control.stop(home)


def test_describe_names_the_block():
    assert "10021" in port_blocks.describe(port_blocks.block_ports(0))
    line = port_blocks.describe(port_blocks.block_ports(4))
    assert "Port block 4" in line and "14021" in line
    assert "no block" in port_blocks.describe({"ftp": 2121})


def test_a_remembered_block_is_claimed_again_and_yields_to_another_users_claim(blocks, tmp_path):
    first, second = blocks
    home = tmp_path / "home"
    try:
        assert control.start(home, names=QUICK).echo.port == port_blocks.block_ports(first)["echo"]
    finally:
        control.stop(home)
    claim = tmp_path / "claims" / f"block-{first:02d}"
    claim.unlink()  # /tmp was cleaned
    try:
        assert control.start(home, names=QUICK).echo.port == port_blocks.block_ports(first)["echo"]
        assert claim.read_text().strip() == str(os.getuid())  # claimed again
    finally:
        control.stop(home)
    claim.write_text(f"{os.getuid() + 1}\n")  # meanwhile another user was given the block
    try:
        assert control.start(home, names=QUICK).echo.port == port_blocks.block_ports(second)["echo"]
    finally:
        control.stop(home)


def test_a_lost_race_moves_on_to_the_next_block(blocks, tmp_path, monkeypatch):
    """Another user's server binds the block between our check and our bind: the start still succeeds."""
    first, second = blocks
    home = tmp_path / "home"
    looked_free = port_blocks.all_bind
    monkeypatch.setattr(port_blocks, "all_bind",
                        lambda host, ports: True if ports == port_blocks.block_ports(first) else looked_free(host, ports))
    winner = socket.socket()
    winner.bind(("127.0.0.1", port_blocks.block_ports(first)["echo"]))
    winner.listen()
    try:
        handle = control.start(home, names=QUICK)
        assert handle.echo.port == port_blocks.block_ports(second)["echo"]
        assert json.loads((home / port_blocks.REMEMBERED).read_text())["block"] == second
    finally:
        winner.close()
        control.stop(home)


def test_a_claim_that_is_no_regular_file_is_nobodys(blocks, tmp_path):
    first, _ = blocks
    claims = tmp_path / "claims"
    claims.mkdir()
    os.mkfifo(claims / f"block-{first:02d}")  # would block a plain open() for reading
    assert port_blocks.owner(first) is None
    (claims / "block-02").write_bytes(b"7" * 10_000_000)
    assert port_blocks.owner(2) == int("7" * 32)  # only the first bytes are read: no uid, nobody's block
