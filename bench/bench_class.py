"""A class server under a class: 300 roster accounts, 100 students working at once.

Each run starts a class server with the real command line (`up --class` with a roster of 300,
ephemeral ports, default rate limits, a fresh temporary state directory), then 100 students
(s001 ... s100, one thread each) start together at one barrier (bench/sessions.py) and each
runs one small, realistic session on every protocol, in a rotated order so that all five
protocols are busy at the same time:

    SMTP  EHLO, STARTTLS, AUTH, one message to the next student, QUIT
    POP3  USER/PASS, STAT, RETR 1, QUIT
    IMAP  LOGIN, SELECT INBOX, SEARCH UNSEEN, FETCH 1 (header), LOGOUT
    NNTP  AUTHINFO, GROUP class.<name>.discuss, POST one article as themselves, OVER, QUIT
    FTP   USER/PASS, STOR a small file, NLST, RETR welcome.txt, QUIT (passive data connections)

A session's latency is from its connect to its end. Any exception is an error of that
protocol (the goal: 0). Per protocol: p50, p95 and max over the 100 sessions of a run.

    .venv/bin/python bench/bench_class.py [--runs 3] [--students 100] [--roster 300] [--only smtp ...]
"""

from __future__ import annotations

import argparse
import ftplib
import imaplib
import io
import os
import poplib
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib

from local_servers import control  # noqa: E402
from local_servers.classroom import passwords  # noqa: E402
from sessions import percentile, run_sessions  # noqa: E402

DOMAIN = "example.test"
PROTOCOLS = ("smtp", "pop3", "imap", "nntp", "ftp")
TIMEOUT = 60


def start_class(base: Path, roster_size: int) -> tuple[Path, object]:
    roster = base / "roster.csv"
    roster.write_text("login,display name\n" + "".join(f"s{n:03d},Student {n:03d}\n"
                                                       for n in range(1, roster_size + 1)), encoding="utf-8")
    state_dir = base / "state"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "local_servers", "up", "--class", str(roster), "--ephemeral",
                             "--state-dir", str(state_dir)], capture_output=True, text=True, env=env, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"the class server did not start: {result.stderr}")
    print(f"    `up --class` with {roster_size} students (first start: seeds every student's data): "
          f"{time.perf_counter() - started:.1f} s")
    return state_dir, control.find(state_dir)


def sessions_for(handle, secrets: dict[str, str], group: str, students: int):
    context = handle.ssl_context()

    def smtp(login: str, n: int) -> None:
        to = f"s{n % students + 1:03d}@{DOMAIN}"
        with smtplib.SMTP(*handle.smtp.address, timeout=TIMEOUT) as client:
            client.starttls(context=context)
            client.login(login, secrets[login])
            client.sendmail(f"{login}@{DOMAIN}", [to], (f"From: {login}@{DOMAIN}\r\nTo: {to}\r\n"
                                                        f"Subject: bench from {login}\r\n\r\nHello!\r\n").encode())

    def pop3(login: str, n: int) -> None:
        client = poplib.POP3(*handle.pop3.address, timeout=TIMEOUT)
        client.user(login)
        client.pass_(secrets[login])
        count, _ = client.stat()
        assert count > 0
        client.retr(1)
        client.quit()

    def imap(login: str, n: int) -> None:
        with imaplib.IMAP4(*handle.imap.address, timeout=TIMEOUT) as client:
            client.login(login, secrets[login])
            assert client.select("INBOX")[0] == "OK"
            assert client.search(None, "UNSEEN")[0] == "OK"
            assert client.fetch("1", "(BODY.PEEK[HEADER])")[0] == "OK"
            client.logout()

    def nntp(login: str, n: int) -> None:
        client = nntplib.NNTP(*handle.nntp.address, timeout=TIMEOUT)
        client.login(login, secrets[login])
        client.group(group)
        client.post(io.BytesIO(f"From: Student <{login}@{DOMAIN}>\r\nNewsgroups: {group}\r\n"
                               f"Subject: bench {login}\r\n\r\nA question for the class.\r\n".encode()))
        _, _, first, last, _ = client.group(group)
        client.over((max(first, last - 5), last))
        client.quit()

    def ftp(login: str, n: int) -> None:
        with ftplib.FTP(timeout=TIMEOUT) as client:
            client.connect(*handle.ftp.address)
            client.login(login, secrets[login])
            client.storbinary(f"STOR bench-{n}.txt", io.BytesIO(b"x" * 2048))
            assert f"bench-{n}.txt" in client.nlst()
            got = io.BytesIO()
            client.retrbinary("RETR welcome.txt", got.write)
            client.quit()

    return {"smtp": smtp, "pop3": pop3, "imap": imap, "nntp": nntp, "ftp": ftp}


def one_run(roster_size: int, students: int) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        state_dir, handle = start_class(Path(tmp), roster_size)
        try:
            secrets = passwords.load(state_dir)
            run = sessions_for(handle, secrets, handle.server_set["group"], students)
            latencies: dict[str, list[float]] = defaultdict(list)
            errors: dict[str, list[str]] = defaultdict(list)
            lock = threading.Lock()

            def student(i: int) -> None:
                login = f"s{i + 1:03d}"
                k = i % len(PROTOCOLS)
                order = PROTOCOLS[k:] + PROTOCOLS[:k]
                for name in order:
                    started = time.perf_counter()
                    try:
                        run[name](login, i + 1)
                    except Exception as exc:  # noqa: BLE001 - counted, never fatal
                        with lock:
                            errors[name].append(f"{login}: {type(exc).__name__}: {exc}")
                        continue
                    with lock:
                        latencies[name].append(time.perf_counter() - started)

            result = run_sessions(student, students, timeout=600)
            for exc in result.errors:
                errors["harness"].append(repr(exc))
            return latencies, errors
        finally:
            control.stop(state_dir)


def main() -> None:
    global PROTOCOLS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--roster", type=int, default=300)
    parser.add_argument("--only", choices=PROTOCOLS, action="append",
                        help="run only these protocols' sessions (repeatable), to see one alone")
    args = parser.parse_args()
    PROTOCOLS = tuple(args.only or PROTOCOLS)
    print(f"class server: roster {args.roster}, {args.students} students at once, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}")
    print("| run | protocol | sessions ok | errors | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    total_errors = 0
    for run in range(1, args.runs + 1):
        latencies, errors = one_run(args.roster, args.students)
        for name in PROTOCOLS:
            values = latencies.get(name, [])
            total_errors += len(errors.get(name, []))
            cells = [f"{percentile(values, f) * 1000:.0f}" if values else "-" for f in (0.5, 0.95, 1.0)]
            print(f"| {run} | {name} | {len(values)} | {len(errors.get(name, []))} | {' | '.join(cells)} |")
        for name, messages in errors.items():
            total_errors += len(messages) if name == "harness" else 0
            for message in messages[:3]:
                print(f"    {name} error: {message}")
        print(f"    (load after run {run}: {os.getloadavg()[0]:.1f})")
    print(f"errors in all runs: {total_errors}")


if __name__ == "__main__":
    main()
