"""Fresh clone to JupyterLab answering: how long a new student waits after typing `course.py start`.

    python3 bench/bench_install.py [--runs 3] [--installers pip,uv-bootstrap,uv-on-path] [--cold]

Each run: `git clone` of this checkout into a temporary folder, then `python3 course.py start` in it
with a fresh HOME (its own servers' state, Jupyter runtime folder, workspace), every server on a free
port and `--no-browser --ServerApp.port=0`; the clock stops when the start notebook's URL answers 200.
The course.py run's own output gives the split: environment ready, servers up, Lab answering.

Installers (course.py's COURSE_INSTALLER, and PATH):
- pip: `pip install -e .[course,test]` (what course.py did before uv);
- uv-bootstrap: no uv on PATH, so course.py installs uv into .venv with pip, then installs with it;
- uv-on-path: a uv on PATH (from a venv of the bench's own) is used at once.

PYTHONDONTWRITEBYTECODE is unset for the runs, as on a student's machine. Package caches (pip's and uv's) live in a folder of the bench, kept between runs ("warm": a first,
discarded run fills them); --cold gives every run empty caches (every package downloaded).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FREE_PORTS = ",".join(f"{name}=0" for name in (
    "echo", "time", "ftp", "smtp", "http", "pop3", "nntp", "imap", "https", "smtps", "nntps", "imaps", "pop3s", "inspector"))
URL = re.compile(r"(http://\S+/lab/tree/notebooks/00_start_here\.ipynb\?token=\w+)")
MARKS = {"environment ready": re.compile(r"environment is ready"),
         "servers up": re.compile(r"CA file")}


def uv_dir(work: Path) -> Path:
    """A uv of the bench's own, for the uv-on-path case."""
    target = work / "uv-venv"
    if not (target / "bin" / "uv").exists():
        venv.EnvBuilder(with_pip=True).create(target)
        subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "-q", "uv"], check=True)
    return target / "bin"


def one_run(installer: str, work: Path, caches: Path) -> dict:
    run = Path(tempfile.mkdtemp(prefix="ib-", dir="/tmp"))  # short: kernels' Unix sockets live in HOME
    home = run / "h"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "LOCAL_SERVERS", "COURSE_"))}
    env.update(HOME=str(home), LOCAL_SERVERS_HOME=str(run / "servers"), LOCAL_SERVERS_PORTS=FREE_PORTS,
               PIP_CACHE_DIR=str(caches / "pip"), UV_CACHE_DIR=str(caches / "uv"), PYTHONUNBUFFERED="1",
               COURSE_INSTALLER="pip" if installer == "pip" else "auto")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a student's machine: compiled modules are kept
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if "uv-venv" not in p)
    if installer == "uv-on-path":
        env["PATH"] = f"{uv_dir(work)}{os.pathsep}{env['PATH']}"
    elif shutil.which("uv", path=env["PATH"]):
        raise SystemExit("a uv is on PATH: the pip and uv-bootstrap cases would not measure what they say")
    clone = run / "course"
    started = time.monotonic()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    log = open(run / "start.log", "w+")
    process = subprocess.Popen([sys.executable, "course.py", "start", "--no-browser", "--ServerApp.port=0"],
                               cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    times, url = {}, None
    try:
        while time.monotonic() - started < 900 and process.poll() is None:
            log.seek(0)
            text = log.read()
            for name, mark in MARKS.items():
                if name not in times and mark.search(text):
                    times[name] = time.monotonic() - started
            found = URL.search(text)
            if found:
                url = found.group(1)
                try:
                    with urllib.request.urlopen(url, timeout=5) as reply:
                        if reply.status == 200:
                            times["Lab answering"] = time.monotonic() - started
                            break
                except OSError:
                    pass
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.seek(0)
        text = log.read()
        log.close()
        shutil.rmtree(run, ignore_errors=True)
    if "Lab answering" not in times:
        raise SystemExit(f"{installer}: JupyterLab never answered; course.py printed:\n{text}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--installers", default="pip,uv-bootstrap,uv-on-path")
    parser.add_argument("--cold", action="store_true", help="empty package caches for every run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-install-"))
    rows = []
    try:
        for installer in args.installers.split(","):
            caches = work / f"caches-{installer}"
            if not args.cold:
                one_run(installer, work, caches)  # fills the caches; not counted
            results = []
            for _ in range(args.runs):
                if args.cold:
                    shutil.rmtree(caches, ignore_errors=True)
                results.append(one_run(installer, work, caches))
                print(installer, {k: round(v, 1) for k, v in results[-1].items()}, flush=True)
            total = [r["Lab answering"] for r in results]
            env_ready = [r.get("environment ready", float("nan")) for r in results]
            rows.append(f"| {installer} | {'cold' if args.cold else 'warm'} | {statistics.median(env_ready):.1f} s | "
                        f"{statistics.median(total):.1f} s | {min(total):.1f}-{max(total):.1f} s |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nPython {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"median of {args.runs}:\n")
    print("| installer | package caches | environment ready | JupyterLab answering | spread |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
