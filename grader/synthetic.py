"""Synthetic submissions, made from solutions/ and labs/, to test the grader itself.

Each kind is a known way for a submission to be good or bad; the expected
score per lab follows from it, so a test (tests/grading/) and the bench
(bench/bench_grading.py) can check the grader's CSV.

    full          solutions/ as they are: full marks
    starter       labs/ untouched: 0 everywhere
    partial       the FTP and HTTP starters, one wrong UDP client, the rest solved
    hang          the TCP server runs in the foreground (it never returns) and leaves a
                  thread that never ends: each call is stopped at the test's time limit,
                  and the lab's other functions keep their points
    import_error  the SMTP module raises while it is imported
    syntax_error  the mail module does not compile
    crash         the TCP client ends its whole process (os._exit): its two checks fail,
                  the next check gets a fresh process
    stubborn      the NNTP module loops forever while it is imported, swallowing every
                  exception: its process is killed at the time limit, the NNTP lab gets 0
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .labs import LABS

KINDS = ("full", "starter", "partial", "hang", "import_error", "syntax_error", "stubborn", "crash")

_UDP_WRONG = '''

def udp_client(host, port, messages, timeout=5.0):
    """Wrong on purpose: forgets to wait for the replies."""
    return []
'''

_HANG = '''

def start_tcp_server(host="127.0.0.1", port=0):
    """Wrong on purpose: serves in the foreground, so it never returns, and leaves a thread behind."""
    import socketserver
    import threading
    import time

    threading.Thread(target=lambda: [time.sleep(0.2) for _ in iter(int, 1)], name="never-ends").start()
    server = socketserver.TCPServer((host, port), socketserver.BaseRequestHandler)
    server.serve_forever()
'''

_CRASH = '''

def tcp_client(host, port, messages, timeout=5.0):
    """Wrong on purpose: ends the whole process."""
    import os
    os._exit(3)
'''

_STUBBORN = '''

import time as _time

while True:  # wrong on purpose: swallows every exception, the per-test timeout included
    try:
        _time.sleep(0.5)
    except BaseException:
        pass
'''


def make(kind: str, target: Path, solutions: Path, starters: Path) -> Path:
    """Write one submission of `kind` into target (a new folder); return it."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    target = Path(target)
    shutil.copytree(starters if kind == "starter" else solutions, target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    def replace_with_starter(lab: str) -> None:
        shutil.copyfile(LABS[lab].path(starters), LABS[lab].path(target))

    def append(lab: str, text: str) -> None:
        path = LABS[lab].path(target)
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    if kind == "partial":
        replace_with_starter("ftp")
        replace_with_starter("http")
        append("sockets", _UDP_WRONG)
    elif kind == "hang":
        append("sockets", _HANG)
    elif kind == "import_error":
        append("smtp", '\nraise RuntimeError("wrong on purpose: fails while being imported")\n')
    elif kind == "syntax_error":
        append("mail", "\ndef broken(:\n    pass\n")
    elif kind == "stubborn":
        append("nntp", _STUBBORN)
    elif kind == "crash":
        append("sockets", _CRASH)
    return target


#: The tests that call start_tcp_server(), which the "hang" kind breaks.
HANG_BREAKS = ("test_tcp_server",)


def expected_scores(kind: str, maxima: dict[str, float], points: dict[str, float] | None = None) -> dict[str, float]:
    """The score per lab a correct grader gives `kind`.

    points: each sockets test's points by name (from a report of the solutions), for "hang".
    """
    scores = {lab: maxima[lab] for lab in maxima}
    if kind == "starter":
        return {lab: 0 for lab in maxima}
    if kind == "partial":
        scores.update(ftp=0, http=0, sockets=maxima["sockets"] - 2)
    elif kind == "hang":  # a hung start_tcp_server() costs its own tests, never the others
        broken = sum(p for name, p in (points or {}).items() if name.startswith(HANG_BREAKS))
        scores["sockets"] = maxima["sockets"] - broken
    elif kind == "import_error":
        scores["smtp"] = 0
    elif kind == "syntax_error":
        scores["mail"] = 0
    elif kind == "stubborn":  # its import is stopped at the time limit: the NNTP lab alone gets 0
        scores["nntp"] = 0
    elif kind == "crash":  # test_tcp_client and test_tcp_client_refused
        broken = sum(p for name, p in (points or {}).items() if name.startswith("test_tcp_client"))
        scores["sockets"] = maxima["sockets"] - broken
    return {lab: scores[lab] for lab in maxima}


def make_batch(folder: Path, kinds: list[str], solutions: Path, starters: Path) -> list[Path]:
    """One submission per kind (named 01-full, 02-partial, ...; sorted as given) under folder."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(len(kinds))))
    return [make(kind, Path(folder) / f"{i:0{width}d}-{kind}", solutions, starters) for i, kind in enumerate(kinds, 1)]
