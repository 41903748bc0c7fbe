"""Issue 10's acceptance: three Unix users on one machine, nothing configured, each running
ensure_running() and chapter 2 at the same time: all succeed, each with their own servers, ports, mail
and files; the first keeps the well-known ports, the others get blocks they keep across a restart.

Root only (it creates the users, removed at the end). It needs the course's default ports free, so
run it as the notebooks are run: `flock /tmp/course-default-ports.lock ...` (CI's whole run holds it).
"""

from __future__ import annotations

import ftplib
import io
import json
import poplib
import smtplib
import stat
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from unix_users import ROOT_ONLY, new_students

from local_servers import config
from local_servers import ports as port_blocks

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("student_run.py")
CHAPTER_2 = REPO / "notebooks" / "02_ftp.ipynb"

pytestmark = [*ROOT_ONLY, pytest.mark.timeout(1200)]


def finish(process: subprocess.Popen, what: str, timeout: float = 900) -> dict:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{what} failed ({process.returncode}):\n{err[-4000:]}"
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def students():
    with new_students(3) as made:
        yield made


def test_three_users_run_chapter_2_at_once_each_with_their_own_servers(students):
    first, *others = students
    finish(first.python(str(DRIVER), "start"), f"{first.name}: ensure_running()", timeout=300)

    # All three at the same instant: the first finds their servers, the other two start theirs,
    # then every one runs chapter 2 in a kernel of their own.
    running = [student.python(str(DRIVER), str(CHAPTER_2)) for student in students]
    results = [finish(process, f"{student.name}: chapter 2") for process, student in zip(running, students)]

    assert results[0]["ports"]["ftp"] == 10021, results[0]
    assert len({r["pid"] for r in results}) == 3 and len({r["state_dir"] for r in results}) == 3
    every_port = [port for r in results for port in r["ports"].values()]
    assert len(every_port) == len(set(every_port)), "two users share a port"
    blocks = [port_blocks.block_of(r["ports"]) for r in results]
    assert blocks[0] == 0 and all(b not in (None, 0) for b in blocks[1:]), blocks

    for student, result in zip(students, results):
        state_dir = Path(result["state_dir"])
        assert state_dir.stat().st_uid == student.uid
        assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700, f"{state_dir} is readable by others"
        assert (state_dir / "tls" / "ca-key.pem").stat().st_uid == student.uid

    # Files: each user's upload is on their own server only.
    for student, result in zip(students, results):
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", result["ports"]["ftp"], timeout=10)
            ftp.login("alice", config.ACCOUNTS["alice"])
            ftp.storbinary(f"STOR from-{student.name}.txt", io.BytesIO(student.name.encode()))
    for student, result in zip(students, results):
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", result["ports"]["ftp"], timeout=10)
            ftp.login("alice", config.ACCOUNTS["alice"])
            mine = sorted(name for name in ftp.nlst("/") if name.startswith("from-"))
        assert mine == [f"from-{student.name}.txt"]

    # Mail: a message sent through one user's SMTP server reaches that user's POP3 server only.
    for student, result in zip(students, results):
        message = EmailMessage()
        message["From"], message["To"] = "bob@example.test", "alice@example.test"
        message["Subject"] = f"class test for {student.name}"
        message.set_content("hello")
        with smtplib.SMTP("127.0.0.1", result["ports"]["smtp"], timeout=10) as smtp:
            smtp.send_message(message)
    for student, result in zip(students, results):
        pop = poplib.POP3("127.0.0.1", result["ports"]["pop3"], timeout=10)
        try:
            pop.user("alice")
            pop.pass_(config.ACCOUNTS["alice"])
            subjects = []
            for number in range(1, len(pop.list()[1]) + 1):
                headers = b"\n".join(pop.top(number, 0)[1]).decode("utf-8", "replace")
                subjects += [line for line in headers.splitlines() if line.startswith("Subject: class test")]
        finally:
            pop.quit()
        assert subjects == [f"Subject: class test for {student.name}"]

    # A restart keeps the block: what the student read in the table yesterday is still true.
    second = others[0]
    subprocess.run(second.command(sys.executable, "-m", "local_servers", "down"), cwd=second.home,
                   check=True, capture_output=True, timeout=60)
    again = finish(second.python(str(DRIVER), "start"), f"{second.name}: ensure_running() again", timeout=300)
    assert again["ports"] == results[1]["ports"]
