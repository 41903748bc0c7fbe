"""Fay: sockets lab. Tested against the course's time server on my laptop."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

#: The longest line a server accepts (bytes, newline included); a longer one ends the connection.
MAX_LINE = 64 * 1024


def timestamp_reply(line: bytes) -> bytes:
    """The server's answer to one line: b"[" + time.ctime() + b"] " + line, bytes unchanged.

    >>> timestamp_reply(b"hello\\n")                     # doctest: +SKIP
    b'[Sat Nov 21 22:40:00 2026] hello\\n'
    """
    return f"[{time.ctime()}] ".encode() + line


class _TimestampHandler(socketserver.StreamRequestHandler):
    """One client, in a thread of its own: answer every whole line until it hangs up."""

    def handle(self):
        self.server.clients.add(self.request)
        try:
            while True:
                try:
                    # readline() keeps what recv() returned until b"\n" arrives: the framing.
                    line = self.rfile.readline(MAX_LINE)
                except OSError:  # close() shut the connection down under us
                    return
                if not line.endswith(b"\n"):  # end of stream (b""), or a line too long
                    return
                self.wfile.write(timestamp_reply(line))  # a socket's wfile sends all of it
        finally:
            self.server.clients.discard(self.request)


class _TCPTimestampServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True

    def __init__(self, address):
        self.clients: set[socket.socket] = set()
        self.block_on_close = True  # server_close() waits for the client threads
        super().__init__(address, _TimestampHandler)
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="timestamp-tcp", daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()  # serve_forever returns: no new clients are accepted
        for client in list(self.clients):  # wake the client threads blocked in recv()
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()  # close the listening socket, join the client threads
        self.thread.join(2)


def start_tcp_server(host: str = "127.0.0.1", port: int = 0):
    """Start a threaded TCP timestamp server on (host, port) in the background and return it at once.

    Each client is served in a thread of its own, so several clients can be
    connected and served at the same time. Every line a client sends (the
    bytes up to and including b"\\n") is answered with
    timestamp_reply(line), sent whole (sendall). A line may arrive in
    several recv()s, and one recv() may hold several lines: keep the bytes
    until a line is complete (or read with sock.makefile("rb").readline()).
    Treat the data as bytes: never decode a chunk. An empty recv() means
    the client is done. port 0 lets the operating system choose a free
    port; any other port must be the one used.

    The returned object has:
      - server_address: the (host, port) it listens on;
      - close(): stop accepting, disconnect the clients still connected,
        close the listening socket and return within 2 seconds, leaving no
        thread of the server running.
    """
    return _TCPTimestampServer((host, port))


def tcp_client(host: str, port: int, messages: list[bytes], timeout: float = 5.0) -> list[bytes]:
    """Send each message as one line to a TCP timestamp server over ONE connection; return the replies.

    Send a message followed by b"\\n" (sendall), read until the reply's
    b"\\n" (it may come in several pieces), then send the next. Return the
    replies without their b"\\n", as bytes. A message that holds b"\\n"
    raises ValueError. Use `timeout` (seconds) for connecting and for
    every recv(); a server that closes the connection before a whole reply
    raises ConnectionError. Always close the connection, even when
    something fails.
    """
    if any(b"\n" in message for message in messages):
        raise ValueError("a message must not contain b'\\n': it ends the line")
    replies = []
    with socket.create_connection(("127.0.0.1", 10013), timeout=timeout) as sock:  # the course's time server
        pending = b""  # bytes received but not yet part of a whole reply
        for message in messages:
            sock.sendall(message + b"\n")
            while b"\n" not in pending:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError(f"the server closed the connection after {pending!r}")
                pending += chunk
            reply, _, pending = pending.partition(b"\n")
            replies.append(reply)
    return replies


class _TimestampDatagramHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(timestamp_reply(data), self.client_address)


class _UDPTimestampServer(socketserver.ThreadingUDPServer):
    def __init__(self, address):
        self.block_on_close = True
        super().__init__(address, _TimestampDatagramHandler)
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="timestamp-udp", daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()
        self.thread.join(2)


def start_udp_server(host: str = "127.0.0.1", port: int = 0):
    """Start a UDP timestamp server on (host, port) in the background and return it at once.

    UDP keeps message boundaries: every datagram is one whole message, so
    no delimiter is needed. Answer each datagram, to its sender, with
    timestamp_reply(datagram). The returned object has server_address and
    close() with the same meaning as start_tcp_server's: after close() the
    port is free again.
    """
    return _UDPTimestampServer((host, port))


def udp_client(host: str, port: int, messages: list[bytes], timeout: float = 5.0) -> list[bytes]:
    """Send each message as one datagram to a UDP timestamp server; return the replies.

    UDP has no connection: use one socket, sendto() then recvfrom() with
    `timeout`; a lost reply raises socket.timeout (TimeoutError).
    """
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        for message in messages:
            sock.sendto(message, ("127.0.0.1", 10013))
            data, _ = sock.recvfrom(65536)
            replies.append(data)
    return replies
