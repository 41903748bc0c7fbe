"""The sockets chapter's servers, time and echo, each over TCP and over UDP on one port number, the way the chapter's
first examples do (each class says what it answers).

They are written with asyncio protocols: data_received is called for each chunk a TCP client sends,
datagram_received for each UDP datagram.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from typing import Callable

from ..limits import OPTIONS, ConnectionLimit
from ..handle import ServiceInfo
from ..service import PortInUseError, Service, close_servers, listen
from ..wire.transcripts import open_transcript


def timestamp(data: bytes) -> bytes:
    """The chapter's reply: b'[Sat Nov 21 22:40:00 2026] ' + data."""
    return f"[{time.ctime()}] ".encode() + data


class _TCPReply(asyncio.Protocol):
    def __init__(self, reply, limit: ConnectionLimit, service: Service):
        self.reply, self.limit, self.address, self.service = reply, limit, None, service
        self.received = self.sent = 0  # the transcript tells these, not the bytes

    def connection_made(self, transport):
        self.transport = transport
        self.admit(transport)

    def admit(self, transport) -> None:
        """Each service admits so many connections (limits.py); with no "too many" reply, one more is closed."""
        peer = transport.get_extra_info("peername") or ("unknown",)
        self.transcript = open_transcript(self.service, peer)
        if not self.limit.admit(peer[0]):
            self.transcript.note("refused: one connection too many")
            self.transcript.close()
            transport.close()
            return
        self.address = peer[0]

    def connection_lost(self, exc) -> None:
        if self.address is not None:
            self.limit.release(self.address)
            self.address = None
            self.transcript.summary("C", f"[{self.received} bytes]", self.received)
            self.transcript.summary("S", f"[{self.sent} bytes]", self.sent)
            self.transcript.close()

    def data_received(self, data: bytes) -> None:
        reply = self.reply(data)
        self.received += len(data)
        self.sent += len(reply)
        self.transport.write(reply)

    def pause_writing(self) -> None:
        """A client that sends without reading: stop reading it while the replies pile up (flow control)."""
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


class _UDPReply(asyncio.DatagramProtocol):
    def __init__(self, reply):
        self.reply = reply

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.transport.sendto(self.reply(data), addr)


class _TCPAndUDPService(Service):
    """A service that answers the same way over TCP and UDP on one port number."""

    options = OPTIONS
    reply: Callable[[bytes], bytes]  # a static method: the reply to some bytes received

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(5):
            tcp = listen(self.ctx, self.name)
            try:  # the UDP socket on the port number its TCP twin got
                udp = listen(self.ctx, self.name, socket.SOCK_DGRAM, port=tcp.getsockname()[1])
                break
            except PortInUseError:
                tcp.close()
                if self.ctx.ports[self.name] != 0 or attempt == 4:
                    raise  # a fixed port whose UDP twin is taken: say so
        limit = ConnectionLimit.of(self)
        self.tcp_server = await loop.create_server(lambda: _TCPReply(self.reply, limit, self), sock=tcp)
        self.udp_transport, _ = await loop.create_datagram_endpoint(lambda: _UDPReply(self.reply), sock=udp)

    async def stop(self) -> None:
        self.udp_transport.close()
        await close_servers([self.tcp_server])

    def info(self) -> ServiceInfo:
        return dataclasses.replace(super().info(), udp_port=self.ctx.bound[self.name])


class TimeService(_TCPAndUDPService):
    """The classic timestamp server: "[<ctime>] <data>" for whatever it receives."""

    name = "time"
    listeners = ("time",)
    reply = staticmethod(timestamp)


class EchoService(_TCPAndUDPService):
    """Echo (RFC 862): whatever it receives, unchanged."""

    name = "echo"
    listeners = ("echo",)
    reply = staticmethod(lambda data: data)
