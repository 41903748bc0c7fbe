"""The inspector's cost: its pages' latency, and what it takes from the mail servers while it is used.

One server process (SMTP, POP3, IMAP, NNTP and the inspector; ephemeral ports, a temporary state
directory) with 1000 extra messages in alice's INBOX. Measured:

(a) latency of each view, median and max of --repeat requests over one keep-alive connection:
    overview, the 1000-message mailbox (page 1), a message, the FTP-less tree, a news group;
(b) SMTP messages/s over one connection (smtplib.sendmail, 1 KB messages), three ways:
    no inspector traffic; one open tab (the live fragments every 2 s, as inspector.js polls);
    a client fetching the 1000-message mailbox page back to back (the worst a user can do by hand).

Results are medians of --runs runs. Run:
    .venv/bin/python bench/bench_inspector.py [--runs 3] [--messages 500] [--repeat 30]
"""

from __future__ import annotations

import argparse
import http.client
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local_servers import control  # noqa: E402
from local_servers.mail import mailstore  # noqa: E402

NAMES = ["smtp", "pop3", "imap", "nntp", "inspector"]


def body(i: int) -> bytes:
    text = f"Message {i} of the benchmark.\r\n" + "The quick brown fox jumps over the lazy dog.\r\n" * 20
    return (f"From: bench@example.test\r\nTo: bob@example.test\r\nSubject: bench {i}\r\n"
            f"Message-ID: <bench-{i}@example.test>\r\n\r\n{text}").encode()


class Client:
    """One keep-alive connection to the inspector, authenticated by its token."""

    def __init__(self, handle):
        url = urlsplit(handle.inspector_url)
        self.token = url.query.split("token=", 1)[1]
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def get(self, path: str) -> float:
        started = time.perf_counter()
        self.connection.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
        reply = self.connection.getresponse()
        reply.read()
        assert reply.status == 200, (path, reply.status)
        return time.perf_counter() - started


def smtp_rate(handle, count: int) -> float:
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=30) as client:
        client.ehlo()
        started = time.perf_counter()
        for i in range(count):
            client.sendmail("bench@example.test", ["bob@example.test"], body(i))
        return count / (time.perf_counter() - started)


def load(handle, paths: list[str], pause: float, stop: threading.Event) -> None:
    client = Client(handle)
    while not stop.is_set():
        for path in paths:
            client.get(path)
        stop.wait(pause)


def one_run(messages: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        handle = control.start(Path(tmp), ephemeral=True, names=NAMES)
        try:
            mail_dir = Path(tmp) / "data" / "mail"
            now = time.time()
            for i in range(1000):
                mailstore.deliver(mail_dir, "alice", body(i).replace(b"\r\n", b"\n"), when=now + i)
            key = mailstore.messages(mailstore.user_dir(mail_dir, "alice"))[-1].key
            views = {"overview": "/", "mailbox (1043 messages)": "/mail/alice/INBOX",
                     "message": f"/mail/alice/INBOX/{quote(key)}", "news group": "/news/comp.lang.python",
                     "live fragment": "/status?fragment=1"}
            client = Client(handle)
            result = {}
            for name, path in views.items():
                times = [client.get(path) for _ in range(repeat)]
                result[f"{name} median ms"] = statistics.median(times) * 1000
                result[f"{name} max ms"] = max(times) * 1000
            for case, paths, pause in (("SMTP msg/s, no inspector traffic", None, 0),
                                       ("SMTP msg/s, one open tab", ["/status?fragment=1", "/sessions?fragment=1",
                                                                     "/faults?fragment=1"], 2.0),
                                       ("SMTP msg/s, mailbox page back to back", ["/mail/alice/INBOX"], 0)):
                stop = threading.Event()
                thread = None
                if paths:
                    thread = threading.Thread(target=load, args=(handle, paths, pause, stop), daemon=True)
                    thread.start()
                    time.sleep(0.2)
                result[case] = smtp_rate(handle, messages)
                stop.set()
                if thread:
                    thread.join()
            return result
        finally:
            control.stop(Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    runs = [one_run(args.messages, args.repeat) for _ in range(args.runs)]
    print(f"Python {sys.version.split()[0]}, {args.runs} runs, medians (spread: min-max of the runs)\n")
    print("| Measure | Median | Spread |\n|---|---|---|")
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(f"| {key} | {statistics.median(values):.1f} | {min(values):.1f}-{max(values):.1f} |")


if __name__ == "__main__":
    main()
