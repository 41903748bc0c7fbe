"""The sockets chapter's servers: the timestamp server and echo, over TCP and UDP."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

STAMP = re.compile(rb"^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\] (.*)$", re.S)


def test_tcp_timestamp_reply_is_ctime_then_data(servers):
    with socket.create_connection(servers.time.address, timeout=5) as sock:
        sock.sendall(b"hello")
        match = STAMP.match(sock.recv(1024))
    assert match, "the reply is not '[<ctime>] <data>'"
    assert match.group(2) == b"hello"
    stamped = time.mktime(time.strptime(match.group(1).decode(), "%a %b %d %H:%M:%S %Y"))
    assert abs(stamped - time.time()) < 5


def test_tcp_timestamp_answers_each_message_on_one_connection(servers):
    with socket.create_connection(servers.time.address, timeout=5) as sock:
        for word in (b"one", b"two", b"three"):
            sock.sendall(word)
            match = STAMP.match(sock.recv(1024))
            assert match and match.group(2) == word


def test_udp_timestamp(servers):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(b"datagram", (servers.time.host, servers.time.udp_port))
        data, address = sock.recvfrom(1024)
    match = STAMP.match(data)
    assert match and match.group(2) == b"datagram"
    assert address[1] == servers.time.udp_port


@pytest.mark.parametrize("payload", [b"x", bytes(range(256)) * 64])
def test_tcp_echo_returns_every_byte(servers, payload):
    with socket.create_connection(servers.echo.address, timeout=5) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            assert chunk, "the echo server closed early"
            received += chunk
    assert received == payload


def test_udp_echo(servers):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(b"\x00binary\xff", (servers.echo.host, servers.echo.udp_port))
        assert sock.recv(1024) == b"\x00binary\xff"


def test_many_clients_at_once(servers):
    errors = []

    def client(n: int) -> None:
        try:
            with socket.create_connection(servers.echo.address, timeout=10) as sock:
                message = f"client {n}".encode()
                sock.sendall(message)
                if sock.recv(64) != message:
                    errors.append(n)
        except OSError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []


def test_abrupt_disconnect_does_not_disturb_the_server(servers):
    sock = socket.create_connection(servers.time.address, timeout=5)
    sock.sendall(b"half")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST instead of FIN
    with socket.create_connection(servers.time.address, timeout=5) as other:
        other.sendall(b"still there?")
        assert STAMP.match(other.recv(1024))


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc")
def test_echo_client_that_never_reads_cannot_fill_the_servers_memory(servers_factory):
    handle = servers_factory(names=["echo"])
    before = rss_kib(handle.pid)
    sent = 0
    with socket.create_connection(handle.echo.address, timeout=5) as sock:
        sock.setblocking(False)
        chunk = bytes(1024 * 1024)
        deadline, progress = time.monotonic() + 10, time.monotonic()
        while sent < 256 * 1024 * 1024 and time.monotonic() < deadline and time.monotonic() - progress < 1:
            try:
                sent += sock.send(chunk)
                progress = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)  # the server stopped reading: our own buffers are full (stop after 1 s)
        grown = rss_kib(handle.pid) - before
    assert sent < 256 * 1024 * 1024, "the server read 256 MiB that nobody read back"
    assert grown < 64 * 1024, f"the server grew by {grown} KiB"
    with socket.create_connection(handle.echo.address, timeout=5) as sock:  # and still answers
        sock.sendall(b"ping")
        assert sock.recv(16) == b"ping"


def test_tcp_connections_beyond_the_limit_are_closed(servers_factory):
    handle = servers_factory(names=["echo"], options={"echo_max_per_address": 2})
    held = [socket.create_connection(handle.echo.address, timeout=5) for _ in range(2)]
    for sock in held:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"  # admitted
    with socket.create_connection(handle.echo.address, timeout=5) as third:
        try:
            assert third.recv(1) == b""  # closed at once
        except ConnectionResetError:
            pass
    held.pop().close()
    deadline = time.monotonic() + 10
    while True:
        with socket.create_connection(handle.echo.address, timeout=5) as sock:
            sock.sendall(b"y")
            try:
                answer = sock.recv(1)
            except ConnectionResetError:
                answer = b""
        if answer == b"y" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer == b"y"
    held[0].close()
