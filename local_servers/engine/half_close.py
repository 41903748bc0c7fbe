"""TLS in which a client's close_notify ends only the client's half.

RFC 8446 §6.1: close_notify says "I will send nothing more", not "stop
talking". A client may pipeline its last commands, send close_notify and
wait for the answers (that is how lftp and `openssl s_client` end a session).
asyncio's TLS layer instead shuts the whole connection down on close_notify,
and every reply not yet written is lost.

HalfCloseSSLProtocol is asyncio's SSLProtocol with one change: the peer's
close_notify reaches the application as eof_received(), as a TCP FIN would,
and the connection stays open for writing until the application closes it,
which it does once it has answered everything the client sent. Use it in
place of `ssl=` for a listener (tls_protocol_factory) and for STARTTLS
(start_tls).

asyncio's TLS layer was rewritten in Python 3.11, so the change is made at
two places: 3.11+ has a state machine (SSLProtocolState) and one method that
tells the application of the end of input; 3.10 answers an empty read
(close_notify) in data_received() by calling _start_shutdown(), the method
the application's close() calls too.
"""

from __future__ import annotations

import asyncio
from asyncio import sslproto

#: asyncio's TLS layer of Python 3.11+ (else 3.10's).
NEW_TLS = hasattr(sslproto, "SSLProtocolState")


class HalfCloseSSLProtocol(sslproto.SSLProtocol):
    """asyncio's TLS protocol, except that the peer's close_notify closes only its direction."""

    _peer_done = False  # the client sent close_notify while the connection was up

    def _app_still_open(self) -> bool:
        return self._app_transport is not None and not self._app_transport._closed

    if NEW_TLS:
        def _call_eof_received(self):
            if self._state == sslproto.SSLProtocolState.WRAPPED:
                self._peer_done = True
            super()._call_eof_received()  # the application sees the end of input

        def _start_shutdown(self):
            if self._peer_done and self._app_still_open():
                return  # the application closes (and we send close_notify) when it has answered
            super()._start_shutdown()

        def _wrapped(self) -> bool:
            return self._state == sslproto.SSLProtocolState.WRAPPED
    else:
        def _start_shutdown(self):
            if self._app_still_open() and not self._in_handshake and not self._in_shutdown:
                if not self._peer_done:  # the close_notify itself, not the application's close()
                    self._peer_done = True
                    self._app_protocol.eof_received()  # the application sees the end of input
                return
            super()._start_shutdown()

        def _wrapped(self) -> bool:
            return not self._in_handshake and not self._in_shutdown

        def _finalize(self):
            # 3.10 calls this from inside the TLS shutdown, before it writes our close_notify:
            # closing the TCP transport only after that write sends it (the client waits for it).
            self._sslpipe = None
            if self._transport is not None:
                self._loop.call_soon(self._transport.close)

    def eof_received(self):
        if self._peer_done and self._wrapped() and self._app_still_open():
            return True  # TCP FIN after close_notify: the client's half is closed; ours stays writable
        return super().eof_received()


#: Seconds a client has for its TLS handshake.
HANDSHAKE_TIMEOUT = 30


def tls_protocol_factory(loop, app_factory, ssl_context):
    """A protocol factory for loop.create_server(): TLS from the first byte around app_factory()'s protocol."""
    return lambda: HalfCloseSSLProtocol(loop, app_factory(), ssl_context, None, server_side=True,
                                        ssl_handshake_timeout=HANDSHAKE_TIMEOUT)


async def start_tls(transport: asyncio.Transport, protocol: asyncio.Protocol, ssl_context) -> asyncio.Transport:
    """loop.start_tls() for a server, with HalfCloseSSLProtocol: the TLS transport once the handshake is done.

    Raises what the handshake raises (ssl.SSLError, ConnectionError, TimeoutError).
    """
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    tls = HalfCloseSSLProtocol(loop, protocol, ssl_context, waiter, server_side=True,
                               call_connection_made=False, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
    transport.pause_reading()  # as loop.start_tls: nothing is read before the TLS protocol is in place
    transport.set_protocol(tls)
    made, resumed = loop.call_soon(tls.connection_made, transport), loop.call_soon(transport.resume_reading)
    try:
        await waiter
    except BaseException:
        transport.close()
        made.cancel()
        resumed.cancel()
        raise
    return tls._app_transport
