"""How many connections one service holds: in all, and from one client address.

Every open connection costs a file descriptor (and for HTTP a thread), and
all services share one process: without a bound, one client opening
thousands of idle connections to one service could take every other service
down with it. A server asks `admit(address)` before it serves a connection
and answers the protocol's own "too many connections" reply when it is
refused (HTTP 503, SMTP 421, FTP 421); `release(address)` when it ends.

Thread-safe: HTTP admits in its accept thread and releases in each
connection's thread.
"""

from __future__ import annotations

import threading
from collections import Counter

from .service import Option
from .wire.transcripts import on_off

#: Defaults for every service (options <service>_max_connections and
#: <service>_max_per_address change them). A course machine's clients all
#: come from 127.0.0.1, so the per-address bound is what a lesson meets first;
#: it leaves room for a class's tests and benches, far below the process's
#: file-descriptor budget.
MAX_CONNECTIONS = 512
MAX_PER_ADDRESS = 256

#: The options every service that accepts connections declares (`up --option http_max_connections=100`).
OPTIONS = {
    "max_connections": Option(int, MAX_CONNECTIONS, "open connections at most (beyond: the busy reply)"),
    "max_per_address": Option(int, MAX_PER_ADDRESS, "open connections from one client address at most"),
    "transcripts": Option(on_off, True, "on/off: record each connection's dialogue (wire/transcripts.py)"),
}


class ConnectionLimit:
    """Counts open connections; refuses those beyond `total` or `per_address`."""

    def __init__(self, total: int = MAX_CONNECTIONS, per_address: int = MAX_PER_ADDRESS):
        if total < 1 or per_address < 1:
            raise ValueError("connection limits must be at least 1")
        self.total, self.per_address = total, per_address
        self._open: Counter[str] = Counter()
        self._count = 0
        self._lock = threading.Lock()

    @classmethod
    def of(cls, service) -> "ConnectionLimit":
        """The limits a service was started with (its options max_connections and max_per_address)."""
        return cls(service.option("max_connections"), service.option("max_per_address"))

    def admit(self, address: str) -> bool:
        """Count one more connection from `address`, or return False when it is one too many."""
        with self._lock:
            if self._count >= self.total or self._open[address] >= self.per_address:
                return False
            self._count += 1
            self._open[address] += 1
            return True

    def release(self, address: str) -> None:
        with self._lock:
            self._count -= 1
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    @property
    def count(self) -> int:
        return self._count
