"""Does one connection's worst command stall the other services? (a script, not a test)

    .venv/bin/python bench/worst_case.py [--runs 3] [--window 1.0] [--only imap-search ...]

Every service of the course shares one process and one event loop (decision
0000), so a command that holds the loop for 200 ms holds every other
service's answers for 200 ms too. This harness measures exactly that:
worst_case_latency(servers, hog) runs `hog` (a client sending the most
expensive command a protocol accepts, again and again for --window seconds)
in one thread while another thread opens connections to every other service
and times the first answer (a greeting, or for echo/time/HTTP the reply to
one request). Target (issue 8): every other service answers within 100 ms.

The hogs, the worst each protocol accepts:

- pop3-login: PASS on a maildrop of 3000 messages (the login numbers them and
  sizes the new ones) followed by LIST and UIDL of all 3000;
- pop3-retr: RETR of a 9 MiB message (SMTP's size limit is 10 MiB);
- nntp-over: GROUP + OVER 1-1000 of a 1000-article group;
- nntp-newnews: NEWNEWS with a 500-character wildmat over every article;
- nntp-list: LIST ACTIVE with a 16-star wildmat (9.8 s before issue 8);
- nntp-post: POST of an article at the 1 MB limit;
- imap-search: SEARCH with the most keys it accepts (500 NOT BODY: 1000 keys, each
  reading every message) over the 3001-message INBOX; imap-search-small the
  same over 1:3000, without the 9 MiB message;
- imap-sort / imap-thread: SORT (SUBJECT) and THREAD REFERENCES of 1000;
- imap-fetch: FETCH 1:1000 (BODY.PEEK[]), about 1 MB;
- smtp-data: one message of 10 MB (under the 10 MiB limit) in DATA;
- ftp-list: LIST of a folder of 5000 files;
- http-bytes: GET /bytes/ of the maximum size (100 KiB).

The state directory is seeded, then filled before the servers start (3000
messages for alice, one of 9 MiB, bench_nntp's 1000-article group, the FTP
tree in alice's home).
"""

from __future__ import annotations

import argparse
import ftplib
import imaplib
import smtplib
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nntp import make_group  # noqa: E402
from local_servers import control, serve  # noqa: E402
from local_servers.mail import mailstore  # noqa: E402
from sessions import percentile  # noqa: E402

MESSAGES = 3000
BIG = 9 * 1024 * 1024
FTP_FILES = 5000


def first_answer(name: str, info) -> None:
    """Connect to one service and read its first answer (a greeting, or the reply to one request)."""
    with socket.create_connection(info.address, timeout=10) as sock:
        if name in ("echo", "time"):
            sock.sendall(b"ping\r\n")
        elif name in ("http", "inspector"):  # both answer a request, not with a greeting
            sock.sendall(b"GET /get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(100), f"{name} closed without a word"


def worst_case_latency(servers, hog: Callable[[], None], busy: str, window: float = 1.0) -> dict[str, float]:
    """Run hog() over and over for `window` s; meanwhile time every service but `busy`.

    Returns each other service's slowest first answer in ms, plus "hog": the
    median time of one hog() in ms (how long the loop may have been held).
    """
    others = {name: info for name, info in servers.services.items() if name != busy}
    latencies: dict[str, list[float]] = {name: [] for name in others}
    hog_times: list[float] = []
    stop = threading.Event()

    def hogging() -> None:
        try:
            deadline = time.monotonic() + window
            while time.monotonic() < deadline:
                started = time.perf_counter()
                hog()
                hog_times.append(time.perf_counter() - started)
        finally:
            stop.set()

    thread = threading.Thread(target=hogging)
    thread.start()
    while not stop.is_set():
        for name, info in others.items():
            started = time.perf_counter()
            first_answer(name, info)
            latencies[name].append(time.perf_counter() - started)
        time.sleep(0.01)
    thread.join()
    if not hog_times:
        raise RuntimeError(f"the hog failed (see above)")
    result = {name: max(values) * 1000 for name, values in latencies.items() if values}
    result["hog"] = statistics.median(hog_times) * 1000
    return result


# -- the hogs ---------------------------------------------------------------------

def _lines_until_dot(file) -> int:
    count = 0
    while file.readline() not in (b".\r\n", b""):
        count += 1
    return count


def pop3_hog(info, commands: list[bytes]) -> Callable[[], None]:
    def hog() -> None:
        with socket.create_connection(info.address, timeout=60) as sock:
            file = sock.makefile("rb")
            file.readline()
            for command in [b"USER alice", b"PASS alice-pw", *commands]:
                sock.sendall(command + b"\r\n")
                status = file.readline()
                assert status.startswith(b"+OK"), status
                if command.split()[0] in (b"LIST", b"UIDL", b"RETR"):
                    _lines_until_dot(file)
            sock.sendall(b"QUIT\r\n")
            file.readline()
    return hog


def nntp_hog(info, commands: list[bytes], multiline: bool = True) -> Callable[[], None]:
    def hog() -> None:
        with socket.create_connection(info.address, timeout=60) as sock:
            file = sock.makefile("rb")
            file.readline()
            for command in commands:
                sock.sendall(command + b"\r\n")
                status = file.readline()
                assert status[:1] in (b"2", b"3"), (command[:40], status)
                if status[:3] in (b"215", b"224", b"230"):
                    _lines_until_dot(file)
            sock.sendall(b"QUIT\r\n")
            file.readline()
    return hog


def big_article() -> bytes:
    head = b"From: a@example.test\r\nNewsgroups: course.test\r\nSubject: big\r\n\r\n"
    line = b"x" * 78 + b"\r\n"
    return head + line * ((1_000_000 - len(head)) // len(line) - 1) + b"."  # the hog adds the CRLF


def imap_hog(info, command: str, *args: str) -> Callable[[], None]:
    def hog() -> None:
        with imaplib.IMAP4(info.host, info.port, timeout=60) as client:
            client.login("alice", "alice-pw")
            client.select("INBOX", readonly=True)
            typ, data = client._simple_command(command, *args) if command != "FETCH" else client.fetch(*args)
            assert typ == "OK", (command, typ, data)
            client.logout()
    return hog


def smtp_hog(info) -> Callable[[], None]:
    message = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 10_000  # 10 MB, under the 10 MiB limit
    def hog() -> None:
        with smtplib.SMTP(info.host, info.port, timeout=60) as client:
            client.sendmail("bench@example.test", ["bob@example.test"], message)
    return hog


def ftp_hog(info) -> Callable[[], None]:
    def hog() -> None:
        with ftplib.FTP() as client:
            client.connect(info.host, info.port, timeout=60)
            client.login("alice", "alice-pw")
            lines: list[str] = []
            client.retrlines("LIST tree", lines.append)
            assert len(lines) >= FTP_FILES, len(lines)
    return hog


def http_hog(info) -> Callable[[], None]:
    def hog() -> None:
        with urllib.request.urlopen(f"http://{info.host}:{info.port}/bytes/999999999", timeout=60) as reply:
            assert len(reply.read()) >= 100 * 1024
    return hog


def hogs(servers) -> dict[str, tuple[str, Callable[[], None]]]:
    pop3, nntp, imap = servers.pop3, servers.nntp, servers.imap
    wildmat = b"*" + b"*".join(bytes([97 + i % 26]) for i in range(230))  # the line's 512 octets
    keys = " ".join(f"NOT BODY w{i}" for i in range(500))  # 1000 keys: the most a SEARCH may have
    return {
        "pop3-login": ("pop3", pop3_hog(pop3, [b"LIST", b"UIDL"])),
        "pop3-retr": ("pop3", pop3_hog(pop3, [b"RETR %d" % (MESSAGES + 1)])),
        "nntp-over": ("nntp", nntp_hog(nntp, [b"GROUP bench.thousand", b"OVER 1-1000"])),
        "nntp-newnews": ("nntp", nntp_hog(nntp, [b"NEWNEWS " + wildmat + b" 19700101 000000"])),
        "nntp-list": ("nntp", nntp_hog(nntp, [b"LIST ACTIVE " + b"*" * 16 + b"x"])),
        "nntp-post": ("nntp", nntp_hog(nntp, [b"POST", big_article()])),
        "imap-search": ("imap", imap_hog(imap, "SEARCH", keys)),
        "imap-search-small": ("imap", imap_hog(imap, "SEARCH", "1:3000 " + keys.split(" NOT", 1)[1][1:])),
        "imap-sort": ("imap", imap_hog(imap, "SORT", "(SUBJECT)", "UTF-8", "1:1000")),
        "imap-thread": ("imap", imap_hog(imap, "THREAD", "REFERENCES", "UTF-8", "1:1000")),
        "imap-fetch": ("imap", imap_hog(imap, "FETCH", "1:1000", "(BODY.PEEK[])")),
        "smtp-data": ("smtp", smtp_hog(servers.smtp)),
        "ftp-list": ("ftp", ftp_hog(servers.ftp)),
        "http-bytes": ("http", http_hog(servers.http)),
    }


def fill(state_dir: Path) -> None:
    serve.seed_missing(state_dir, list(serve.SERVICES))
    mail_dir = state_dir / serve.DATA_DIR / "mail"
    for i in range(MESSAGES):
        mailstore.deliver(mail_dir, "alice", b"Subject: filler %d\r\n\r\n%s\r\n" % (i, b"x" * 1000))
    mailstore.deliver(mail_dir, "alice", b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * (BIG // 1000))
    make_group(state_dir)
    tree = state_dir / serve.DATA_DIR / "ftp" / "home" / "alice" / "tree"
    tree.mkdir(parents=True)
    for i in range(FTP_FILES):
        (tree / f"file{i:05d}.txt").write_bytes(b"x" * 100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=float, default=1.0, help="seconds each hog runs per run")
    parser.add_argument("--only", nargs="*", default=[], metavar="HOG", help="run only these hogs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-worst-") as tmp:
        state_dir = Path(tmp)
        fill(state_dir)
        servers = control.start(state_dir, ephemeral=True)
        try:
            results: dict[str, list[dict[str, float]]] = {}
            for run in range(args.runs):
                for name, (busy, hog) in hogs(servers).items():
                    if args.only and name not in args.only:
                        continue
                    result = worst_case_latency(servers, hog, busy, args.window)
                    results.setdefault(name, []).append(result)
                    worst = max((v, k) for k, v in result.items() if k != "hog")
                    print(f"run {run + 1} {name}: one command {result['hog']:.0f} ms; slowest other service "
                          f"{worst[1]} {worst[0]:.0f} ms", file=sys.stderr)
        finally:
            control.stop(state_dir)
    print(f"\n| Hog ({args.runs} runs, medians) | one hog (ms) | slowest other service (ms) | p50 of the others (ms) |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        hog_ms = statistics.median(r["hog"] for r in runs)
        worst = statistics.median(max(v for k, v in r.items() if k != "hog") for r in runs)
        typical = statistics.median(percentile([v for k, v in r.items() if k != "hog"], 0.5) for r in runs)
        print(f"| {name} | {hog_ms:.0f} | {worst:.0f} | {typical:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
