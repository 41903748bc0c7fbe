"""TLS in which a client's close_notify ends only the client's half.

RFC 8446 §6.1: close_notify says "I will send nothing more", not "stop
talking". A client may pipeline its last commands, send close_notify and
wait for the answers (that is how lftp and `openssl s_client` end a session).
asyncio's TLS layer (Python 3.11+) instead shuts the whole connection down
on close_notify, and every reply not yet written is lost.

HalfCloseSSLProtocol is asyncio's SSLProtocol with one change: after the
peer's close_notify (and a TCP FIN after it) the connection stays open for
writing until the application closes it, which it does once it has answered
everything the client sent. Use it in place of `ssl=` for a listener
(`tls_protocol_factory`) and for STARTTLS.

Python 3.10's TLS layer is a different implementation; there the standard
class is used unchanged (AVAILABLE is False), and the old behaviour stays.
"""

from __future__ import annotations

from asyncio import sslproto

#: True where asyncio's TLS layer is the one this module adjusts (3.11+).
AVAILABLE = hasattr(sslproto, "SSLProtocolState") and hasattr(sslproto.SSLProtocol, "_call_eof_received")


class HalfCloseSSLProtocol(sslproto.SSLProtocol):
    """asyncio's TLS protocol, except that the peer's close_notify closes only its direction."""

    _peer_done = False  # the client sent close_notify while the connection was up

    def _call_eof_received(self):
        if self._state == sslproto.SSLProtocolState.WRAPPED:
            self._peer_done = True
        super()._call_eof_received()  # the application sees the end of input

    def _app_still_open(self) -> bool:
        return self._app_transport is not None and not self._app_transport._closed

    def _start_shutdown(self):
        if self._peer_done and self._app_still_open():
            return  # the application closes (and we send close_notify) when it has answered
        super()._start_shutdown()

    def eof_received(self):
        if self._peer_done and self._state == sslproto.SSLProtocolState.WRAPPED and self._app_still_open():
            return True  # TCP FIN after close_notify: the client's half is closed; ours stays writable
        return super().eof_received()


def tls_protocol_factory(loop, app_factory, ssl_context):
    """A protocol factory for loop.create_server(): TLS from the first byte around app_factory()'s protocol."""
    return lambda: HalfCloseSSLProtocol(loop, app_factory(), ssl_context, None, server_side=True)
