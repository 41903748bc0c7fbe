"""Solutions to the exercises of notebooks/01_sockets.ipynb."""

from __future__ import annotations

import socket


def stamp_lines(address: tuple[str, int], lines: list[str]) -> list[str]:
    """Exercise 1: send each line to the time server over one TCP connection; return the replies."""
    replies = []
    with socket.create_connection(address, timeout=5) as conn:
        for line in lines:
            conn.sendall(line.encode("utf-8"))
            replies.append(conn.recv(1024).decode("utf-8"))
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
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
