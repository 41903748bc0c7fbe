"""A TLS client that decides itself when close_notify goes out: what lftp and `openssl s_client` do.

ssl.SSLSocket.unwrap() sends close_notify and then waits for the server's;
real clients often send theirs and close (or keep reading) at once. This one
runs TLS through memory buffers over a plain socket, so a test can send
close_notify at any moment and then read, or close, as it likes.
"""

from __future__ import annotations

import socket
import ssl


class TLSClient:
    """TLS over a socket through memory buffers, so the test decides when close_notify is sent."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext):
        self.sock, self.incoming, self.outgoing = sock, ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self._retry(self.tls.do_handshake)

    def _flush(self) -> None:
        if self.outgoing.pending:
            self.sock.sendall(self.outgoing.read())

    def _retry(self, operation):
        while True:
            try:
                result = operation()
                self._flush()
                return result
            except ssl.SSLWantReadError:
                self._flush()
                chunk = self.sock.recv(65536)
                if chunk:
                    self.incoming.write(chunk)
                else:  # the end of the connection: read() raises SSLEOFError unless close_notify came
                    self.incoming.write_eof()

    def send(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()

    def close_notify(self) -> None:
        """Send close_notify without waiting for the server's (what lftp and s_client do)."""
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        self._flush()

    def read_to_end(self) -> bytes:
        """Everything the server sends until its own close_notify or the end of the connection."""
        data = b""
        while True:
            try:
                chunk = self._retry(lambda: self.tls.read(65536))
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return data
            if not chunk:
                return data
            data += chunk
