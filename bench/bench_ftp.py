"""Benchmark the course's FTP server (a script, not a test).

    .venv/bin/python bench/bench_ftp.py [--runs 3] [--repeat 5] [--size-mb 200] [--sessions 100] [--pin]

(a) Throughput: RETR of a 200 MiB file with ftplib's default block size
    (8 KiB), against a raw loopback socket copy of the same size read in
    8 KiB pieces, in the same run. The ratio FTP / raw is the figure to
    watch (vsftpd: 0.83; stock pyftpdlib in its own process: 0.64). Each
    run times --repeat transfers of each kind, interleaved, and keeps the
    fastest of each (like timeit): a transfer lasts about 0.1 s, short
    enough for one scheduler hiccup on a busy machine to halve it.
(b) Concurrency: N sessions at once (connect, anonymous login, LIST, RETR a
    small file, QUIT); errors and latency percentiles.

The FTP server runs in its own process (local_servers.control.start with
ephemeral ports and a temporary state directory), as in the course. The
raw sender is a child process too, sending 200 MiB of random bytes from
memory with one sendall(): distinct data, as the FTP server sends, not one
small buffer again and again (which stays in the CPU cache and ran up to
15 % faster on this machine).
Each measurement is repeated --runs times, interleaved; the medians are
reported, as a Markdown table ready for bench/README.md.
"""

from __future__ import annotations

import argparse
import ftplib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_servers import control  # noqa: E402
from sessions import run_sessions  # noqa: E402

BLOCK = 8192  # ftplib's default blocksize for retrbinary

_RAW_SENDER = r"""
import os, socket, sys
data = os.urandom(int(sys.argv[1]))  # 200 MiB of distinct bytes, like the file FTP sends
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
conn, _ = server.accept()
conn.sendall(data)
conn.close()
"""


def raw_copy(size: int, server_cpus=None) -> float:
    """Seconds to receive `size` bytes over loopback from another process, 8 KiB per recv()."""
    sender = subprocess.Popen([sys.executable, "-c", _RAW_SENDER, str(size)], stdout=subprocess.PIPE, text=True)
    if server_cpus:
        os.sched_setaffinity(sender.pid, server_cpus)
    try:
        port = int(sender.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            started = time.perf_counter()
            received = 0
            while True:
                data = sock.recv(BLOCK)
                if not data:
                    break
                received += len(data)
            elapsed = time.perf_counter() - started
    finally:
        sender.wait(timeout=30)
    assert received == size, (received, size)
    return elapsed


def ftp_retr(handle, path: str, size: int) -> float:
    """Seconds for ftplib's retrbinary of `path` (default block size), counting the bytes."""
    received = 0

    def count(data: bytes) -> None:
        nonlocal received
        received += len(data)

    with ftplib.FTP() as ftp:
        ftp.connect(handle.ftp.host, handle.ftp.port, timeout=30)
        ftp.login()
        started = time.perf_counter()
        ftp.retrbinary(f"RETR {path}", count)
        elapsed = time.perf_counter() - started
    assert received == size, (received, size)
    return elapsed


def session(handle, small_file: str) -> None:
    """One client: connect, anonymous login, LIST, RETR a small file, QUIT."""
    with ftplib.FTP() as ftp:
        ftp.connect(handle.ftp.host, handle.ftp.port, timeout=30)
        ftp.login()
        ftp.retrlines("LIST /pub", lambda line: None)
        chunks: list[bytes] = []
        ftp.retrbinary(f"RETR {small_file}", chunks.append)
        ftp.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=200, help="size of the big file in MiB (default 200)")
    parser.add_argument("--repeat", type=int, default=5, help="transfers per run; the fastest counts (default 5)")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--pin", action="store_true",
                        help="Linux: run the servers (FTP and raw sender) on CPU 0 and this client on CPU 1, "
                             "for steadier figures on a busy machine")
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024

    with tempfile.TemporaryDirectory(prefix="bench-ftp-") as tmp:
        state_dir = Path(tmp)
        handle = control.start(state_dir, ephemeral=True, names=["ftp"])
        server_cpus = None
        if args.pin:
            server_cpus = {0}
            for task in os.listdir(f"/proc/{handle.pid}/task"):  # every thread of the server process
                os.sched_setaffinity(int(task), server_cpus)
            os.sched_setaffinity(0, {1})
        try:
            big = state_dir / "data" / "ftp" / "public" / "pub" / "bench.bin"
            block = os.urandom(1024 * 1024)
            with open(big, "wb") as out:
                for _ in range(args.size_mb):
                    out.write(block)
            raw_mbps, ftp_mbps, ratios = [], [], []
            for run in range(args.runs):
                # Best of --repeat interleaved transfers: a transfer lasts ~0.1 s, so one scheduler
                # hiccup on a shared machine would otherwise decide the figure.
                raws, ftps = [], []
                for _ in range(args.repeat):
                    raws.append(raw_copy(size, server_cpus))
                    ftps.append(ftp_retr(handle, "/pub/bench.bin", size))
                raw, ftp = min(raws), min(ftps)
                raw_mbps.append(size / raw / 1e6)
                ftp_mbps.append(size / ftp / 1e6)
                ratios.append(raw / ftp)
                print(f"run {run + 1}: raw {raw_mbps[-1]:,.0f} MB/s, FTP RETR {ftp_mbps[-1]:,.0f} MB/s, "
                      f"ratio {ratios[-1]:.2f}", flush=True)

            errors, p50s, p95s = [], [], []
            for run in range(args.runs):
                result = run_sessions(lambda i: session(handle, "/pub/docs/hello.txt"), args.sessions)
                if result.errors:
                    print(f"  {len(result.errors)} errors, e.g. {result.errors[0]!r}", file=sys.stderr)
                n_errors = len(result.errors)
                errors.append(n_errors)
                p50s.append(result.percentile_ms(0.50))
                p95s.append(result.percentile_ms(0.95))
                print(f"run {run + 1}: {args.sessions} sessions, {n_errors} errors, "
                      f"p50 {p50s[-1]:.0f} ms, p95 {p95s[-1]:.0f} ms", flush=True)
        finally:
            control.stop(state_dir)

    med = statistics.median
    print()
    print(f"| Workload ({args.runs} runs, medians; throughput: best of {args.repeat} per run) | Result |")
    print("|---|---|")
    print(f"| raw loopback copy, {args.size_mb} MiB, 8 KiB reads | {med(raw_mbps):,.0f} MB/s |")
    print(f"| FTP RETR {args.size_mb} MiB, ftplib default blocks | {med(ftp_mbps):,.0f} MB/s |")
    print(f"| ratio FTP / raw (median of per-run ratios) | {med(ratios):.2f} (per run: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}) |")
    print(f"| {args.sessions} concurrent sessions (login, LIST, RETR, QUIT) | errors {sum(errors)} of "
          f"{args.sessions * args.runs}, p50 {med(p50s):.0f} ms, p95 {med(p95s):.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
