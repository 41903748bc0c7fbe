"""Solutions to the exercises of notebooks/01a_sockets.ipynb (1-5) and 01b_sockets_servers.ipynb (6-8).

TCP carries a stream of bytes, not messages: every reader here frames its
messages (lines, a length prefix, or the end of the stream) instead of
taking one recv() for one message.
"""

from __future__ import annotations

import socket
import struct

#: recv_message() refuses longer messages before reading them.
MAX_MESSAGE = 1_000_000


def stamp_lines(address: tuple[str, int], lines: list[str]) -> list[str]:
    """Exercise 1: send each line to the time server over one TCP connection; return the replies.

    Each line ends with "\\n", so each reply does too: readline() returns a
    whole reply however it was split, and decoding whole lines never cuts
    a UTF-8 character in two.
    """
    replies = []
    with socket.create_connection(address, timeout=5) as conn, conn.makefile("rb") as reader:
        for line in lines:
            conn.sendall(line.encode("utf-8") + b"\n")
            reply = reader.readline()
            if not reply.endswith(b"\n"):
                raise EOFError("the server closed the connection in the middle of a reply")
            replies.append(reply[:-1].decode("utf-8"))
    return replies


def udp_ask(address: tuple[str, int], data: bytes, timeout: float = 1.0, retries: int = 3) -> bytes:
    """Exercise 2: send a datagram, wait for the answer, send again up to `retries` times."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        for _ in range(retries):
            sock.sendto(data, address)
            try:
                reply, _ = sock.recvfrom(65535)
                return reply
            except TimeoutError:
                continue
    raise TimeoutError(f"no answer from {address[0]}:{address[1]} after {retries} tries")


def port_is_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Exercise 3: True if something accepts TCP connections on host:port; never raises."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            return probe.connect_ex((host, port)) == 0
    except OSError:  # e.g. a host name that cannot be resolved
        return False


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """Exactly n bytes, however they arrive; EOFError if the stream ends first."""
    buffer = bytearray(n)
    view = memoryview(buffer)
    got = 0
    while got < n:
        count = sock.recv_into(view[got:])
        if count == 0:
            raise EOFError(f"the stream ended after {got} of {n} bytes")
        got += count
    return bytes(buffer)


def send_message(sock: socket.socket, payload: bytes) -> None:
    """Exercise 4: one message, as a 4-byte length (network order) and the bytes."""
    sock.sendall(struct.pack("!I", len(payload)) + payload)


def recv_message(sock: socket.socket, max_size: int = MAX_MESSAGE) -> bytes:
    """Exercise 4: the next message; ValueError for a length above max_size, EOFError if cut off."""
    (length,) = struct.unpack("!I", recv_exactly(sock, 4))
    if length > max_size:
        raise ValueError(f"a message of {length} bytes is longer than the limit of {max_size}")
    return recv_exactly(sock, length)


def echo_all(address: tuple[str, int], data: bytes, timeout: float = 10.0) -> bytes:
    """Exercise 5: send everything, half-close, and read until the server closes too."""
    chunks = []
    with socket.create_connection(address, timeout=timeout) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def chat(address: tuple[str, int], lines, timeout: float = 5.0) -> list[str]:
    """Exercise 6: send each line until one says "bye"; return the answers, a line each."""
    answers = []
    with socket.create_connection(address, timeout=timeout) as conn, \
            conn.makefile("r", encoding="utf-8", newline="\n") as reader:
        for message in lines:
            if message.strip().lower() == "bye":
                break
            conn.sendall(message.encode("utf-8") + b"\n")
            answer = reader.readline()
            if not answer.endswith("\n"):
                raise EOFError("the other side closed the connection")
            answers.append(answer[:-1])
    return answers


def resolve(host: str, port: int) -> list[tuple[str, tuple]]:
    """Exercise 7: the TCP addresses to try for host:port, as (family name, (address, port)), no repeats.

    In getaddrinfo's order, which is the order create_connection() tries them in.
    """
    seen: list[tuple[str, tuple]] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        entry = (socket.AddressFamily(family).name, tuple(sockaddr[:2]))
        if entry not in seen:
            seen.append(entry)
    return seen


class UpperServer:
    """Exercise 8: answer each UTF-8 line in capitals, to any number of clients, in ONE thread (selectors).

    `address` is where it listens; close() stops the thread, disconnects every
    client and frees the port. Lines may arrive in any pieces: each client's
    unfinished line is kept until its "\\n" arrives; what send() cannot take
    at once waits in that client's output buffer until the socket is writable.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, max_line: int = 65536):
        import selectors
        import threading

        self._selectors = selectors
        self.max_line = max_line
        self._listener = socket.create_server((host, port))
        self._listener.setblocking(False)
        self.address = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._inbox: dict[socket.socket, bytes] = {}
        self._outbox: dict[socket.socket, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="upper-server", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for key, events in self._selector.select(timeout=0.1):
                    if key.fileobj is self._listener:
                        self._accept()
                    else:
                        self._serve(key.fileobj, events)
        finally:
            for key in list(self._selector.get_map().values()):
                key.fileobj.close()
            self._selector.close()

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:  # another event took it
            return
        conn.setblocking(False)
        self._inbox[conn], self._outbox[conn] = b"", b""
        self._selector.register(conn, self._selectors.EVENT_READ)

    def _drop(self, conn: socket.socket) -> None:
        self._selector.unregister(conn)
        conn.close()
        del self._inbox[conn], self._outbox[conn]

    def _serve(self, conn: socket.socket, events: int) -> None:
        try:
            if events & self._selectors.EVENT_READ:
                data = conn.recv(65536)
                if not data:
                    self._drop(conn)
                    return
                self._inbox[conn] += data
                *lines, self._inbox[conn] = self._inbox[conn].split(b"\n")
                if len(self._inbox[conn]) > self.max_line:  # bounded memory for a line that never ends
                    self._drop(conn)
                    return
                # whole lines only: a UTF-8 character split between two pieces is whole again here
                self._outbox[conn] += b"".join(
                    line.decode("utf-8", "replace").upper().encode("utf-8") + b"\n" for line in lines)
            if self._outbox[conn]:
                sent = conn.send(self._outbox[conn])
                self._outbox[conn] = self._outbox[conn][sent:]
        except BlockingIOError:
            pass
        except OSError:  # reset by the client
            self._drop(conn)
            return
        wanted = self._selectors.EVENT_READ | (self._selectors.EVENT_WRITE if self._outbox[conn] else 0)
        self._selector.modify(conn, wanted)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
