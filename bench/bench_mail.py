"""SMTP and POP3 throughput and concurrency against the bundled mail servers.

Each run starts SMTP+POP3 in their own process (local_servers.control.start,
ephemeral ports, a fresh temporary state directory) and measures:

(a) SMTP messages/s into the store over one connection (smtplib.sendmail);
(b) SMTP messages/s with a new connection per message (connect, EHLO, send, QUIT);
(c) POP3 RETR of 1000 messages in one session (poplib), messages/s;
(d) 100 concurrent sessions per protocol, each a new connection:
    SMTP: EHLO, one message, QUIT;  POP3: USER/PASS, STAT, RETR 1, QUIT.
    POP3 locks a maildrop per session (RFC 1939) and the course has three
    accounts, so a session told [IN-USE] retries after a short pause, as a
    real client would; those retries are counted, and the session's latency
    includes them. Anything else that fails counts as an error.

Results are medians of the runs. Run:
    .venv/bin/python bench/bench_mail.py [--runs 3] [--messages 1000] [--sessions 100]
"""

from __future__ import annotations

import argparse
import poplib
import smtplib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_servers import control  # noqa: E402
from sessions import run_sessions  # noqa: E402

USERS = ("alice", "bob", "carol")


def body(i: int) -> bytes:
    """A typical small message, about 1 KB."""
    text = f"Message {i} of the benchmark.\r\n" + "The quick brown fox jumps over the lazy dog.\r\n" * 20
    return (f"From: bench@example.test\r\nTo: bob@example.test\r\nSubject: bench {i}\r\n"
            f"Message-ID: <bench-{i}@example.test>\r\n\r\n{text}").encode()


def smtp_one_connection(handle, count: int) -> float:
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=30) as client:
        client.ehlo()
        started = time.perf_counter()
        for i in range(count):
            client.sendmail("bench@example.test", ["bob@example.test"], body(i))
        elapsed = time.perf_counter() - started
    return count / elapsed


def smtp_connection_each(handle, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=30) as client:
            client.sendmail("bench@example.test", ["carol@example.test"], body(i))
    return count / (time.perf_counter() - started)


def pop3_retr(handle, count: int) -> float:
    client = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=30)
    client.user("bob")
    client.pass_("bob-pw")
    available = client.stat()[0]
    assert available >= count, f"bob has {available} messages, fewer than {count}"
    started = time.perf_counter()
    for n in range(1, count + 1):
        client.retr(n)
    elapsed = time.perf_counter() - started
    client.quit()
    return count / elapsed


def smtp_session(handle, i: int) -> int:
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=30) as client:
        client.sendmail("bench@example.test", [f"{USERS[i % 3]}@example.test"], body(i))
    return 0


def pop3_session(handle, i: int, steps: list[dict] | None = None) -> int:
    """One POP3 session; returns how many times it was told [IN-USE] first.

    steps: if given, the session that got in appends the seconds of each step (bench/pop3_lock.py)."""
    user = USERS[i % 3]
    for retries in range(200):
        client = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=30)
        try:
            client.user(user)
            start = time.perf_counter()
            client.pass_(f"{user}-pw")
        except poplib.error_proto as exc:
            client.close()
            if b"[IN-USE]" not in exc.args[0]:
                raise
            time.sleep(0.005)
            continue
        logged_in = time.perf_counter()
        client.stat()
        stat = time.perf_counter()
        client.retr(1)
        retr = time.perf_counter()
        client.quit()
        end = time.perf_counter()
        if steps is not None:
            steps.append({"pass": logged_in - start, "stat": stat - logged_in, "retr": retr - stat,
                          "quit": end - retr, "held": end - start})
        return retries
    raise RuntimeError("still [IN-USE] after 200 tries")


def concurrent(handle, session, sessions: int) -> dict:
    """`sessions` at once of session(handle, i), which returns its [IN-USE] retries."""
    result = run_sessions(lambda i: session(handle, i), sessions)
    return {"errors": len(result.errors), "sessions": sessions, "retries": sum(result.returns),
            "p50": result.percentile_ms(0.50), "p95": result.percentile_ms(0.95),
            "first_error": f"{type(result.errors[0]).__name__}: {result.errors[0]}" if result.errors else ""}


def one_run(messages: int, sessions: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-mail-") as tmp:
        handle = control.start(Path(tmp), ephemeral=True, names=["smtp", "pop3"])
        try:
            result = {
                "smtp_one": smtp_one_connection(handle, messages),
                "smtp_each": smtp_connection_each(handle, min(messages, 300)),
                "pop3_retr": pop3_retr(handle, messages),
            }
        finally:
            control.stop(Path(tmp))
    with tempfile.TemporaryDirectory(prefix="bench-mail-") as tmp:  # small mailboxes for the sessions
        handle = control.start(Path(tmp), ephemeral=True, names=["smtp", "pop3"])
        try:
            result["smtp_conc"] = concurrent(handle, smtp_session, sessions)
            result["pop3_conc"] = concurrent(handle, pop3_session, sessions)
        finally:
            control.stop(Path(tmp))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=100)
    args = parser.parse_args()
    runs = []
    for r in range(args.runs):
        runs.append(one_run(args.messages, args.sessions))
        run = runs[-1]
        print(f"run {r + 1}: smtp one connection {run['smtp_one']:.0f}/s, connection each {run['smtp_each']:.0f}/s, "
              f"pop3 retr {run['pop3_retr']:.0f}/s, smtp x{args.sessions} {run['smtp_conc']}, "
              f"pop3 x{args.sessions} {run['pop3_conc']}", file=sys.stderr)

    def med(key, sub=None):
        return statistics.median(r[key][sub] if sub else r[key] for r in runs)

    py = ".".join(map(str, sys.version_info[:3]))
    print(f"\nPython {py}, {args.runs} runs, medians:\n")
    print("| Workload | Result | Target |")
    print("|---|---|---|")
    print(f"| SMTP, {args.messages} messages over one connection | {med('smtp_one'):,.0f} msg/s | ≥ 950 msg/s (Postfix 3.7: 947) |")
    print(f"| SMTP, a new connection per message | {med('smtp_each'):,.0f} msg/s | (aiosmtpd prototype: 560) |")
    print(f"| POP3 RETR of {args.messages} messages, one session | {med('pop3_retr'):,.0f} msg/s | ≥ 4,500 msg/s (Dovecot 2.3: ~9,300) |")
    for key, name in (("smtp_conc", "SMTP"), ("pop3_conc", "POP3")):
        errors = sum(r[key]["errors"] for r in runs)
        total = sum(r[key]["sessions"] for r in runs)
        extra = f", {med(key, 'retries'):.0f} IN-USE retries" if key == "pop3_conc" else ""
        print(f"| {args.sessions} concurrent {name} sessions | errors {errors} of {total}, "
              f"p50 {med(key, 'p50'):.0f} ms, p95 {med(key, 'p95'):.0f} ms{extra} | 0 errors, p95 ≤ 700 ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
