"""Your answers to the exercises of notebooks/01a_sockets (1-5) and 01b_sockets_servers (6-8) (chapter 1).

Write each function here (replace the `raise NotImplementedError`), try it
in the chapter's notebook, then check it from a notebook cell:

    from grader import check
    check("ex01")

which grades this file (in workspace/labs/ when the course made you that
copy, else in labs/) like a lab: a table of checks with a hint for each one
that failed. The checks give your functions servers of their own, so use
the host and port they get. The reference answers are in
solutions/exercises/ex01_sockets.py (try first!).
"""

from __future__ import annotations

import socket
import struct  # noqa: F401

#: recv_message() refuses longer messages before reading them.
MAX_MESSAGE = 1_000_000


def stamp_lines(address: tuple[str, int], lines: list[str]) -> list[str]:
    """Exercise 1: send each line to the time server over one TCP connection; return the replies.

    Each line ends with "\\n", so each reply does too: readline() returns a
    whole reply however it was split, and decoding whole lines never cuts
    a UTF-8 character in two.
    """
    raise NotImplementedError("TODO: exercise 1")


def udp_ask(address: tuple[str, int], data: bytes, timeout: float = 1.0, retries: int = 3) -> bytes:
    """Exercise 2: send a datagram, wait for the answer, send again up to `retries` times."""
    raise NotImplementedError("TODO: exercise 2")


def port_is_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Exercise 3: True if something accepts TCP connections on host:port; never raises."""
    raise NotImplementedError("TODO: exercise 3")


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """Exactly n bytes, however they arrive; EOFError if the stream ends first."""
    raise NotImplementedError("TODO: a helper for exercise 4")


def send_message(sock: socket.socket, payload: bytes) -> None:
    """Exercise 4: one message, as a 4-byte length (network order) and the bytes."""
    raise NotImplementedError("TODO: exercise 4")


def recv_message(sock: socket.socket, max_size: int = MAX_MESSAGE) -> bytes:
    """Exercise 4: the next message; ValueError for a length above max_size, EOFError if cut off."""
    raise NotImplementedError("TODO: exercise 4")


def echo_all(address: tuple[str, int], data: bytes, timeout: float = 10.0) -> bytes:
    """Exercise 5: send everything, half-close, and read until the server closes too."""
    raise NotImplementedError("TODO: exercise 5")


def chat(address: tuple[str, int], lines, timeout: float = 5.0) -> list[str]:
    """Exercise 6: send each line until one says "bye"; return the answers, a line each."""
    raise NotImplementedError("TODO: exercise 6")


def resolve(host: str, port: int) -> list[tuple[str, tuple]]:
    """Exercise 7: the TCP addresses to try for host:port, as (family name, (address, port)), no repeats.

    In getaddrinfo's order, which is the order create_connection() tries them in.
    """
    raise NotImplementedError("TODO: exercise 7")


class UpperServer:
    """Exercise 8: answer each UTF-8 line in capitals, to any number of clients, in ONE thread (selectors).

    `address` is where it listens; close() stops the thread, disconnects every
    client and frees the port. Lines may arrive in any pieces: each client's
    unfinished line is kept until its "\\n" arrives; what send() cannot take
    at once waits in that client's output buffer until the socket is writable.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, max_line: int = 65536):
        raise NotImplementedError("TODO: exercise 8")

    def close(self) -> None:
        raise NotImplementedError("TODO: exercise 8")
