"""IMAP: the course server against Dovecot's figures (see /work/shared/design/stack.md).

A mailbox of 1000 messages (about 2 KB each, delivered with
mailstore.deliver into alice's folder "Bench" before the server starts),
then, per run:

(a) FETCH 1:* (BODY.PEEK[]): 1000 messages' full text, with imaplib
    (which also parses the 1000 literals) and with a bare socket;
(b) SEARCH SUBJECT over the 1000: the first search (headers read from the
    files) and the next ones (decoded headers cached in memory);
(c) 100 sessions at once, each a new connection: LOGIN, SELECT, FETCH of 10
    messages or a SEARCH, LOGOUT. Errors and latency percentiles.

The server runs in its own process (local_servers.control.start), as in the
course. Medians of --runs runs.

--cpu measures instead the server's own CPU time for (a), in this process:
the FETCH command method over the same folder, writing to a sink. On a
shared machine wall-clock figures swing by a factor of two with the load;
process time compares two versions of the server fairly.

Run:  .venv/bin/python bench/bench_imap.py [--runs 3] [--sessions 100] [--cpu]
"""

from __future__ import annotations

import argparse
import imaplib
import socket
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_servers import control, serve  # noqa: E402
from local_servers.mail import mailstore  # noqa: E402
from sessions import percentile, run_sessions  # noqa: E402

FOLDER = "Bench"
COUNT = 1000


def make_mailbox(state_dir: Path) -> None:
    """Seed the mail store, then add 1000 messages to alice's folder Bench."""
    serve.seed_missing(state_dir, ["imap"])
    mail_dir = state_dir / serve.DATA_DIR / "mail"
    mailstore.open_box(mail_dir, "alice", create=True).add_folder(FOLDER)
    start = time.time() - COUNT
    for i in range(COUNT):
        msg = EmailMessage()
        msg["From"] = f"Sender {i % 37} <sender{i % 37}@example.org>"
        msg["To"] = "Alice Liddell <alice@example.test>"
        msg["Subject"] = f"{['Invoice', 'Meeting', 'Report', 'Lunch'][i % 4]} number {i}"
        msg["Date"] = "Mon, 02 Mar 2026 09:00:00 +0100"
        msg["Message-ID"] = f"<bench-{i}@example.test>"
        msg.set_content(("Line of benchmark text, number %d.\n" % i) * 50)
        mailstore.deliver(mail_dir, "alice", msg.as_bytes(), when=start + i, folder=FOLDER)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def raw_fetch(address) -> None:
    """FETCH 1:* over a bare socket: read until the tagged OK."""
    with socket.create_connection(address, timeout=30) as sock:
        file = sock.makefile("rb")
        file.readline()
        sock.sendall(b"a LOGIN alice alice-pw\r\nb SELECT Bench\r\n")
        while not file.readline().startswith(b"b "):
            pass
        start = time.perf_counter()
        sock.sendall(b"c FETCH 1:* (BODY.PEEK[])\r\n")
        total = 0
        while True:
            line = file.readline()
            if line.startswith(b"c "):
                break
            if line.endswith(b"}\r\n"):
                size = int(line[line.rindex(b"{") + 1:-3])
                total += len(file.read(size))
        elapsed = (time.perf_counter() - start) * 1000
        assert total > COUNT * 1000, total
        sock.sendall(b"d LOGOUT\r\n")
        return elapsed


def one_session(handle, i: int) -> None:
    """Session i (from 1), a new connection: LOGIN, SELECT, FETCH of 10 (odd i) or a SEARCH, LOGOUT."""
    client = imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=30)
    client.login("alice", "alice-pw")
    client.select(FOLDER, readonly=True)
    if i % 2:
        typ, data = client.fetch(f"{i}:{i + 9}", "(BODY.PEEK[] FLAGS)")
        assert typ == "OK" and len(data) == 20, (typ, len(data))
    else:
        typ, data = client.search(None, "SUBJECT", "report")
        assert typ == "OK" and len(data[0].split()) == COUNT // 4
    client.logout()


class _Sink:
    """A transport that counts and forgets what it is given."""

    def __init__(self):
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False


def server_cpu_fetch(repeats: int) -> list[float]:
    """CPU ms of the server's FETCH 1:* (BODY.PEEK[]) over the bench folder, without sockets or client."""
    import asyncio
    import types

    from local_servers.mail.imap import server as imap
    from local_servers.mail.imap.store import UserStore
    from local_servers.mail.imap.syntax import Args

    async def measure(state_dir: Path) -> list[float]:
        store = UserStore(state_dir / serve.DATA_DIR / "mail", "alice")
        # the parts of a service a session reads: its log, and the data folder (provider profiles live there)
        service = types.SimpleNamespace(log=imap.log, ctx=types.SimpleNamespace(data_dir=state_dir / serve.DATA_DIR))
        session = imap.Session(service, tls=False)
        session.transport = sink = _Sink()
        session.store, session.folder = store, store.folder(FOLDER)
        session.readonly, session.state, session.view = True, imap.SELECTED, list(session.folder.uids)
        times = []
        for _ in range(repeats):
            start = time.process_time()
            await session.cmd_fetch("c", Args(b" 1:* (BODY.PEEK[])"))
            await session.flush()
            times.append((time.process_time() - start) * 1000)
        assert sink.written > COUNT * 1000 * repeats
        return times

    with tempfile.TemporaryDirectory() as tmp:
        make_mailbox(Path(tmp))
        return asyncio.run(measure(Path(tmp)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--cpu", action="store_true", help="only the server's CPU time of FETCH 1:* (see above)")
    args = parser.parse_args()
    if args.cpu:
        runs = [statistics.median(server_cpu_fetch(15)) for _ in range(args.runs)]
        print(f"Python {sys.version.split()[0]}: FETCH 1:* (BODY.PEEK[]) of {COUNT}, server CPU, median of 15 "
              f"per run: {', '.join(f'{t:.1f}' for t in runs)} ms (median {statistics.median(runs):.1f} ms)")
        return

    fetch_lib, fetch_raw, search_cold, search_warm = [], [], [], []
    all_latencies, all_errors = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            state_dir = Path(tmp)
            make_mailbox(state_dir)
            handle = control.start(state_dir, ephemeral=True, names=["imap"])
            try:
                client = imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=30)
                client.login("alice", "alice-pw")
                assert client.select(FOLDER, readonly=True) == ("OK", [str(COUNT).encode()])
                search_cold.append(timed(lambda: client.search(None, "SUBJECT", "invoice")))
                search_warm.append(statistics.median(
                    timed(lambda: client.search(None, "SUBJECT", "invoice")) for _ in range(5)))
                typ, data = client.search(None, "SUBJECT", "invoice")
                assert len(data[0].split()) == COUNT // 4
                fetch_lib.append(timed(lambda: client.fetch("1:*", "(BODY.PEEK[])")))
                client.logout()
                fetch_raw.append(raw_fetch(handle.imap.address))
                result = run_sessions(lambda i: one_session(handle, i + 1), args.sessions)
                all_latencies += result.latencies
                all_errors += [repr(exc) for exc in result.errors]
            finally:
                control.stop(state_dir)
        print(f"run {run + 1}: fetch {fetch_lib[-1]:.1f} ms (raw {fetch_raw[-1]:.1f}), search cold "
              f"{search_cold[-1]:.1f} ms warm {search_warm[-1]:.2f} ms, sessions p95 "
              f"{result.percentile_ms(0.95):.0f} ms, errors {len(result.errors)}",
              file=sys.stderr)

    med = statistics.median
    print(f"Python {sys.version.split()[0]}, {args.runs} runs, medians:\n")
    print("| Workload | Result | Target |")
    print("|---|---|---|")
    print(f"| FETCH 1:* (BODY.PEEK[]) of 1000, imaplib | {med(fetch_lib):.0f} ms | ≤ 110 ms (Dovecot 2.3: 11 ms) |")
    print(f"| same, bare socket | {med(fetch_raw):.0f} ms | |")
    print(f"| SEARCH SUBJECT over 1000, first search | {med(search_cold):.1f} ms | (Dovecot 2.3: 1.7 ms) |")
    print(f"| same, later searches (headers cached) | {med(search_warm):.1f} ms | |")
    total = len(all_latencies) + len(all_errors)
    if all_latencies:
        print(f"| {args.sessions} concurrent sessions (LOGIN, SELECT, FETCH 10 or SEARCH, LOGOUT) | errors "
              f"{len(all_errors)} of {total}, p50 {percentile(all_latencies, 0.50) * 1000:.0f} ms, "
              f"p95 {percentile(all_latencies, 0.95) * 1000:.0f} ms | 0 errors, p95 ≤ 700 ms |")
    if all_errors:
        print("\nerrors:", *sorted(set(all_errors))[:5], sep="\n  ")


if __name__ == "__main__":
    main()
