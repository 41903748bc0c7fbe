"""The sockets chapter's servers: a timestamp server and an echo server.

Both answer over TCP and over UDP on the same port number, the way the
chapter's first examples do:

- time: every chunk of data received comes back as  "[<ctime>] <data>",
  exactly what the classic TCP/UDP timestamp servers send;
- echo: every byte comes back unchanged (RFC 862).

They are written with asyncio protocols: data_received is called for each
chunk a TCP client sends, datagram_received for each UDP datagram.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time

from .handle import ServiceInfo
from .service import PortInUseError, Service, listen


def timestamp(data: bytes) -> bytes:
    """The chapter's reply: b'[Sat Nov 21 22:40:00 2026] ' + data."""
    return f"[{time.ctime()}] ".encode() + data


class _TCPReply(asyncio.Protocol):
    def __init__(self, reply):
        self.reply = reply

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(self.reply(data))


class _UDPReply(asyncio.DatagramProtocol):
    def __init__(self, reply):
        self.reply = reply

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.transport.sendto(self.reply(data), addr)


class _TCPAndUDPService(Service):
    """A service that answers the same way over TCP and UDP on one port number."""

    @staticmethod
    def reply(data: bytes) -> bytes:
        raise NotImplementedError

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(5):
            tcp = listen(self.ctx, self.name)
            port = tcp.getsockname()[1]
            try:
                udp = listen(self.ctx, self.name, socket.SOCK_DGRAM, port=port)
                break
            except PortInUseError:
                tcp.close()
                if self.ctx.ports[self.name] != 0 or attempt == 4:
                    raise  # a fixed port whose UDP twin is taken: say so
        self.port = port
        self.tcp_server = await loop.create_server(lambda: _TCPReply(self.reply), sock=tcp)
        self.udp_transport, _ = await loop.create_datagram_endpoint(lambda: _UDPReply(self.reply), sock=udp)

    async def stop(self) -> None:
        self.udp_transport.close()
        self.tcp_server.close()
        await self.tcp_server.wait_closed()

    def info(self) -> ServiceInfo:
        return dataclasses.replace(super().info(), udp_port=self.port)


class TimeService(_TCPAndUDPService):
    """The classic timestamp server: "[<ctime>] <data>" for whatever it receives."""

    name = "time"
    listeners = ("time",)
    reply = staticmethod(timestamp)


class EchoService(_TCPAndUDPService):
    """Echo (RFC 862): whatever it receives, unchanged."""

    name = "echo"
    listeners = ("echo",)

    @staticmethod
    def reply(data: bytes) -> bytes:
        return data
