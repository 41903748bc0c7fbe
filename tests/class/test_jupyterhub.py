"""Issue 10, build 2: the course on a real JupyterHub with local Unix users.

A hub on 127.0.0.1 (DummyAuthenticator, LocalProcessSpawner, configurable-http-proxy) with three new
Unix users; the test spawns their single-user servers through the hub's REST API and, in each user's own
kernel, at the same time, runs chapter 2 (FTP) and chapter 5a (POP3) through the proxy, as JupyterLab
would. Each must succeed on servers of their own. Root only; needs `jupyterhub` in the course's
environment and `configurable-http-proxy` (npm) on PATH: .ci/run installs both.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from kernel_ws import RemoteKernel, new_token
from unix_users import ROOT_ONLY, new_students

from local_servers import ports as port_blocks

REPO = Path(__file__).resolve().parents[2]
CHAPTERS = [REPO / "notebooks" / "02_ftp.ipynb", REPO / "notebooks" / "05a_pop3.ipynb"]
VENV_BIN = Path(sys.executable).parent

try:
    import jupyterhub  # noqa: F401
    HUB_MISSING = ""
except ImportError:
    HUB_MISSING = "jupyterhub is not installed in the course's environment (.ci/run installs it)"

pytestmark = [
    *ROOT_ONLY,
    pytest.mark.skipif(bool(HUB_MISSING), reason=HUB_MISSING or "-"),
    pytest.mark.skipif(shutil.which("configurable-http-proxy") is None,
                       reason="configurable-http-proxy is missing (npm install -g configurable-http-proxy)"),
    pytest.mark.timeout(1200),
]

REPORT = """
import json, local_servers
from local_servers import control
h = local_servers.ensure_running()
print(json.dumps({"pid": h.pid, "state_dir": str(h.state_dir), "ports": control._ports_of(h)}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Hub:
    """A JupyterHub process on loopback, driven through its REST API with an admin service's token."""

    def __init__(self, folder: Path, users: list[str]):
        self.folder, self.token = folder, new_token()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "JupyterHub": {"ip": "127.0.0.1", "port": self.port, "hub_ip": "127.0.0.1", "hub_port": free_port(),
                           "authenticator_class": "dummy", "spawner_class": "localprocess",
                           "db_url": f"sqlite:///{folder / 'hub.sqlite'}",
                           "cookie_secret_file": str(folder / "cookie_secret"),
                           "services": [{"name": "course-test", "api_token": self.token}],
                           "load_roles": [{"name": "course-test", "services": ["course-test"],
                                           "scopes": ["admin:users", "admin:servers", "access:servers"]}]},
            "ConfigurableHTTPProxy": {"api_url": f"http://127.0.0.1:{free_port()}"},
            "DummyAuthenticator": {"password": new_token()},
            "Authenticator": {"allowed_users": users},
            "Spawner": {"cmd": [str(VENV_BIN / "jupyterhub-singleuser")], "start_timeout": 180,
                        "http_timeout": 180, "default_url": "/lab"},
        }
        (folder / "jupyterhub_config.json").write_text(json.dumps(config))
        env = {"PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "LANG": "C.UTF-8",
               "HOME": str(folder)}  # no LOCAL_SERVERS_* of the test run reaches the students
        self.log = open(folder / "hub.log", "wb")
        self.process = subprocess.Popen([str(VENV_BIN / "jupyterhub"), "-f", str(folder / "jupyterhub_config.json")],
                                        cwd=folder, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(f"{self.url}/hub/api{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                text = reply.read()
                return reply.status, json.loads(text) if text else {}
        except urllib.error.HTTPError as error:
            return error.code, {}

    def wait_until_up(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the hub exited: {self.log_tail()}"
            try:
                if self.api("GET", "/")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the hub did not answer within {timeout} s: {self.log_tail()}")

    def spawn(self, user: str, timeout: float = 240) -> None:
        status, _ = self.api("POST", f"/users/{user}")
        assert status in (201, 409), f"creating {user}: {status}"
        status, _ = self.api("POST", f"/users/{user}/server")
        assert status in (201, 202), f"spawning {user}'s server: {status} {self.log_tail()}"

    def wait_ready(self, user: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, model = self.api("GET", f"/users/{user}")
            if model.get("servers", {}).get("", {}).get("ready"):
                return
            time.sleep(1)
        raise AssertionError(f"{user}'s server was not ready within {timeout} s: {self.log_tail()}")

    def log_tail(self) -> str:
        self.log.flush()
        return (self.folder / "hub.log").read_text(errors="replace")[-3000:]

    def stop(self, users: list[str]) -> None:
        for user in users:
            try:
                self.api("DELETE", f"/users/{user}/server")
            except OSError:
                pass
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


async def chapters_in_kernel(hub: Hub, user: str) -> dict:
    kernel = RemoteKernel(f"{hub.url}/user/{user}", hub.token)
    await kernel.start()
    try:
        for chapter in CHAPTERS:
            await kernel.run_notebook(chapter)
        return json.loads((await kernel.execute(REPORT)).strip().splitlines()[-1])
    finally:
        await kernel.shutdown()


async def all_at_once(hub: Hub, users: list[str]) -> list[dict]:
    # A kernel that stops answering fails the test in bounded time, with the hub's log to read.
    return await asyncio.gather(*(asyncio.wait_for(chapters_in_kernel(hub, user), 600) for user in users))


def test_three_hub_users_run_chapters_2_and_5a_at_once_in_their_own_kernels():
    with new_students(3) as students:
        names = [student.name for student in students]
        folder = Path(tempfile.mkdtemp(prefix="course-hub-"))
        hub = Hub(folder, names)
        try:
            hub.wait_until_up()
            for name in names:
                hub.spawn(name)
            for name in names:
                hub.wait_ready(name)
            results = asyncio.run(all_at_once(hub, names))
        finally:
            hub.stop(names)
            shutil.rmtree(folder, ignore_errors=True)

        for student, result in zip(students, results):
            assert Path(result["state_dir"]).is_relative_to(student.home), result  # the user's own state
        assert len({r["pid"] for r in results}) == 3
        every_port = [port for r in results for port in r["ports"].values()]
        assert len(every_port) == len(set(every_port)), "two users share a port"
        blocks = sorted(port_blocks.block_of(r["ports"]) for r in results)
        assert blocks[0] == 0 and None not in blocks and len(set(blocks)) == 3, blocks
