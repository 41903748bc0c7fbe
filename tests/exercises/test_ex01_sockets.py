"""The sockets chapter's exercise solutions, run against the course's servers."""

import re
import socket

import pytest


def test_stamp_lines_one_reply_per_line(servers, solution):
    replies = solution.stamp_lines(servers.time.address, ["alpha", "beta", "γ"])
    assert len(replies) == 3
    for reply, line in zip(replies, ["alpha", "beta", "γ"]):
        assert re.fullmatch(r"\[.+ \d{4}\] " + line, reply)


def test_udp_ask_gets_the_echo(servers, solution):
    assert solution.udp_ask((servers.echo.host, servers.echo.udp_port), b"ping") == b"ping"


def test_udp_ask_gives_up_after_retries(solution):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        with pytest.raises(TimeoutError):
            solution.udp_ask(silent.getsockname(), b"anyone?", timeout=0.1, retries=2)
        assert silent.recv(64) == b"anyone?"  # it really sent


def test_port_is_open(servers, solution):
    assert solution.port_is_open(*servers.ftp.address) is True
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert solution.port_is_open("127.0.0.1", free) is False
