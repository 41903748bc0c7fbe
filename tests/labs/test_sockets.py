"""Lab 1 (sockets): the line-based timestamp servers and clients in 01_sockets/sockets_lab.py.

The clients are checked against servers these tests run themselves, which
record what they received and send their replies in pieces, the way TCP
may deliver them; the servers are checked with plain sockets that send
lines in pieces, several at once, and bytes that are not text.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from grader.helpers import student_threads

pytestmark = pytest.mark.lab("sockets")

STAMP = re.compile(rb"^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\] (.*)$", re.S)
FRAMING = ("TCP is a byte stream, not a sequence of messages: see chapter 1a, 'TCP is a byte stream, not a series "
           "of messages'")


def stamped(reply: bytes, data: bytes) -> bool:
    """reply is b"[<a ctime within a minute>] " + data."""
    match = STAMP.match(reply)
    if not match or match.group(2) != data:
        return False
    when = time.mktime(time.strptime(match.group(1).decode(), "%a %b %d %H:%M:%S %Y"))
    return abs(when - time.time()) < 60


def free_port(kind=socket.SOCK_STREAM) -> int:
    """A port nothing uses right now, to check that a server listens on the port it is given."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_lines(sock: socket.socket, count: int, timeout: float = 3.0, then: float | None = None) -> list[bytes]:
    """count whole lines (with their b"\\n") from sock; fewer if the peer stops or goes quiet (for
    `timeout` seconds, or `then` seconds once a line has come: to see that no more lines follow)."""
    sock.settimeout(timeout)
    pending, lines = b"", []
    while len(lines) < count:
        if b"\n" in pending:
            line, _, pending = pending.partition(b"\n")
            lines.append(line + b"\n")
            if then is not None:
                sock.settimeout(then)
            continue
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, ConnectionError):
            break
        if not chunk:
            break
        pending += chunk
    if pending and len(lines) < count:
        lines.append(pending)  # an unterminated piece: shown in the failure message
    return lines


def new_threads(student, before: dict) -> list[str]:
    """Threads started in the student's process since `before` (its code runs in a process of its own)."""
    return [name for ident, name in student_threads(student).items() if ident not in before]


def started(student, host="127.0.0.1", port=0, udp=False):
    """The student's server on a port chosen here, so a fixed port in the module is noticed."""
    port = port or free_port(socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    server = (student.start_udp_server if udp else student.start_tcp_server)(host, port)
    address = tuple(server.server_address)[:2]
    if address[1] != port:
        server.close()
        pytest.fail(f"asked to listen on port {port}, the server listens on {address[1]}")
    return server


# ---------------------------------------------------------------- timestamp_reply

@pytest.mark.points(1, hint="The reply is the ctime in square brackets, a space, then the line's bytes unchanged: "
                            "see chapter 1a, 'Server methods: bind, listen, accept'.")
def test_timestamp_reply(student):
    """timestamp_reply() puts the current time.ctime() in brackets before the line."""
    reply = student.timestamp_reply(b"hello\n")
    assert stamped(reply, b"hello\n"), f"timestamp_reply(b'hello\\n') returned {reply!r}"


# ---------------------------------------------------------------- the TCP server

@pytest.mark.points(2, hint="Answer every line with timestamp_reply(line) until recv() returns b'', and listen on "
                            "the port you are given: see chapter 1a, 'Server methods: bind, listen, accept'.")
def test_tcp_server_answers_lines(student):
    """The TCP server, on the port it is given, answers each line of a client with its timestamped copy."""
    server = started(student)
    try:
        with socket.create_connection(server.server_address, timeout=3) as sock:
            for line in (b"first\n", b"second line\n"):
                sock.sendall(line)
                replies = read_lines(sock, 1)
                assert replies and stamped(replies[0], line), f"sent {line!r}, the server answered {replies!r}"
    finally:
        server.close()


@pytest.mark.points(2, hint=f"{FRAMING}. A line may arrive in many recv()s and a UTF-8 character may be cut "
                            "between two: keep the bytes until b'\\n' arrives, and never decode a piece.")
def test_tcp_server_line_in_pieces(student):
    """A line sent a few bytes at a time, with a character cut in two, gets one whole reply."""
    line = "héllo wörld ✓ 日本\n".encode()
    server = started(student)
    try:
        with socket.create_connection(server.server_address, timeout=3) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(0, len(line), 3):  # 3 bytes at a time cuts several characters
                try:
                    sock.sendall(line[i:i + 3])
                except OSError:
                    pytest.fail(f"the server closed the connection after the first {i} bytes of {line!r}, "
                                "sent 3 at a time")
                time.sleep(0.02)
            replies = read_lines(sock, 2, then=0.3)  # a second reply would follow the first at once
    finally:
        server.close()
    assert replies and stamped(replies[0], line), \
        f"sent {line!r} in pieces of 3 bytes, the first reply was {replies[:1]!r}"
    assert len(replies) == 1, f"one line sent in pieces got {len(replies)} replies: {replies!r}"


@pytest.mark.points(1, hint=f"{FRAMING}. One recv() may hold two lines: answer each whole line in the buffer.")
def test_tcp_server_two_lines_at_once(student):
    """Two lines that arrive together get two replies, in order."""
    server = started(student)
    try:
        with socket.create_connection(server.server_address, timeout=3) as sock:
            sock.sendall(b"one\ntwo\n")
            replies = read_lines(sock, 2)
    finally:
        server.close()
    assert len(replies) == 2 and stamped(replies[0], b"one\n") and stamped(replies[1], b"two\n"), \
        f"sent b'one\\ntwo\\n' at once, the server answered {replies!r}"


@pytest.mark.points(1, hint="The data is bytes, not necessarily text: send it back as it came, without "
                            "decoding (see chapter 1a, 'TCP is a byte stream, not a series of messages').")
def test_tcp_server_binary_line(student):
    """A line of bytes that are not UTF-8 comes back unchanged."""
    line = b"\xff\xfe\x00\x80 raw \xc3\n"
    server = started(student)
    try:
        with socket.create_connection(server.server_address, timeout=3) as sock:
            sock.sendall(line)
            replies = read_lines(sock, 1)
    finally:
        server.close()
    assert replies and stamped(replies[0], line), f"sent {line!r}, the server answered {replies!r}"


@pytest.mark.points(3, hint="A server that serves one client at a time keeps the others waiting: give each "
                            "connection a thread of its own (see chapter 1b, 'socketserver: the accept loop, written "
                            "for you').")
def test_tcp_server_serves_clients_at_once(student):
    """Five clients connected at once are all answered, the last one first."""
    server = started(student)
    clients = []
    try:
        for _ in range(5):
            clients.append(socket.create_connection(server.server_address, timeout=3))
        for number, sock in reversed(list(enumerate(clients))):
            line = f"client {number}\n".encode()
            sock.sendall(line)
            replies = read_lines(sock, 1)
            assert replies, f"client {number} got no answer while the other clients stayed connected"
            assert stamped(replies[0], line), f"client {number} sent {line!r}, got {replies!r}"
    finally:
        for sock in clients:
            sock.close()
        server.close()


@pytest.mark.points(1, hint="close() must also end the connections of clients still connected, whose threads "
                            "wait in recv(): shut their sockets down (see chapter 1b, 'socketserver: the accept loop, "
                            "written for you').")
def test_tcp_server_close_disconnects_clients(student):
    """close() returns within 2 s with a client still connected, and that client is disconnected."""
    server = started(student)
    idle = socket.create_connection(server.server_address, timeout=3)
    try:
        idle.sendall(b"ping\n")
        assert read_lines(idle, 1), "the server did not answer b'ping\\n'"
        begin = time.monotonic()
        server.close()
        took = time.monotonic() - begin
        assert took < 2.5, f"close() took {took:.1f} s with a client connected"
        idle.settimeout(2)
        try:
            data = idle.recv(4096)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            pytest.fail("a client still connected after close() was not disconnected (its recv() timed out)")
        assert data == b"", f"a client still connected after close() received {data!r} instead of end of file"
    finally:
        idle.close()


@pytest.mark.points(1, hint="close() must close the listening socket, so the port is free for the next server "
                            "(see chapter 1a, 'Server methods: bind, listen, accept').")
def test_tcp_server_close_frees_port(student):
    """After close(), a new server can listen on the same port."""
    server = started(student)
    port = server.server_address[1]
    with socket.create_connection(server.server_address, timeout=3) as sock:
        sock.sendall(b"hi\n")
        read_lines(sock, 1)
    server.close()
    time.sleep(0.1)
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is fine
        try:
            again.bind(("127.0.0.1", port))
            again.listen()
        except OSError as exc:
            pytest.fail(f"after close() port {port} is still taken: {exc}")


@pytest.mark.points(1, hint="close() must stop serve_forever() and wait for the threads it started "
                            "(shutdown(), then join them): see chapter 1b, 'socketserver: the accept loop, written for "
                            "you'.")
def test_tcp_server_close_stops_threads(student):
    """After close(), no thread of the server is left running."""
    before = student_threads(student)
    server = started(student)
    with socket.create_connection(server.server_address, timeout=3) as sock:
        sock.sendall(b"hi\n")
        read_lines(sock, 1)
        server.close()
    deadline = time.monotonic() + 2
    while new_threads(student, before) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = new_threads(student, before)
    assert not left, f"threads still running 2 s after close(): {left}"


# ---------------------------------------------------------------- the TCP client

class PieceServer:
    """A timestamp server for one client that records the bytes it receives and sends each
    reply in three pieces, a little apart, as a slow network may deliver it."""

    def __init__(self, answer=True, close_after=None):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # accept() wakes up to notice close()
        self.address = self.listener.getsockname()
        self.received = b""
        self.connections = 0
        self.answer = answer
        self.close_after = close_after  # seconds: end the connection then (bounds a client that never times out)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.listener.fileno() != -1:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.talk, args=(conn,), daemon=True).start()

    def talk(self, conn):
        deadline = time.monotonic() + (self.close_after or 10)
        with conn:
            pending = b""
            while time.monotonic() < deadline:
                conn.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    chunk = conn.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                self.received += chunk
                pending += chunk
                while self.answer and b"\n" in pending:
                    line, _, pending = pending.partition(b"\n")
                    reply = f"[{time.ctime()}] ".encode() + line + b"\n"
                    for i in range(0, len(reply), max(1, len(reply) // 3)):
                        conn.sendall(reply[i:i + max(1, len(reply) // 3)])
                        time.sleep(0.02)

    def close(self):
        self.listener.close()


@pytest.mark.points(2, hint=f"{FRAMING}. A reply may come in several pieces: keep reading until its b'\\n', "
                            "and connect to the host and port you are given.")
def test_tcp_client(student):
    """tcp_client() sends each message as a line over one connection, to the address it is given,
    and returns each whole reply, even when it arrives in pieces."""
    server = PieceServer()
    messages = [b"one", "tw\u00f6 \u2713".encode(), b"three"]
    try:
        replies = student.tcp_client(*server.address, messages, timeout=3)
    finally:
        server.close()
    observed = f"the server at port {server.address[1]} received {server.received!r}; tcp_client() returned {replies!r}"
    assert server.connections == 1, f"the client opened {server.connections} connections, one is enough; {observed}"
    assert isinstance(replies, list) and len(replies) == 3 and all(stamped(r, m) for r, m in zip(replies, messages)), \
        f"each reply came in three pieces: {observed}"
    assert server.received == b"one\ntw\xc3\xb6 \xe2\x9c\x93\nthree\n", observed


@pytest.mark.points(1, hint="Nothing listens there: let the OSError (ConnectionRefusedError) reach the caller "
                            "(see chapter 1a, 'The errors a client meets').")
def test_tcp_client_refused(student, closed_port):
    """tcp_client() raises an OSError when nothing listens at the address (and only then)."""
    server = PieceServer()  # first the same client where a server listens: it must get through
    try:
        replies = student.tcp_client(*server.address, [b"x"], timeout=3)
    finally:
        server.close()
    assert server.received == b"x\n", \
        f"a server listening at the address given received {server.received!r} (tcp_client() returned {replies!r})"
    with pytest.raises(OSError):
        student.tcp_client("127.0.0.1", closed_port, [b"x"], timeout=2)


@pytest.mark.points(1, hint="A server that never answers: the timeout given must apply to every recv() "
                            "(settimeout), and its TimeoutError reach the caller (see chapter 1a, 'Blocking, "
                            "non-blocking, and timeouts').")
def test_tcp_client_timeout(student):
    """tcp_client() gives up with an OSError (timeout) after its timeout when the server stays silent."""
    server = PieceServer(answer=False, close_after=6)
    begin = time.monotonic()
    try:
        result = student.tcp_client(*server.address, [b"anyone there?"], timeout=0.5)
    except OSError:
        result = None
    finally:
        server.close()
    assert result is None, f"the server never answered, yet tcp_client() returned {result!r}"
    took = time.monotonic() - begin
    assert server.connections == 1, "tcp_client() never connected to the silent server at the address given"
    assert took < 3, f"with timeout=0.5 tcp_client() took {took:.1f} s to give up"


# ---------------------------------------------------------------- UDP

@pytest.mark.points(1, hint="Each datagram is a whole message: answer it with sendto(reply, client_address), "
                            "bytes unchanged, on the port you are given (see chapter 1a, 'UDP: datagrams, no "
                            "connection').")
def test_udp_server_answers(student):
    """The UDP server, on the port it is given, answers every datagram (text or not) to its sender."""
    server = started(student, udp=True)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(3)
            for data in (b"alpha", "b\u00e9ta".encode(), b"\xff\x00\x80"):
                sock.sendto(data, server.server_address)
                try:
                    reply, _ = sock.recvfrom(4096)
                except socket.timeout:
                    pytest.fail(f"sent the datagram {data!r}, no answer within 3 s")
                assert stamped(reply, data), f"sent {data!r}, got {reply!r}"
    finally:
        server.close()


@pytest.mark.points(1, hint="close() must stop the serving thread and close the socket, so the port is free "
                            "again (see chapter 1a, 'UDP: datagrams, no connection').")
def test_udp_server_close_frees_port(student):
    """After close(), the UDP port can be bound again."""
    server = started(student, udp=True)
    port = server.server_address[1]
    server.close()
    time.sleep(0.1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        try:
            again.bind(("127.0.0.1", port))
        except OSError as exc:
            pytest.fail(f"after close() UDP port {port} is still bound: {exc}")


@pytest.mark.points(1, hint="One SOCK_DGRAM socket: sendto() each message to the address you are given, "
                            "recvfrom() its reply (see chapter 1a, 'UDP: datagrams, no connection').")
def test_udp_client(student):
    """udp_client() sends one datagram per message to the address it is given and returns each reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(0.1)
        port = server.getsockname()[1]
        received = []

        def answer():
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and len(received) < 2:
                try:
                    data, peer = server.recvfrom(4096)
                except TimeoutError:
                    continue
                except OSError:  # closed: the student's call is over (spinning here cost a failed check ~1 CPU-s)
                    return
                received.append(data)
                server.sendto(f"[{time.ctime()}] ".encode() + data, peer)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        messages = [b"u1", "\u00fc2".encode()]
        replies = student.udp_client(*server.getsockname(), messages, timeout=3)
        thread.join(5)
    assert received == messages, f"the server at port {port} received {received!r}"
    assert isinstance(replies, list) and len(replies) == 2 and all(stamped(r, m) for r, m in zip(replies, messages)), \
        f"sent {messages!r}, udp_client() returned {replies!r}"


@pytest.mark.points(1, hint="UDP may lose a datagram: with settimeout(timeout), recvfrom() raises TimeoutError; "
                            "let it reach the caller (see chapter 1a, 'UDP: datagrams, no connection').")
def test_udp_client_lost_reply(student):
    """udp_client() raises a timeout (OSError) when no reply comes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        begin = time.monotonic()
        try:
            result = student.udp_client(*silent.getsockname(), [b"hello?"], timeout=0.5)
        except OSError:
            result = None
        assert result is None, f"no reply was sent, yet udp_client() returned {result!r}"
        took = time.monotonic() - begin
        silent.settimeout(0.5)
        try:
            arrived = silent.recvfrom(4096)[0]
        except OSError:
            arrived = None
    assert arrived == b"hello?", f"the silent server at the address given received {arrived!r}"
    assert took < 3, f"with timeout=0.5 udp_client() took {took:.1f} s to give up"
