"""Per-account rate limits: one token bucket per (service, account).

Each command a logged-in student sends takes a token from their bucket for
that service (and each byte of an FTP transfer one from a second bucket, which
pauses that student's transfer rather than refusing it); the bucket refills at `rate` tokens a second up to `burst`.
A student's runaway loop empties only their own bucket: the server answers
that account with its protocol's "try again later" and every other account
goes on as before. A small exchange (log in, a few commands, quit) never
comes near the limits.

Thread-safe: the FTP and HTTP services run in threads of their own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

#: Defaults: commands a second per account and service, and the burst a bucket holds.
RATE = 20.0
BURST = 200
#: FTP transfers (uploads and downloads together) per account: megabytes a second; the bucket
#: holds two seconds' worth, so a lesson's files never wait.
TRANSFER_MB = 20.0


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float, cost: float = 1.0) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class RateLimits:
    """The buckets of every account on every service, made on first use."""

    def __init__(self, rate: float = RATE, burst: float = BURST):
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate, self.burst = float(rate), float(burst)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self.refused: dict[tuple[str, str], int] = {}

    def allow(self, service: str, account: str, cost: float = 1.0) -> bool:
        """Take `cost` tokens from this account's bucket for this service; False when it is empty."""
        now = time.monotonic()
        key = (service, account)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, stamp=now)
            if bucket.take(now, cost):
                return True
            self.refused[key] = self.refused.get(key, 0) + 1
            return False

    def debit(self, service: str, account: str, amount: float) -> float:
        """Take `amount` (bytes) even beyond what the bucket holds; the seconds until it is out of debt.

        For transfers, which are slowed rather than refused: a positive answer means "pause this
        account's transfer that long", and the next debit waits for the refill.
        """
        now = time.monotonic()
        key = (service, account)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, stamp=now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate) - amount
            bucket.stamp = now
            return max(0.0, -bucket.tokens / self.rate)
