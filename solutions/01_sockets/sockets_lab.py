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
    return f"[{time.ctime()}] ".encode() + data


class _TimestampHandler(socketserver.BaseRequestHandler):
    """One client, in a thread of its own: answer every chunk until it hangs up."""

    def handle(self):
        self.server.clients.add(self.request)
        try:
            while True:
                try:
                    data = self.request.recv(4096)
                except OSError:  # close() shut the connection down under us
                    return
                if not data:  # the client closed its side: we are done
                    return
                self.request.sendall(timestamp_reply(data))
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
    return _TCPTimestampServer((host, port))


def tcp_client(host: str, port: int, messages: list[bytes], timeout: float = 5.0) -> list[bytes]:
    """Send each message to a TCP timestamp server over ONE connection; return the replies.

    Send a message, wait for its reply, then send the next. Use `timeout`
    (seconds) for connecting and for every recv(), and always close the
    connection, even when something fails.
    """
    replies = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for message in messages:
            sock.sendall(message)
            replies.append(sock.recv(65536))
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
    """Start a UDP timestamp server in the background and return it at once.

    Every datagram received is answered, to its sender, with
    timestamp_reply(datagram). The returned object has server_address and
    close() with the same meaning as start_tcp_server's.
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
            sock.sendto(message, (host, port))
            data, _ = sock.recvfrom(65536)
            replies.append(data)
    return replies
