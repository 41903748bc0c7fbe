"""check("ex01"): the exercises of chapter 1 (sockets), graded like a lab.

The student's answers are exercises/ex01_sockets.py in their labs folder
(labs/exercises/ holds the starter, solutions/exercises/ the reference).
Each function runs in the student's process against this run's time and
echo servers, or against a one-client server of this test's own that sends
its replies one byte at a time: TCP may deliver any message in pieces, and
an answer that takes one recv() for one message must fail. The framing
functions get a socket made in the student's process (through its module's
`socket`), connected to this test's side.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time

import pytest

from grader.helpers import student_threads

pytestmark = pytest.mark.lab("ex01")


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


def trickle(conn, data, pause: float = 0.0):
    """Send data one byte at a time (pause seconds apart), so the receiver sees it in many pieces."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])
        if pause:
            time.sleep(pause)


def connected_pair(student):
    """(a socket in the student's process, this side's socket), connected over TCP."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        theirs = student.socket.create_connection(listener.getsockname(), timeout=10)
        ours, _ = listener.accept()
    ours.settimeout(10)
    return theirs, ours


@pytest.mark.points(1, hint="One connection: sendall each line with its '\\n', and read each reply up to its "
                            "'\\n' (makefile('rb').readline()) (chapter 1a, 'Delimiters: makefile() and "
                            "readline()').")
def test_stamp_lines(student, lab_servers):
    """stamp_lines() gets one stamped reply per line from the time server."""
    lines = ["alpha", "beta", "γ"]
    replies = student.stamp_lines(lab_servers.time.address, lines)
    assert isinstance(replies, list) and len(replies) == 3, f"stamp_lines() returned {replies!r}"
    for reply, line in zip(replies, lines):
        assert re.fullmatch(r"\[.+ \d{4}\] " + line, reply), f"{reply!r} is not {line!r} stamped"


@pytest.mark.points(1, hint="A reply may arrive a byte at a time: read whole lines, then decode them, never "
                            "one recv() per reply (chapter 1a, 'TCP is a byte stream, not a series of messages' "
                            "and 'Text across pieces: incremental decoding').")
def test_stamp_lines_in_pieces(student):
    """stamp_lines() reads replies (with UTF-8) that arrive one byte at a time."""
    def stamp_slowly(conn):
        with conn.makefile("rb") as lines:
            for line in lines:
                trickle(conn, b"[now] " + line)

    address, thread = serve_once(stamp_slowly)
    got = student.stamp_lines(address, ["héllo", "wörld"])
    thread.join(timeout=5)
    assert got == ["[now] héllo", "[now] wörld"], f"stamp_lines() returned {got!r}"


@pytest.mark.points(1, hint="settimeout, then sendto and recvfrom in a loop: a TimeoutError means send again; "
                            "after the last try, raise TimeoutError (chapter 1a, 'UDP: datagrams, no "
                            "connection').")
def test_udp_ask(student, lab_servers):
    """udp_ask() gets the echo server's answer, and gives up with TimeoutError on a silent port."""
    got = student.udp_ask((lab_servers.echo.host, lab_servers.echo.udp_port), b"ping")
    assert got == b"ping", f"the echo server answers b'ping'; udp_ask() returned {got!r}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        silent.settimeout(5)
        with pytest.raises(TimeoutError):
            student.udp_ask(silent.getsockname(), b"anyone?", timeout=0.1, retries=2)
        assert silent.recv(64) == b"anyone?", "udp_ask() did not send the datagram"


@pytest.mark.points(1, hint="connect_ex returns 0 when the connection is accepted; catch OSError for the rest "
                            "(chapter 1a, 'The errors a client meets').")
def test_port_is_open(student, lab_servers):
    """port_is_open() is True for a server's port and False for a free one."""
    assert student.port_is_open(*lab_servers.time.address) is True, "the time server's port is open"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert student.port_is_open("127.0.0.1", free) is False, f"nothing listens on port {free}"


@pytest.mark.points(2, hint="A 4-byte length struct.pack('!I', len(payload)) before the bytes; read exactly 4 "
                            "bytes, then exactly that many, looping on recv until they are all there (chapter 1a, "
                            "'Length prefixes: recv_into() and an exact read').")
def test_messages(student):
    """send_message() frames with a 4-byte big-endian length; recv_message() reads such messages, trickled too."""
    theirs, ours = connected_pair(student)
    try:
        payloads = (b"first", b"", "ü".encode() * 1000)
        for payload in payloads:
            student.send_message(theirs, payload)
        with ours.makefile("rb") as stream:
            got = [stream.read(struct.unpack("!I", stream.read(4))[0]) for _ in payloads]
        assert got == list(payloads), "send_message() did not send a 4-byte length and the bytes"
        sender = threading.Thread(target=trickle, args=(ours, struct.pack("!I", 11) + b"hello world", 0.01))
        sender.start()  # the pieces arrive while recv_message() is reading
        got = student.recv_message(theirs)
        sender.join(timeout=5)
        assert got == b"hello world", f"a message sent a byte at a time came back as {got!r}"
    finally:
        theirs.close()
        ours.close()


@pytest.mark.points(1, hint="Check the length against max_size before reading the message, and raise EOFError "
                            "when recv returns b'' too early (chapter 1a, 'Length prefixes: recv_into() and an "
                            "exact read').")
def test_recv_message_refuses(student):
    """recv_message() raises EOFError for a cut-off message and ValueError for a huge length prefix."""
    theirs, ours = connected_pair(student)
    try:
        ours.sendall(struct.pack("!I", 10) + b"short")
        ours.shutdown(socket.SHUT_WR)
        with pytest.raises(EOFError):
            student.recv_message(theirs)
    finally:
        theirs.close()
        ours.close()
    theirs, ours = connected_pair(student)
    try:
        ours.sendall(struct.pack("!I", 2_000_000_000))
        with pytest.raises(ValueError):
            student.recv_message(theirs)  # refused from the prefix alone, before any allocation
    finally:
        theirs.close()
        ours.close()


@pytest.mark.points(1, hint="sendall, then shutdown(SHUT_WR) so the server sees the end, then recv until b'' "
                            "(chapter 1a, 'Half-close: shutdown').")
def test_echo_all(student, lab_servers):
    """echo_all() gets back every byte of 1 MiB from the echo server."""
    data = bytes(range(256)) * 4096
    got = student.echo_all(lab_servers.echo.address, data)
    assert got == data, f"echo_all() returned {len(got)} bytes of the {len(data)} sent" if isinstance(got, bytes) \
        else f"echo_all() returned {got!r}"


@pytest.mark.points(1, hint="Stop before sending a line that says bye (any case); read each answer up to its "
                            "'\\n' as UTF-8 (chapter 1b, 'The classic chat: an input() loop, without blocking the "
                            "notebook').")
def test_chat(student, lab_servers):
    """chat() stops at "bye" and reads answers that arrive one byte at a time."""
    got = student.chat(lab_servers.echo.address, ["hello", "ça va ?", "BYE", "never sent"])
    assert got == ["hello", "ça va ?"], f"chat() with the echo server returned {got!r}"
    heard = []

    def answer_slowly(conn):
        with conn.makefile("rb") as lines:
            for line in lines:
                heard.append(line)
                trickle(conn, "好的\n".encode("utf-8"))

    address, thread = serve_once(answer_slowly)
    got = student.chat(address, ["one", "two", "bye"])
    thread.join(timeout=5)
    assert got == ["好的", "好的"], f"answers sent a byte at a time came back as {got!r}"
    assert heard == [b"one\n", b"two\n"], f"the server heard {heard!r}"


@pytest.mark.points(1, hint="getaddrinfo(host, port, type=SOCK_STREAM), keep (family name, (address, port)) in "
                            "its order without repeats (chapter 1b, 'getaddrinfo: every address to try').")
def test_resolve(student):
    """resolve() gives getaddrinfo's TCP addresses for numbers and for localhost, in order, no repeats."""
    got = student.resolve("127.0.0.1", 10021)
    assert got == [("AF_INET", ("127.0.0.1", 10021))], f"resolve('127.0.0.1', 10021) returned {got!r}"
    expected = [(family.name, tuple(sockaddr[:2]))
                for family, _, _, _, sockaddr in socket.getaddrinfo("localhost", 10021, type=socket.SOCK_STREAM)]
    got = student.resolve("localhost", 10021)
    assert got == list(dict.fromkeys(expected)), f"resolve('localhost', 10021) returned {got!r}"


@pytest.mark.points(2, hint="One selector: register the listener, accept into non-blocking sockets, keep each "
                            "client's unfinished line until its '\\n' (chapter 1b, 'Many clients in one thread: "
                            "selectors').")
def test_upper_server(student):
    """UpperServer answers 30 clients' lines, sent in pieces, in capitals, from one thread; close() frees the port."""
    before = len(student_threads(student))
    server = student.UpperServer()
    try:
        address = tuple(server.address)
        clients = [socket.create_connection(address, timeout=10) for _ in range(30)]
        threads = len(student_threads(student))
        assert threads <= before + 1, f"{threads - before} threads serve 30 clients; one is enough"
        for n, conn in enumerate(clients):  # every client's line in two pieces, interleaved
            conn.sendall(f"client {n} says ".encode())
        for n, conn in enumerate(clients):
            conn.sendall("héllo\nand bye\n".encode())
        for n, conn in enumerate(clients):
            with conn, conn.makefile("rb") as replies:
                first, second = replies.readline(), replies.readline()
                assert (first, second) == (f"CLIENT {n} SAYS HÉLLO\n".encode(), b"AND BYE\n"), \
                    f"client {n} got {first!r}, {second!r}"
    finally:
        server.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2)
    assert len(student_threads(student)) <= before, "close() left the server's thread running"


@pytest.mark.points(1, hint="What send() cannot take now waits in that client's buffer: watch for EVENT_WRITE "
                            "while it is not empty, and keep serving the others (chapter 1b, 'Many clients in one "
                            "thread: selectors').")
def test_upper_server_slow_reader(student):
    """A client that sends a lot and reads late does not stall the others."""
    server = student.UpperServer()
    try:
        address = tuple(server.address)
        greedy = socket.socket()
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # a small window: replies back up at once
        greedy.settimeout(10)
        greedy.connect(address)
        greedy.sendall((b"x" * 1000 + b"\n") * 8000)  # 8 MB of replies it does not read yet
        with socket.create_connection(address, timeout=10) as other, other.makefile("rb") as replies:
            other.sendall(b"still there?\n")
            assert replies.readline() == b"STILL THERE?\n", "another client got no answer"
        with greedy, greedy.makefile("rb") as replies:
            got = [replies.readline() for _ in range(8000)]
        assert got == [b"X" * 1000 + b"\n"] * 8000, "the slow client did not get all its replies"
    finally:
        server.close()
