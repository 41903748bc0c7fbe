"""Lab 1 (sockets): the timestamp servers and clients in 01_sockets/sockets_lab.py."""

from __future__ import annotations

import re
import socket
import time

import pytest

from grader.helpers import student_threads

pytestmark = pytest.mark.lab("sockets")

STAMP = re.compile(rb"^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\] (.*)$", re.S)


def stamped(reply: bytes, data: bytes) -> bool:
    match = STAMP.match(reply)
    if not match or match.group(2) != data:
        return False
    when = time.mktime(time.strptime(match.group(1).decode(), "%a %b %d %H:%M:%S %Y"))
    return abs(when - time.time()) < 60


def new_threads(student, before: dict) -> list[str]:
    """Threads started in the student's process since `before` (its code runs in a process of its own)."""
    return [name for ident, name in student_threads(student).items() if ident not in before]


@pytest.mark.points(1, hint="Put time.ctime() in square brackets, a space, then the data (all bytes).")
def test_timestamp_reply(student):
    """timestamp_reply() puts the current time.ctime() in brackets before the data."""
    reply = student.timestamp_reply(b"hello")
    assert stamped(reply, b"hello"), f"expected b'[<ctime>] hello', got {reply!r}"


@pytest.mark.points(2, hint="Answer every chunk a client sends with timestamp_reply(chunk), until recv() returns b''.")
def test_tcp_server_answers(student):
    """The TCP server answers each message of a client with its timestamped copy."""
    server = student.start_tcp_server("127.0.0.1", 0)
    try:
        with socket.create_connection(server.server_address, timeout=3) as sock:
            for data in (b"first", b"second"):
                sock.sendall(data)
                reply = sock.recv(4096)
                assert stamped(reply, data), f"sent {data!r}, got {reply!r}"
    finally:
        server.close()


@pytest.mark.points(3, hint="Serve each client in a thread of its own (socketserver.ThreadingTCPServer, "
                            "or one threading.Thread per accepted connection).")
def test_tcp_server_serves_clients_at_once(student):
    """Five clients connected at once are all answered, the last one first."""
    server = student.start_tcp_server("127.0.0.1", 0)
    clients = []
    try:
        for _ in range(5):
            clients.append(socket.create_connection(server.server_address, timeout=3))
        for number, sock in reversed(list(enumerate(clients))):
            data = f"client {number}".encode()
            sock.sendall(data)
            try:
                reply = sock.recv(4096)
            except socket.timeout:
                pytest.fail(f"client {number} got no answer while the other clients stayed connected")
            assert stamped(reply, data), f"client {number} sent {data!r}, got {reply!r}"
    finally:
        for sock in clients:
            sock.close()
        server.close()


@pytest.mark.points(3, hint="close(): shutdown() the server, shut down the clients' sockets, server_close(), "
                            "and join the serving thread.")
def test_tcp_server_closes_cleanly(student):
    """close() returns quickly with a client still connected, disconnects it, frees the port, leaves no thread."""
    before = student_threads(student)
    server = student.start_tcp_server("127.0.0.1", 0)
    address = server.server_address
    idle = socket.create_connection(address, timeout=3)
    try:
        idle.sendall(b"ping")
        assert stamped(idle.recv(4096), b"ping")
        started = time.monotonic()
        server.close()
        took = time.monotonic() - started
        assert took < 2.5, f"close() took {took:.1f} s with a client connected"
        try:
            assert idle.recv(4096) == b"", "a client still connected after close() got data instead of end of file"
        except (ConnectionResetError, socket.timeout) as exc:
            assert not isinstance(exc, socket.timeout), "a client still connected after close() was not disconnected"
        with pytest.raises(OSError):
            socket.create_connection(address, timeout=1).close()
        deadline = time.monotonic() + 2
        while new_threads(student, before) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = new_threads(student, before)
        assert not left, f"threads still running after close(): {left}"
    finally:
        idle.close()


@pytest.mark.points(2, hint="One socket.create_connection(); for each message sendall() then recv().")
def test_tcp_client(student, lab_servers):
    """tcp_client() talks to the course's timestamp server over one connection."""
    messages = [b"one", b"two", b"three"]
    replies = student.tcp_client(lab_servers.time.host, lab_servers.time.port, messages)
    assert len(replies) == 3, f"expected 3 replies, got {replies!r}"
    for data, reply in zip(messages, replies):
        assert stamped(reply, data), f"sent {data!r}, got {reply!r}"


@pytest.mark.points(1, hint="tcp_client() must raise (ConnectionRefusedError) when nothing listens.")
def test_tcp_client_refused(student, closed_port):
    """tcp_client() reports a refused connection with an exception instead of returning."""
    with pytest.raises(OSError):
        student.tcp_client("127.0.0.1", closed_port, [b"x"], timeout=2)


@pytest.mark.points(2, hint="A UDP server answers each datagram with sendto(reply, client_address).")
def test_udp_server(student):
    """The UDP server answers every datagram to its sender, and close() frees it."""
    server = student.start_udp_server("127.0.0.1", 0)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(3)
            for data in (b"alpha", b"beta"):
                sock.sendto(data, server.server_address)
                reply, _ = sock.recvfrom(4096)
                assert stamped(reply, data), f"sent {data!r}, got {reply!r}"
    finally:
        server.close()


@pytest.mark.points(2, hint="One SOCK_DGRAM socket with settimeout(); sendto() then recvfrom() per message.")
def test_udp_client(student, lab_servers):
    """udp_client() gets one timestamped reply per datagram from the course's server."""
    messages = [b"u1", b"u2"]
    replies = student.udp_client(lab_servers.time.host, lab_servers.time.udp_port, messages)
    assert [stamped(r, m) for r, m in zip(replies, messages)] == [True, True], f"got {replies!r}"
    assert len(replies) == 2
