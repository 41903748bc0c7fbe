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
import os
import poplib
import shutil
import smtplib
import stat
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from local_servers import config, control
from local_servers import ports as port_blocks

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("student_run.py")
CHAPTER_2 = REPO / "notebooks" / "02_ftp.ipynb"

pytestmark = [
    pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                       reason="creates Unix users: root only (CI runs as root)"),
    pytest.mark.skipif(not (shutil.which("useradd") and shutil.which("runuser") and shutil.which("userdel")),
                       reason="needs useradd, userdel and runuser"),
    pytest.mark.timeout(1200),
]


class Student:
    """A Unix user made for this test, with a fresh HOME and nothing configured."""

    def __init__(self, name: str, home: Path):
        self.name, self.home = name, home
        subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh",
                        "--user-group", name], check=True, capture_output=True)
        self.uid = int(subprocess.run(["id", "-u", name], check=True, capture_output=True, text=True).stdout)

    def command(self, *words: str) -> list[str]:
        """words run as this user, with a clean environment: no LOCAL_SERVERS_* of the test run."""
        return ["runuser", "-u", self.name, "--", "env", "-i", f"HOME={self.home}", f"USER={self.name}",
                f"LOGNAME={self.name}", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", *words]

    def python(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(sys.executable, *args), cwd=self.home, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def handle(self) -> dict:
        state_file = self.home / ".local" / "state" / "python-internet-course" / config.StateDir.STATE
        return json.loads(state_file.read_text())

    def remove(self) -> None:
        subprocess.run(self.command(sys.executable, "-m", "local_servers", "down"), cwd=self.home,
                       capture_output=True, timeout=60)
        subprocess.run(["userdel", "--remove", self.name], capture_output=True)
        claims = port_blocks.claims_dir()
        for claim in claims.glob("block-*") if claims.is_dir() else []:
            if claim.stat().st_uid == self.uid:
                claim.unlink()
        if claims.is_dir() and claims.stat().st_uid == self.uid and not any(claims.iterdir()):
            claims.rmdir()  # made by this user: gone with them, so no folder is owned by a stale uid


def finish(process: subprocess.Popen, what: str, timeout: float = 900) -> dict:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{what} failed ({process.returncode}):\n{err[-4000:]}"
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def students(tmp_path_factory):
    taken = [f"{name}:{port}" for name, port in config.DEFAULT_PORTS.items()
             if not port_blocks.all_bind(config.DEFAULT_HOST, {name: port})]
    if taken:
        # Our own run's servers (the notebooks') may hold them: they are ours to stop; anyone else's are not.
        control.stop(Path(os.environ["LOCAL_SERVERS_HOME"]))
        taken = [f"{name}:{port}" for name, port in config.DEFAULT_PORTS.items()
                 if not port_blocks.all_bind(config.DEFAULT_HOST, {name: port})]
    if taken:
        pytest.skip(f"the first student must get the course's default ports, and {', '.join(taken)} are in use")
    root = Path(tempfile.mkdtemp(prefix="course-class-"))
    os.chmod(root, 0o755)
    made: list[Student] = []
    try:
        for index in range(3):
            made.append(Student(f"crs{os.getpid() % 100000}s{index}", root / f"student{index}"))
        probe = subprocess.run(made[0].command(sys.executable, "-c", "import local_servers, nbclient"),
                               capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip(f"the course's venv is not usable by another user here: {probe.stderr.strip()[-300:]}")
        yield made
    finally:
        for student in made:
            student.remove()
        shutil.rmtree(root, ignore_errors=True)


def test_three_users_run_chapter_2_at_once_each_with_their_own_servers(students):
    first, *others = students
    finish(first.python(str(DRIVER), "start"), f"{first.name}: ensure_running()", timeout=120)

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
    again = finish(second.python(str(DRIVER), "start"), f"{second.name}: ensure_running() again", timeout=120)
    assert again["ports"] == results[1]["ports"]
