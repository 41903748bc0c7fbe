"""Lab 1, sockets: a timestamp server that many clients can use at once.

Every chunk of data a client sends comes back as "[<time.ctime()>] <data>",
like the chapter's first server. Build it twice (TCP, then UDP) with its
clients. Nothing here knows a fixed address: host and port are parameters,
so the grader can point your code at its own servers.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time


def timestamp_reply(data: bytes) -> bytes:
    """The server's answer to one chunk of data: b"[" + time.ctime() + b"] " + data.

    >>> timestamp_reply(b"hello")                       # doctest: +SKIP
    b'[Sat Nov 21 22:40:00 2026] hello'
    """
    raise NotImplementedError("TODO: write timestamp_reply()")


def start_tcp_server(host: str = "127.0.0.1", port: int = 0):
    """Start a threaded TCP timestamp server in the background and return it at once.

    Each client is served in a thread of its own, so several clients can be
    connected and served at the same time. Every chunk a client sends is
    answered with timestamp_reply(chunk); an empty recv() means the client
    is done. port 0 lets the operating system choose a free port.

    The returned object has:
      - server_address: the (host, port) it listens on;
      - close(): stop accepting, disconnect the clients still connected,
        close the listening socket and return within 2 seconds, leaving no
        thread of the server running.
    """
    raise NotImplementedError("TODO: write start_tcp_server()")


def tcp_client(host: str, port: int, messages: list[bytes], timeout: float = 5.0) -> list[bytes]:
    """Send each message to a TCP timestamp server over ONE connection; return the replies.

    Send a message, wait for its reply, then send the next. Use `timeout`
    (seconds) for connecting and for every recv(), and always close the
    connection, even when something fails.
    """
    raise NotImplementedError("TODO: write tcp_client()")


def start_udp_server(host: str = "127.0.0.1", port: int = 0):
    """Start a UDP timestamp server in the background and return it at once.

    Every datagram received is answered, to its sender, with
    timestamp_reply(datagram). The returned object has server_address and
    close() with the same meaning as start_tcp_server's.
    """
    raise NotImplementedError("TODO: write start_udp_server()")


def udp_client(host: str, port: int, messages: list[bytes], timeout: float = 5.0) -> list[bytes]:
    """Send each message as one datagram to a UDP timestamp server; return the replies.

    UDP has no connection: use one socket, sendto() then recvfrom() with
    `timeout`; a lost reply raises socket.timeout (TimeoutError).
    """
    raise NotImplementedError("TODO: write udp_client()")
