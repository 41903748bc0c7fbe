"""Benchmark the course's NNTP server (a script, not a test).

    .venv/bin/python bench/bench_nntp.py [--runs 3] [--repeat 20] [--sessions 100]

(a) Listing a group: GROUP + OVER 1-1000 on an open connection, timed with
    nntplib (what a student's code sees: it also parses the 1000 lines) and
    with a bare socket (the server and the wire alone). INN 2.7 on these
    machines: about 3 ms. Each run takes the median of --repeat listings.
(b) Concurrency: N sessions at once, each a new connection: GROUP, OVER of
    a 100-article page, ARTICLE, QUIT. Errors and latency percentiles.

The server runs in its own process (local_servers.control.start with
ephemeral ports and a temporary state directory), as in the course. Before
it starts, the script seeds that state directory and adds a group
bench.thousand of 1000 threaded articles through NewsStore.post, the same
code path a POST takes. Every figure is the median of --runs runs,
printed as a Markdown table ready for bench/README.md.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_servers import control, serve  # noqa: E402
from local_servers.news.newsstore import NewsStore  # noqa: E402
from sessions import run_sessions  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib  # noqa: E402

GROUP = "bench.thousand"
ARTICLES = 1000


def make_group(state_dir: Path) -> None:
    """The seeded data plus a group of 1000 articles in threads of ten."""
    serve.seed_missing(state_dir, ["nntp"])
    store = NewsStore(state_dir / serve.DATA_DIR / "nntp")
    store.create_group(GROUP, "1000 articles for the benchmark", "y", created=1_700_000_000)
    for n in range(1, ARTICLES + 1):
        root = n - (n - 1) % 10
        headers = [f"From: User {n % 7} <user{n % 7}@example.test>", f"Newsgroups: {GROUP}",
                   f"Subject: {'Re: ' if n != root else ''}Thread {root}",
                   f"Message-ID: <bench.{n}@example.test>"]
        if n != root:
            headers.append("References: " + " ".join(f"<bench.{r}@example.test>" for r in range(root, n)))
        body = "".join(f"Line {i} of article {n}, with some text to make it realistic.\r\n" for i in range(20))
        store.post(("\r\n".join(headers) + "\r\n\r\n" + body).encode(), now=1_700_000_000 + n * 60)


def list_with_nntplib(client: nntplib.NNTP) -> float:
    started = time.perf_counter()
    client.group(GROUP)
    _, overviews = client.over((1, ARTICLES))
    elapsed = time.perf_counter() - started
    assert len(overviews) == ARTICLES
    return elapsed


def list_with_socket(sock: socket.socket, file) -> float:
    started = time.perf_counter()
    sock.sendall(f"GROUP {GROUP}\r\n".encode())
    assert file.readline().startswith(b"211")
    sock.sendall(f"OVER 1-{ARTICLES}\r\n".encode())
    assert file.readline().startswith(b"224")
    lines = 0
    while file.readline() != b".\r\n":
        lines += 1
    elapsed = time.perf_counter() - started
    assert lines == ARTICLES
    return elapsed


def session(info, seed: int) -> None:
    """One client, a new connection: GROUP, OVER of a 100-article page, ARTICLE, QUIT."""
    pick = random.Random(seed)
    with nntplib.NNTP(info.host, info.port, timeout=30) as news:
        news.group(GROUP)
        first = pick.randrange(1, ARTICLES - 100)
        assert len(news.over((first, first + 99))[1]) == 100
        news.article(pick.randrange(1, ARTICLES + 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20, help="listings per run (the median is kept)")
    parser.add_argument("--sessions", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-nntp-") as tmp:
        state_dir = Path(tmp)
        started = time.perf_counter()
        make_group(state_dir)
        print(f"made {ARTICLES} articles in {time.perf_counter() - started:.2f} s", file=sys.stderr)
        started = time.perf_counter()
        handle = control.start(state_dir, ephemeral=True, names=["nntp"])
        print(f"server ready (indexing {ARTICLES + 33} articles) in {time.perf_counter() - started:.2f} s",
              file=sys.stderr)
        info = handle.nntp
        try:
            lib_ms, raw_ms, errors, p50s, p95s, totals = [], [], [], [], [], []
            for run in range(args.runs):
                with nntplib.NNTP(info.host, info.port, timeout=30) as client:
                    lib_ms.append(statistics.median(list_with_nntplib(client) for _ in range(args.repeat)) * 1000)
                with socket.create_connection(info.address, timeout=30) as sock:
                    file = sock.makefile("rb")
                    file.readline()
                    raw_ms.append(statistics.median(list_with_socket(sock, file)
                                                    for _ in range(args.repeat)) * 1000)
                result = run_sessions(lambda i: session(info, i), args.sessions)
                if result.errors:
                    print(f"  {len(result.errors)} errors, e.g. {result.errors[0]!r}", file=sys.stderr)
                n_errors = len(result.errors)
                errors.append(n_errors)
                totals.append(len(result.latencies) + n_errors)
                p50s.append(result.percentile_ms(0.50))
                p95s.append(result.percentile_ms(0.95))
                print(f"run {run + 1}: GROUP+OVER 1000: nntplib {lib_ms[-1]:.1f} ms, socket {raw_ms[-1]:.1f} ms; "
                      f"{args.sessions} sessions: {n_errors} errors, p50 {p50s[-1]:.0f} ms, p95 {p95s[-1]:.0f} ms",
                      file=sys.stderr)
        finally:
            control.stop(state_dir)

    med = statistics.median
    print()
    print(f"| Workload ({args.runs} runs, medians) | Result | Target |")
    print("|---|---|---|")
    print(f"| GROUP + OVER 1-{ARTICLES}, nntplib (median of {args.repeat} per run) | {med(lib_ms):.1f} ms | ≤ 30 ms |")
    print(f"| same, bare socket | {med(raw_ms):.1f} ms | (INN 2.7: ~3 ms) |")
    print(f"| {args.sessions} concurrent sessions (GROUP, OVER 100, ARTICLE, QUIT) | errors {sum(errors)} of "
          f"{sum(totals)}, p50 {med(p50s):.0f} ms, p95 {med(p95s):.0f} ms | 0 errors, p95 ≤ 700 ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
