"""The sockets chapter's exercise solutions, run against the course's servers.

Some tests use a server of their own that sends its replies one byte at a
time: TCP may deliver any message in pieces, and a solution that takes one
recv() for one message (or decodes each piece on its own) must fail them.
"""

import re
import socket
import struct
import threading

import pytest


def serve_once(handle):
    """A one-client server on a free port, running handle(conn); returns (address, thread)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run():
        with listener:
            listener.settimeout(10)
            conn, _ = listener.accept()
            with conn:
                handle(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname(), thread


def trickle(conn, data):
    """Send data one byte at a time, so the receiver sees it in as many pieces as possible."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])


def test_stamp_lines_one_reply_per_line(servers, solution):
    replies = solution.stamp_lines(servers.time.address, ["alpha", "beta", "γ"])
    assert len(replies) == 3
    for reply, line in zip(replies, ["alpha", "beta", "γ"]):
        assert re.fullmatch(r"\[.+ \d{4}\] " + line, reply)


def test_stamp_lines_reads_replies_that_arrive_in_pieces(solution):
    """Failed with the first solution: one recv(1024) per reply, each piece decoded on its own."""
    def stamp_slowly(conn):
        with conn.makefile("rb") as lines:
            for line in lines:
                trickle(conn, b"[now] " + line)

    address, thread = serve_once(stamp_slowly)
    assert solution.stamp_lines(address, ["héllo", "wörld"]) == ["[now] héllo", "[now] wörld"]
    thread.join(timeout=5)


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


def test_messages_survive_a_byte_stream(solution):
    left, right = socket.socketpair()
    with left, right:
        for payload in (b"first", b"", "ü".encode() * 1000):
            solution.send_message(left, payload)
        assert [solution.recv_message(right) for _ in range(3)] == [b"first", b"", "ü".encode() * 1000]


def test_recv_message_reads_a_trickled_message(solution):
    address, thread = serve_once(lambda conn: trickle(conn, struct.pack("!I", 11) + b"hello world"))
    with socket.create_connection(address, timeout=5) as conn:
        assert solution.recv_message(conn) == b"hello world"
    thread.join(timeout=5)


def test_recv_message_refuses_a_truncated_or_oversized_message(solution):
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack("!I", 10) + b"short")
        left.shutdown(socket.SHUT_WR)
        with pytest.raises(EOFError):
            solution.recv_message(right)
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack("!I", 2_000_000_000))
        with pytest.raises(ValueError):
            solution.recv_message(right)  # refused from the prefix alone, before any allocation


def test_echo_all_returns_every_byte(servers, solution):
    data = bytes(range(256)) * 4096  # 1 MiB
    assert solution.echo_all(servers.echo.address, data) == data


def test_chat_stops_at_bye(servers, solution):
    assert solution.chat(servers.echo.address, ["hello", "ça va ?", "BYE", "never sent"]) == ["hello", "ça va ?"]


def test_chat_reads_answers_that_arrive_in_pieces(solution):
    heard = []

    def answer_slowly(conn):
        with conn.makefile("rb") as lines:
            for line in lines:
                heard.append(line)
                trickle(conn, "好的\n".encode("utf-8"))

    address, thread = serve_once(answer_slowly)
    assert solution.chat(address, ["one", "two", "bye"]) == ["好的", "好的"]
    thread.join(timeout=5)
    assert heard == [b"one\n", b"two\n"]


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_resolve_numeric_addresses(solution):
    assert solution.resolve("127.0.0.1", 10021) == [("AF_INET", ("127.0.0.1", 10021))]
    if ipv6_loopback_available():
        assert solution.resolve("::1", 10021) == [("AF_INET6", ("::1", 10021))]


def test_resolve_localhost_like_create_connection(solution):
    got = solution.resolve("localhost", 10021)
    assert ("AF_INET", ("127.0.0.1", 10021)) in got or ("AF_INET6", ("::1", 10021)) in got
    assert len(got) == len(set(got))
    expected = [(family.name, tuple(sockaddr[:2]))
                for family, _, _, _, sockaddr in socket.getaddrinfo("localhost", 10021, type=socket.SOCK_STREAM)]
    assert got == list(dict.fromkeys(expected))


def test_upper_server_serves_many_clients_in_one_thread(solution):
    threads_before = threading.active_count()
    server = solution.UpperServer()
    try:
        assert threading.active_count() <= threads_before + 1
        clients = [socket.create_connection(server.address, timeout=10) for _ in range(30)]
        assert threading.active_count() <= threads_before + 1  # no thread per client
        for n, conn in enumerate(clients):  # every client's line in two pieces, interleaved
            conn.sendall(f"client {n} says ".encode())
        for n, conn in enumerate(clients):
            conn.sendall("héllo\nand bye\n".encode())
        for n, conn in enumerate(clients):
            with conn, conn.makefile("rb") as replies:
                assert replies.readline() == f"CLIENT {n} SAYS HÉLLO\n".encode()
                assert replies.readline() == b"AND BYE\n"
    finally:
        server.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(server.address, timeout=2)
    assert threading.active_count() <= threads_before


def test_upper_server_keeps_reading_while_a_client_does_not(solution):
    """A client that sends a lot and reads late must not stall the others (replies are queued)."""
    server = solution.UpperServer()
    try:
        greedy = socket.socket()
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # a small window: replies back up at once
        greedy.settimeout(10)
        greedy.connect(server.address)
        greedy.sendall((b"x" * 1000 + b"\n") * 8000)  # 8 MB of replies it does not read yet: more than buffers hold
        with socket.create_connection(server.address, timeout=10) as other, other.makefile("rb") as replies:
            other.sendall(b"still there?\n")
            assert replies.readline() == b"STILL THERE?\n"
        with greedy, greedy.makefile("rb") as replies:
            assert [replies.readline() for _ in range(8000)] == [b"X" * 1000 + b"\n"] * 8000
    finally:
        server.close()
