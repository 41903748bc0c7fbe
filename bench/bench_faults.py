"""What fault injection costs the servers: server CPU time per command, with and without faults.

The hooks run on every connection (a stat of the fault table) and every
command (a look-up, a stat at most every 100 ms). Wall-clock throughput on
a shared machine varies far more than that costs, so this measures the
server process's own CPU time (utime + stime from /proc, Linux only) for

(a) POP3: STAT commands pipelined in batches over one session;
(b) POP3: new connections (connect, greeting, QUIT);

first with an empty fault table, then with five faults in force for another
service (IMAP), which every command must look through. With --baseline DIR
(a checkout of the commit before fault injection, e.g. `git worktree add` or
`git archive d2731a6 | tar -x -C DIR`) it also starts that code's servers and
measures them in the same interleaved loop, so a busy moment hits all cases.

    .venv/bin/python bench/bench_faults.py [--runs 5] [--commands 50000] [--connections 2000] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local_servers import control  # noqa: E402
from local_servers.handle import Handle  # noqa: E402
from local_servers.wire import faults  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def stat_commands(handle, count: int, batch: int = 100) -> None:
    with socket.create_connection(handle.pop3.address, timeout=30) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        for line in (b"USER alice\r\n", b"PASS alice-pw\r\n"):
            sock.sendall(line)
            reader.readline()
        for _ in range(count // batch):
            sock.sendall(b"STAT\r\n" * batch)
            for _ in range(batch):
                reader.readline()
        sock.sendall(b"QUIT\r\n")
        reader.readline()


def connections(handle, count: int) -> None:
    for _ in range(count):
        with socket.create_connection(handle.pop3.address, timeout=30) as sock:
            reader = sock.makefile("rb")
            reader.readline()
            sock.sendall(b"QUIT\r\n")
            reader.readline()


def measure(handle, work, *args) -> float:
    before = cpu_seconds(handle.pid)
    work(handle, *args)
    return cpu_seconds(handle.pid) - before


def start_baseline(checkout: Path) -> tuple[Handle, Path]:
    """The POP3 server of another checkout, in its own process, imported from that checkout."""
    state_dir = Path(tempfile.mkdtemp(prefix="bench-faults-baseline-"))
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    subprocess.run([sys.executable, "-m", "local_servers", "up", "--ephemeral", "--only", "pop3",
                    "--state-dir", str(state_dir)], cwd=checkout, env=env, check=True, capture_output=True)
    return Handle.from_dict(json.loads((state_dir / "state.json").read_text())), state_dir


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--commands", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=2_000)
    parser.add_argument("--baseline", type=Path, help="a checkout of the code before fault injection")
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    handle = control.start(state_dir, ephemeral=True, names=["pop3"])
    imap_faults = [dict(service="imap", kind="reply", code="NO", stage=verb)
                   for verb in ("SELECT", "FETCH", "LOGIN", "LIST", "STORE")]
    cases = {"this code, empty table": (handle, []), "this code, 5 faults for IMAP": (handle, imap_faults)}
    baseline_dir = None
    if args.baseline is not None:
        baseline, baseline_dir = start_baseline(args.baseline.resolve())
        cases = {"baseline (no fault hooks)": (baseline, []), **cases}
    results = {name: {"command": [], "connection": []} for name in cases}
    try:
        for server, _ in cases.values():
            stat_commands(server, 1000)  # warm up
        for _ in range(args.runs):
            for name, (server, rows) in cases.items():  # interleaved, so that a busy moment hits every case
                faults.clear(state_dir)
                for row in rows:
                    faults.add(state_dir, **row)
                results[name]["command"].append(
                    measure(server, stat_commands, args.commands) / args.commands * 1e6)
                results[name]["connection"].append(
                    measure(server, connections, args.connections) / args.connections * 1e6)
    finally:
        control.stop(state_dir)
        if baseline_dir is not None:
            control.stop(baseline_dir)
    print(f"Python {sys.version.split()[0]}, {args.runs} runs, server CPU per operation (median, min-max):\n")
    print("| Case | POP3 STAT | POP3 connect + QUIT |\n|---|---|---|")
    for name, found in results.items():
        cells = [f"{statistics.median(v):.1f} µs ({min(v):.1f}-{max(v):.1f})" for v in found.values()]
        print(f"| {name} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
