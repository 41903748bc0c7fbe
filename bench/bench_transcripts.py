"""What transcripts cost: the server benches with transcripts on and off, in the same run (a script, not a test).

    .venv/bin/python bench/bench_transcripts.py [--runs 36] [--only SMTP] [--pin]
    .venv/bin/python bench/bench_transcripts.py --control        # A/A: on in both, the bench's own spread
    git worktree add /tmp/before <commit> && \
    .venv/bin/python bench/bench_transcripts.py --before /tmp/before  # before/after/off in one run

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
server process's CPU time per operation, then the cost. The CPU time is the
steadier figure on a loaded machine: wall-clock throughput swings with what
the other programs do, while the server's own CPU per operation changes
little, and (the client waits for each reply) the server's extra CPU per
operation over its whole CPU per operation bounds the throughput lost when the
server is the bottleneck. It is read from the process's CPU clock
(clock_gettime of the clock id Linux gives every process: all its threads,
ended ones included, in nanoseconds; /proc's 10 ms ticks elsewhere), and the
cost is the median over the repetitions of on/off - 1 of each interleaved
pair, with the pairs' min-max. Target (issue 11): at most 10 %.

``--instructions`` (Linux, valgrind installed) counts instead of timing: each
server process runs under callgrind, once with one call of the workload and
once with three, and the difference of the two programs' instruction counts,
divided by the operations of two calls, is the instructions per operation
(start-up and shut-down cancel out). Counts do not depend on what else the
machine runs, so one repetition shows a difference that timing on a shared
machine needs dozens of pairs for; they leave out the kernel (the writes) and
cache misses, so they complement the CPU times, they do not replace them.
Background work on timers adds to a count when the run is slow, so the
repetitions' minimum is the figure.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import statistics
import subprocess
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
    """The process's CPU time so far (all its threads, ended ones included), in ns steps on Linux."""
    try:
        return time.clock_gettime((~pid << 3) | 2)  # Linux: the process's CPU clock (CPUCLOCK_SCHED)
    except OSError:
        pass
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


def start(root: Path, slot: str, transcripts: bool, code: Path | None = None):
    """One server process; code: the checkout whose local_servers it runs (default: this one)."""
    state_dir = root / slot
    state_dir.mkdir()
    bench_imap.make_mailbox(state_dir)
    options = {} if transcripts else {f"{name}_transcripts": "off" for name in SERVICES}
    if code is None:
        return control.start(state_dir, ephemeral=True, names=SERVICES, options=options)
    own = control.__file__  # control.start runs the package next to this file, from its folder:
    control.__file__ = str(code / "local_servers" / "control.py")  # point it at the other checkout
    try:
        return control.start(state_dir, ephemeral=True, names=SERVICES, options=options)
    finally:
        control.__file__ = own


def counted(root: Path, slot: str, transcripts: bool, code: Path | None, job, calls: int) -> int:
    """Instructions the server process runs (callgrind) to start, serve `calls` calls of job, and stop."""
    code = code or Path(__file__).resolve().parent.parent
    state_dir = root / f"{slot}-{calls}"
    state_dir.mkdir()
    bench_imap.make_mailbox(state_dir)
    out = state_dir / "callgrind.out"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m", "local_servers",
               "serve", "--state-dir", str(state_dir), "--ephemeral", "--only", ",".join(SERVICES)]
    if not transcripts:
        command += [arg for name in SERVICES for arg in ("--option", f"{name}_transcripts=off")]
    server = subprocess.Popen(command, cwd=code, env=dict(os.environ, PYTHONPATH=str(code)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while (handle := control.find(state_dir)) is None:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server under valgrind did not start ({state_dir})")
            time.sleep(0.5)
        for _ in range(calls):
            job(handle)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(300)
        except subprocess.TimeoutExpired:  # seen once (a server under valgrind that did not finish stopping)
            server.kill()
            server.wait()
            raise RuntimeError(f"the server under valgrind did not stop in 300 s, no counts ({state_dir})") from None
    return int(re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M).group(1))


def instructions(args, jobs: dict, slots: dict) -> int:
    """--instructions: instructions per operation of each workload, per slot, and the cost against off."""
    counts = {name: {slot: [] for slot in slots} for name in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.runs):
            for number, (name, (_unit, ops, job)) in enumerate(jobs.items()):
                for slot, (transcripts, code) in slots.items():
                    root = Path(tmp) / f"{rep}-{number}-{slot}"
                    root.mkdir()
                    one, three = (counted(root, slot, transcripts, code, job, calls) for calls in (1, 3))
                    counts[name][slot].append((three - one) / (2 * ops))
            print(f"run {rep + 1}/{args.runs} done", file=sys.stderr)
    compared = [slot for slot in slots if slot != "off"]
    print(f"\ninstructions per operation (callgrind, minimum of {args.runs} run(s); one call of the workload "
          "subtracted from three)\n")
    print("| workload | instructions per op, " + " / ".join(slots) + " | "
          + " | ".join(f"cost {slot}" for slot in compared) + " |")
    print("|---" * (2 + len(compared)) + "|")
    for name in jobs:
        best = {slot: min(counts[name][slot]) for slot in slots}
        spread = {slot: f" ({min(counts[name][slot]):,.0f}-{max(counts[name][slot]):,.0f})" if args.runs > 1 else ""
                  for slot in slots}
        print(f"| {name} | " + " / ".join(f"{best[slot]:,.0f}{spread[slot]}" for slot in slots) + " | "
              + " | ".join(f"{best[slot] / best['off'] - 1:+.1%}" for slot in compared) + " |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--n", type=int, default=300, help="messages / requests per workload (default 300)")
    parser.add_argument("--control", action="store_true",
                        help="A/A: transcripts on in both processes (the spread the bench has with no difference)")
    parser.add_argument("--before", type=Path, metavar="CHECKOUT",
                        help="a third process, transcripts on, running the local_servers of another checkout "
                             "(e.g. `git worktree add /tmp/before <commit>`): before and after in the same run")
    parser.add_argument("--pin", action="store_true",
                        help="Linux: the server processes on CPU 0, this client on CPU 1 (the slots alike)")
    parser.add_argument("--fresh", action="store_true",
                        help="new server processes for every repetition (one process can be 20 %% off another "
                             "running the same code, for its whole life)")
    parser.add_argument("--only", help="only the workloads whose name contains this (e.g. FTP)")
    parser.add_argument("--instructions", action="store_true",
                        help="count the server's instructions per operation under valgrind's callgrind instead of "
                             "timing (deterministic; no kernel time, no cache misses)")
    args = parser.parse_args()
    jobs = {name: job for name, job in workloads(args.n).items() if not args.only or args.only.lower() in name.lower()}
    slots = {"on": (True, None), "off": (args.control, None)}  # slot -> (transcripts, code)
    if args.before:
        slots["before"] = (True, args.before.resolve())
    if args.instructions:
        return instructions(args, jobs, slots)
    results = {name: {slot: [] for slot in slots} for name in jobs}
    cpu = {name: {slot: [] for slot in slots} for name in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        handles = {}

        def start_all(generation: int) -> None:
            for slot, (transcripts, code) in slots.items():
                handles[slot] = start(Path(tmp) / str(generation), slot, transcripts, code)
            if args.pin:
                for handle in handles.values():
                    for task in os.listdir(f"/proc/{handle.pid}/task"):  # threads made later inherit it
                        os.sched_setaffinity(int(task), {0})
                os.sched_setaffinity(0, {1})

        try:
            (Path(tmp) / "0").mkdir()
            start_all(0)
            names = list(slots)
            for rep in range(args.runs):
                if args.fresh and rep:  # new processes: one instance's own bias (placement, layout) averages out
                    for handle in handles.values():
                        control.stop(handle.state_dir)
                    (Path(tmp) / str(rep)).mkdir()
                    start_all(rep)
                order = names[rep % len(names):] + names[:rep % len(names)]  # each slot first in turn
                if rep // len(names) % 2:
                    order.reverse()
                for name, (_unit, ops, job) in jobs.items():
                    for slot in order:
                        handle = handles[slot]
                        before = cpu_seconds(handle.pid)
                        results[name][slot].append(job(handle))
                        cpu[name][slot].append((cpu_seconds(handle.pid) - before) / ops * 1e6)
                print(f"run {rep + 1}/{args.runs} done", file=sys.stderr)
            files = sorted((handles["on"].state_dir / "wire" / "transcripts").glob("*.jsonl"))
            disk = sum(f.stat().st_size for f in files)
        finally:
            for handle in handles.values():
                control.stop(handle.state_dir)
    print(f"\n{args.runs} runs, interleaved{' (control: on in both)' if args.control else ''}"
          f"{', pinned' if args.pin else ''}{', fresh processes each run' if args.fresh else ''}; load average {os.getloadavg()[0]:.1f} at the end; "
          f"transcripts on disk after the run: {len(files)} files, {disk / 2**20:.1f} MiB\n")
    compared = [slot for slot in slots if slot != "off"]
    print("| workload | server CPU per op, " + " / ".join(slots) + " (µs, medians) | "
          + " | ".join(f"CPU cost {slot}: median of pairs (min-max)" for slot in compared)
          + " | throughput " + " / ".join(slots) + " (medians) | " + " | ".join(f"throughput cost {slot}" for slot in compared) + " |")
    print("|---" * (3 + 2 * len(compared)) + "|")
    for name, (unit, _ops, _job) in jobs.items():
        row = [name, " / ".join(f"{statistics.median(cpu[name][slot]):,.1f}" for slot in slots)]
        for slot in compared:
            pairs = [a / b - 1 for a, b in zip(cpu[name][slot], cpu[name]["off"])]
            row.append(f"{statistics.median(pairs):+.1%} ({min(pairs):+.1%} to {max(pairs):+.1%})")
        row.append(" / ".join(f"{statistics.median(results[name][slot]):,.0f}" for slot in slots) + f" {unit}")
        off = statistics.median(results[name]["off"])
        row += [f"{1 - statistics.median(results[name][slot]) / off:+.1%}" for slot in compared]
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
