"""What transcripts cost: the server benches with transcripts on and off, in the same run (a script, not a test).

    .venv/bin/python bench/bench_transcripts.py [--runs 5]

Two server processes run side by side, the same services in each: one with
transcripts on (the default), one with ``--option <service>_transcripts=off``
for every service. Each repetition runs every workload once against each,
interleaved and in alternating order (on/off, then off/on), so the load that
other programs put on a shared machine hits both alike. The workloads are the
existing benches' own functions:

- SMTP, one connection, N messages (bench_mail.smtp_one_connection);
- SMTP, a new connection per message (bench_mail.smtp_connection_each);
- POP3 RETR of N messages in one session (bench_mail.pop3_retr);
- IMAP FETCH 1:* of 1000 messages over a bare socket (bench_imap.raw_fetch);
- FTP sessions: connect, login, LIST, RETR a small file, QUIT (bench_ftp.session);
- FTP RETR of the 32 MiB file (bench_ftp.ftp_retr);
- HTTP GET /get, N requests on one keep-alive connection (bench_http is a
  slowloris test, not a throughput one, so this one is new).

For each: operations per second (median and min-max over the runs) and the
server process's CPU time per operation (utime + stime from /proc, Linux),
then the cost: 1 - on/off of the medians. Target (issue 11): at most 10 %.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_servers import control  # noqa: E402
import bench_ftp  # noqa: E402
import bench_imap  # noqa: E402
import bench_mail  # noqa: E402

SERVICES = ["smtp", "pop3", "imap", "ftp", "http"]
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / TICK


def http_gets(handle, count: int) -> float:
    conn = http.client.HTTPConnection(handle.http.host, handle.http.port, timeout=30)
    started = time.perf_counter()
    for _ in range(count):
        conn.request("GET", "/get?course=python")
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def ftp_sessions(handle, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        bench_ftp.session(handle, "/pub/README.txt")
    return count / (time.perf_counter() - started)


def ftp_large(handle) -> float:
    size = handle.ftp.extra["large_file_size"]
    return size / 2**20 / bench_ftp.ftp_retr(handle, handle.ftp.extra["large_file"], size)


def imap_fetch(handle) -> float:
    return bench_imap.COUNT / (bench_imap.raw_fetch((handle.imap.host, handle.imap.port)) / 1000)


def workloads(n: int) -> dict:
    """name -> (unit, operations per call, function(handle) -> operations per second)."""
    return {
        "SMTP, one connection": ("messages/s", n, lambda h: bench_mail.smtp_one_connection(h, n)),
        "SMTP, connection per message": ("messages/s", n // 3, lambda h: bench_mail.smtp_connection_each(h, n // 3)),
        "POP3 RETR, one session": ("messages/s", n, lambda h: bench_mail.pop3_retr(h, n)),
        "IMAP FETCH 1:* (1000 messages)": ("messages/s", bench_imap.COUNT, imap_fetch),
        "FTP sessions (login, LIST, RETR, QUIT)": ("sessions/s", n // 3, lambda h: ftp_sessions(h, n // 3)),
        "FTP RETR 32 MiB": ("MiB/s", 1, ftp_large),
        "HTTP GET, keep-alive": ("requests/s", n, lambda h: http_gets(h, n)),
    }


def start(root: Path, on: bool):
    state_dir = root / ("on" if on else "off")
    state_dir.mkdir()
    bench_imap.make_mailbox(state_dir)
    options = {} if on else {f"{name}_transcripts": "off" for name in SERVICES}
    return control.start(state_dir, ephemeral=True, names=SERVICES, options=options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--n", type=int, default=300, help="messages / requests per workload (default 300)")
    args = parser.parse_args()
    jobs = workloads(args.n)
    results = {name: {True: [], False: []} for name in jobs}
    cpu = {name: {True: [], False: []} for name in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        handles = {True: start(Path(tmp), True), False: start(Path(tmp), False)}
        try:
            for rep in range(args.runs):
                order = (True, False) if rep % 2 == 0 else (False, True)
                for name, (_unit, ops, job) in jobs.items():
                    for on in order:
                        handle = handles[on]
                        before = cpu_seconds(handle.pid)
                        results[name][on].append(job(handle))
                        cpu[name][on].append((cpu_seconds(handle.pid) - before) / ops * 1e6)
                print(f"run {rep + 1}/{args.runs} done", file=sys.stderr)
            files = sorted((handles[True].state_dir / "wire" / "transcripts").glob("*.jsonl"))
            disk = sum(f.stat().st_size for f in files)
        finally:
            for handle in handles.values():
                control.stop(handle.state_dir)
    print(f"\n{args.runs} runs, interleaved; load average {os.getloadavg()[0]:.1f} at the end; "
          f"transcripts on disk after the run: {len(files)} files, {disk / 2**20:.1f} MiB\n")
    print("| workload | on: median (min-max) | off: median (min-max) | cost | server CPU per op on / off (µs) |")
    print("|---|---|---|---|---|")
    for name, (unit, _ops, _job) in jobs.items():
        on, off = results[name][True], results[name][False]
        cost = 1 - statistics.median(on) / statistics.median(off)
        cpu_on, cpu_off = statistics.median(cpu[name][True]), statistics.median(cpu[name][False])
        print(f"| {name} ({unit}) | {statistics.median(on):,.0f} ({min(on):,.0f}-{max(on):,.0f}) | "
              f"{statistics.median(off):,.0f} ({min(off):,.0f}-{max(off):,.0f}) | {cost:+.1%} | "
              f"{cpu_on:,.0f} / {cpu_off:,.0f} ({cpu_on / cpu_off - 1:+.0%}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
