"""Solutions to the exercises of notebooks/01_sockets.ipynb.

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
