"""Throw-away Unix users for tests/class (root only): a fresh HOME, nothing configured, removed at the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from local_servers import config, control
from local_servers import ports as port_blocks

ROOT_ONLY = [
    pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                       reason="creates Unix users: root only (CI runs as root)"),
    pytest.mark.skipif(not all(map(shutil.which, ("useradd", "userdel", "runuser"))),
                       reason="needs useradd, userdel and runuser"),
]


class Student:
    """A Unix user made for a test, with a fresh HOME and nothing configured."""

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

    def state_dir(self) -> Path:
        return self.home / ".local" / "state" / "python-internet-course"

    def handle(self) -> dict:
        return json.loads((self.state_dir() / config.StateDir.STATE).read_text())

    def remove(self) -> None:
        subprocess.run(self.command(sys.executable, "-m", "local_servers", "down"), cwd=self.home,
                       capture_output=True, timeout=60)
        subprocess.run(["userdel", "--remove", self.name], capture_output=True)
        claims = port_blocks.claims_dir()
        for claim in claims.glob("block-*") if claims.is_dir() else []:
            if claim.stat().st_uid == self.uid:
                claim.unlink()


def taken_default_ports() -> list[str]:
    return [f"{name}:{port}" for name, port in config.DEFAULT_PORTS.items()
            if not port_blocks.all_bind(config.DEFAULT_HOST, {name: port})]


@contextmanager
def new_students(count: int):
    """count new Unix users; skips the test when the well-known ports are taken by someone else."""
    if taken_default_ports():
        # Our own run's servers (the notebooks') may hold them: they are ours to stop; anyone else's are not.
        control.stop(Path(os.environ["LOCAL_SERVERS_HOME"]))
    taken = taken_default_ports()
    if taken:
        pytest.skip(f"the first student must get the course's default ports, and {', '.join(taken)} are in use")
    root = Path(tempfile.mkdtemp(prefix="course-class-"))
    os.chmod(root, 0o755)
    made: list[Student] = []
    try:
        for index in range(count):
            made.append(Student(f"crs{os.getpid() % 100000}s{index}", root / f"student{index}"))
        probe = subprocess.run(made[0].command(sys.executable, "-c", "import local_servers, nbclient"),
                               capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip(f"the course's checkout and its .venv must be readable by other users (chmod o+rX on "
                        f"the path to {sys.executable}): {probe.stderr.strip()[-300:]}")
        yield made
    finally:
        for student in made:
            student.remove()
        claims = port_blocks.claims_dir()
        if claims.is_dir() and claims.stat().st_uid in {s.uid for s in made} and not any(claims.iterdir()):
            claims.rmdir()  # made by one of them: no folder is left owned by a removed user's uid
        shutil.rmtree(root, ignore_errors=True)
