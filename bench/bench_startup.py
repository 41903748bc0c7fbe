"""Start-to-ready latency of all the bundled servers in a fresh process.

Measures, from the moment a new `python -m local_servers serve` process is
launched, how long until (a) it publishes state.json (every service listens)
and (b) every TCP service has answered a real first exchange (a greeting or
an HTTP response). Two cases: a warm state directory (certificates and seed
data exist: every start but the first), and a cold one (first start ever:
the CA is made and every service's data is seeded).

Run:  .venv/bin/python bench/bench_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# A student's Python caches compiled modules; a shell with PYTHONDONTWRITEBYTECODE
# set would make every start compile the servers' code again and measure that.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

GREETING_SERVICES = {"ftp", "smtp", "pop3", "imap", "nntp"}  # speak first on connect


def first_exchange(name: str, info: dict) -> None:
    address = (info["host"], info["port"])
    if name in GREETING_SERVICES:
        with socket.create_connection(address, timeout=10) as sock:
            if not sock.recv(512):
                raise RuntimeError(f"{name} sent no greeting")
    elif name in ("http", "inspector"):  # the inspector wants its token: any HTTP answer shows it is up
        conn = http.client.HTTPConnection(*address, timeout=10)
        conn.request("GET", "/get")
        if name == "http" and conn.getresponse().status != 200:
            raise RuntimeError("http did not answer 200")
        if name == "inspector" and not conn.getresponse().status:
            raise RuntimeError("the inspector did not answer")
        conn.close()
    else:  # echo, time: answer what they receive
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"x")
            if not sock.recv(512):
                raise RuntimeError(f"{name} did not answer")


def one_start(state_dir: Path) -> tuple[float, float]:
    state_file = state_dir / "state.json"
    state_file.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "local_servers", "serve", "--ephemeral",
                             "--state-dir", str(state_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV)
    try:
        while not state_file.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {state_dir / 'server.log'}")
            time.sleep(0.0005)
        listening = time.perf_counter() - t0
        services = json.loads(state_file.read_text())["services"]
        for name, info in services.items():
            first_exchange(name, info)
        answered = time.perf_counter() - t0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    return listening * 1000, answered * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    import compileall
    import local_servers

    compileall.compile_dir(Path(local_servers.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        cold = [one_start(Path(tmp) / f"cold{i}") for i in range(3)]
        warm_dir = Path(tmp) / "warm"
        one_start(warm_dir)  # make the certificates and seed data once
        warm = [one_start(warm_dir) for _ in range(args.runs)]
    services = json.dumps(sorted(__import__("local_servers.serve", fromlist=["SERVICES"]).SERVICES))
    print(f"services: {services}; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
    for label, runs in (("warm state dir", warm), ("cold (first start)", cold)):
        listening = statistics.median(r[0] for r in runs)
        answered = statistics.median(r[1] for r in runs)
        print(f"{label:20s} state.json after {listening:6.1f} ms, every service answered after "
              f"{answered:6.1f} ms (median of {len(runs)}; max {max(r[1] for r in runs):.1f} ms)")


if __name__ == "__main__":
    main()
