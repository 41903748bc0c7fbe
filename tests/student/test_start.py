"""`course.py start` as a student meets it: in a terminal, on a fresh HOME, then a second start, then Ctrl-C.

The first start runs on a real pseudo-terminal, and Ctrl-C is the byte 0x03 typed into it, so the
terminal itself sends SIGINT to the foreground processes, exactly as for a student.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
import urllib.request

import pytest

import sandbox

pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (the course's [course] extra)")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drives a Linux pseudo-terminal")

URL = re.compile(r"(http://\S+/lab/tree/notebooks/00_start_here\.ipynb\?token=\w+)")


class Terminal:
    """course.py on a pseudo-terminal of its own (its controlling terminal, as in a shell)."""

    def __init__(self, args: list[str], env: dict):
        self.master, slave = os.openpty()

        def take_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                        cwd=sandbox.ROOT, preexec_fn=take_terminal, close_fds=True)
        os.close(slave)
        self.output = ""

    def read_until(self, pattern: re.Pattern, timeout: float) -> re.Match | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = pattern.search(self.output)
            if found:
                return found
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    self.output += os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the other end closed: the process is gone
                    break
        return pattern.search(self.output)

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as reply:
        assert reply.status == 200
        return reply.read()


def test_start_opens_the_start_notebook_reuses_the_lab_and_stops_on_ctrl_c(tmp_path):
    env = sandbox.environment(tmp_path)
    assert len(str(sandbox.runtime_dir(env))) <= 53  # short enough for Unix sockets (course.IPC_RUNTIME_DIR_MAX)
    terminal = Terminal([sys.executable, str(sandbox.COURSE), "start", "--no-browser", "--ServerApp.port=0"], env)
    try:
        found = terminal.read_until(URL, timeout=120)
        assert found, f"no URL of the start notebook printed:\n{terminal.output}"
        url = found.group(1)
        page = _get(url).decode()
        assert "JupyterLab" in page
        base, token = url.split("/lab/tree/")[0], url.rsplit("token=", 1)[1]

        # the file browser's root is the workspace: the chapters, the labs and the solutions
        listing = json.loads(_get(f"{base}/api/contents/?token={token}"))
        assert {"notebooks", "labs", "solutions"} <= {item["name"] for item in listing["content"]}
        labs = json.loads(_get(f"{base}/api/contents/labs?token={token}"))
        assert "02_ftp" in {item["name"] for item in labs["content"]}
        start = json.loads(_get(f"{base}/api/contents/notebooks/00_start_here.ipynb?token={token}&content=0"))
        assert start["type"] == "notebook"

        # the news pop-up's plugin is off
        assert "@jupyterlab/apputils-extension:announcements" in page.split("disabledExtensions", 1)[1][:500]

        # a kernel, so that Ctrl-C has one to stop
        request = urllib.request.Request(f"{base}/api/kernels?token={token}", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        kernel = json.loads(urllib.request.urlopen(request, timeout=60).read())
        [lab] = sandbox.lab_servers(env)
        assert sandbox.wait_until(lambda: sandbox.descendants(lab["pid"]), 30), "the kernel did not start"

        # a second start finds the running Lab and prints the same URL
        second = subprocess.run([sys.executable, str(sandbox.COURSE), "start", "--no-browser"], env=env,
                                cwd=sandbox.ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "already running" in second.stdout
        assert url in second.stdout
        assert len(sandbox.lab_servers(env)) == 1

        # Ctrl-C: everything stops at once, no question asked, nothing left behind
        below = [lab["pid"], *sandbox.descendants(lab["pid"])]
        terminal.type(b"\x03")
        started = time.monotonic()
        assert terminal.process.wait(timeout=30) == 0
        took = time.monotonic() - started
        terminal.read_until(re.compile(r"servers stopped"), timeout=5)
        assert "(y/[n])" not in terminal.output
        assert "without encryption" not in terminal.output
        assert took < 15, f"Ctrl-C took {took:.1f} s"
        assert not [pid for pid in below if sandbox.alive(pid)], "processes left behind"
        assert not list(sandbox.runtime_dir(env).glob("jpserver-*")), "stale runtime files left behind"
        assert not list(sandbox.runtime_dir(env).glob(f"kernel-{kernel['id']}*")), "kernel files left behind"
        status = subprocess.run([sys.executable, "-m", "local_servers", "status"], env=env, capture_output=True)
        assert status.returncode == 3, "the servers that start started are still running"
    finally:
        terminal.close()
        subprocess.run([sys.executable, str(sandbox.COURSE), "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(sandbox.Path(env["HOME"]).parent, ignore_errors=True)


def test_interrupt_stops_a_start_launched_with_sigint_ignored(tmp_path):
    """A script's background job starts with SIGINT ignored; kill -INT must still stop everything."""
    env = sandbox.environment(tmp_path)
    process = subprocess.Popen([sys.executable, str(sandbox.COURSE), "start", "--no-browser", "--ServerApp.port=0"],
                               env=env, cwd=sandbox.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert sandbox.wait_until(lambda: sandbox.lab_servers(env), 120), "JupyterLab did not start"
        [lab] = sandbox.lab_servers(env)
        assert sandbox.wait_until(lambda: _answers(lab), 60)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert not sandbox.alive(lab["pid"]), "JupyterLab left running"
        assert not list(sandbox.runtime_dir(env).glob("jpserver-*"))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        subprocess.run([sys.executable, str(sandbox.COURSE), "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(sandbox.Path(env["HOME"]).parent, ignore_errors=True)


def _answers(lab: dict) -> bool:
    try:
        _get(f"{lab['url'].rstrip('/')}/api/status?token={lab['token']}")
        return True
    except OSError:
        return False


def test_status_and_stop_from_another_terminal(tmp_path):
    """`course.py status` shows the Lab's URL; `course.py stop` stops the Lab, its start and the servers."""
    env = sandbox.environment(tmp_path)
    process = subprocess.Popen([sys.executable, str(sandbox.COURSE), "start", "--no-browser", "--ServerApp.port=0"],
                               env=env, cwd=sandbox.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        assert sandbox.wait_until(lambda: sandbox.lab_servers(env), 120), "JupyterLab did not start"
        [lab] = sandbox.lab_servers(env)
        assert sandbox.wait_until(lambda: _answers(lab), 60)
        status = subprocess.run([sys.executable, str(sandbox.COURSE), "status"], env=env, cwd=sandbox.ROOT,
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 0 and "running (pid" in status.stdout
        assert f"/lab/tree/notebooks/00_start_here.ipynb?token={lab['token']}" in status.stdout
        assert re.search(r"^Inspector: http://127\.0\.0\.1:\d+/\?token=[0-9a-f]{64}$", status.stdout, re.M)
        stop = subprocess.run([sys.executable, str(sandbox.COURSE), "stop"], env=env, cwd=sandbox.ROOT,
                              capture_output=True, text=True, timeout=120)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert "JupyterLab stopped" in stop.stdout and "servers stopped" in stop.stdout
        assert process.wait(timeout=30) == 0, "course.py start did not end with its Lab"
        assert sandbox.wait_until(lambda: not sandbox.alive(lab["pid"]), 30)
        assert not list(sandbox.runtime_dir(env).glob("jpserver-*"))
        after = subprocess.run([sys.executable, str(sandbox.COURSE), "status"], env=env, cwd=sandbox.ROOT,
                               capture_output=True, text=True, timeout=120)
        assert after.returncode == 3 and "JupyterLab: not running" in after.stdout
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        subprocess.run([sys.executable, str(sandbox.COURSE), "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(sandbox.Path(env["HOME"]).parent, ignore_errors=True)
