"""Where the time of bench_mail's 100 concurrent POP3 sessions goes: each step, and how long the lock is held.

bench_mail.py's row (d) reports p50/p95 and the [IN-USE] retries. The
sessions wait on the maildrop lock (RFC 1939: one session per maildrop,
from PASS to QUIT; three accounts), so what decides those figures is how
long each session holds the lock and how much server work the retries add.
This runs the same workload (bench_mail.one_run's second server: 100 SMTP
sessions, then the POP3 sessions, the same session function) and also times
each step of every successful session on the client: PASS (the lock is taken
here), STAT, RETR 1, QUIT (released before its reply), and "held", from
sending PASS to QUIT's reply, the client's view of the lock.

Each checkout's copy measures that checkout's servers:
    python <checkout>/bench/pop3_lock.py [--runs 3] [--option pop3_transcripts=off ...]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_mail  # noqa: E402
from local_servers import control  # noqa: E402

STEPS = ("pass", "stat", "retr", "quit", "held")
#: bench_mail's session itself, kept before main() swaps in a copy that records its steps
pop3_session = bench_mail.pop3_session


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a server option, e.g. pop3_transcripts=off")
    args = parser.parse_args()
    if args.option:  # the servers bench_mail starts get these options
        options = dict(item.split("=", 1) for item in args.option)
        bench_mail.control.start = functools.partial(control.start, options=options)
    # Only the concurrent part: one_run still starts its first server, but runs none of its throughput rows.
    bench_mail.smtp_one_connection = bench_mail.smtp_connection_each = bench_mail.pop3_retr = lambda *a: 0.0
    print("| run | p50 | p95 | IN-USE retries | median ms: " + " | ".join(STEPS) + " |")
    print("|---|---|---|---|" + "---|" * len(STEPS))
    for run in range(args.runs):
        steps: list[dict] = []
        bench_mail.pop3_session = functools.partial(pop3_session, steps=steps)
        result = bench_mail.one_run(0, args.sessions)["pop3_conc"]
        medians = " | ".join(f"{statistics.median(s[k] for s in steps) * 1000:.1f}" for k in STEPS)
        print(f"| {run + 1} | {result['p50']:.0f} ms | {result['p95']:.0f} ms | {result['retries']} "
              f"(errors {result['errors']}) | {medians} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
