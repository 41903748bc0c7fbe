"""N client sessions at once, timed: the concurrency part shared by the benchmarks.

Every bench (FTP, NNTP, IMAP, SMTP and POP3) measures its "N concurrent
sessions" row the same way, so that their figures compare: N threads wait
at one barrier, then each runs one session (a new connection, a few
commands, quit); the latency of a session is from the barrier to its end;
any exception counts as an error, not a crash; the threads are joined with
a timeout, so a hung session cannot hang the benchmark. Only what a client
does in its session stays in each script.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class SessionResult:
    """What `run_sessions` saw; the lists are in the order the sessions ended."""

    errors: list[BaseException] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, one per session that succeeded
    returns: list[Any] = field(default_factory=list)  # what each successful session returned, as latencies

    def percentile_ms(self, fraction: float) -> float:
        """A percentile of the latencies in milliseconds; NaN when no session succeeded."""
        return percentile(self.latencies, fraction) * 1000 if self.latencies else float("nan")


def run_sessions(session: Callable[[int], Any], count: int, timeout: float = 120) -> SessionResult:
    """Run session(0) ... session(count - 1) in `count` threads at once; join each within `timeout` s."""
    barrier = threading.Barrier(count)
    result = SessionResult()
    lock = threading.Lock()

    def client(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            started = time.perf_counter()
            returned = session(i)
            elapsed = time.perf_counter() - started
        except BaseException as exc:  # noqa: BLE001 - every failure counts as an error
            with lock:
                result.errors.append(exc)
            return
        with lock:
            result.latencies.append(elapsed)
            result.returns.append(returned)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return result


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` (0.95 for p95) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
