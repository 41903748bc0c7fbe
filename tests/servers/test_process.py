"""The process model: one server process per state directory, found again, stopped cleanly.

These tests run the real command line and the real ensure_running() in
separate Python processes, each on its own temporary state directory and
ports chosen by the OS, so they never meet a student's running servers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import local_servers
from local_servers import control, serve
from local_servers.handle import TOOLS

# The quick services: enough to exercise the process model without the
# start-up cost of every protocol in every test.
QUICK = "echo,time"


def cli(state_dir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local_servers", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=timeout)


def wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not control.pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_up_status_logs_down(tmp_path):
    up = cli(tmp_path, "up", "--ephemeral", "--only", QUICK)
    assert up.returncode == 0, up.stderr
    assert "servers started" in up.stdout
    assert "echo" in up.stdout and "time" in up.stdout and "CA file" in up.stdout

    again = cli(tmp_path, "up")
    assert again.returncode == 0 and "already running" in again.stdout and not again.stderr
    changed = cli(tmp_path, "up", "--only", "echo", "--option", "echo_max_connections=2")
    assert changed.returncode == 0 and "already running" in changed.stdout
    assert "--only, --option changed nothing" in changed.stderr  # a typo in them would otherwise pass unseen
    stop_first = changed.stderr.split("stop them first: ")[1].strip()
    assert stop_first.endswith(f"-m local_servers --state-dir {tmp_path} down")

    status = cli(tmp_path, "status", "--json")
    assert status.returncode == 0
    document = json.loads(status.stdout)
    assert document["running"] is True and document["schema"] == 1
    assert set(document["services"]) == {"echo", "time"}
    for svc in document["services"].values():
        assert {"host", "port", "tls_ports", "starttls", "udp_port", "accounts", "ca_file", "extra"} <= set(svc)
        assert svc["host"] == "127.0.0.1" and svc["port"] > 0
    assert Path(document["ca_file"]).is_file()
    pid = document["pid"]

    with socket.create_connection(("127.0.0.1", document["services"]["echo"]["port"]), timeout=5) as sock:
        sock.sendall(b"ping")
        assert sock.recv(16) == b"ping"

    logs = cli(tmp_path, "logs", "-n", "5")
    assert logs.returncode == 0 and "ready in" in logs.stdout

    down = cli(tmp_path, "down")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert wait_dead(pid), "down left the server process running"
    assert not (tmp_path / serve.STATE_FILE).exists()

    status = cli(tmp_path, "status", "--json")
    assert status.returncode == 3
    assert json.loads(status.stdout) == {"schema": 1, "running": False}
    assert "not running" in cli(tmp_path, "status").stdout


def test_reset_restores_seeded_data_and_keeps_ports(tmp_path):
    handle = control.start(tmp_path, ephemeral=True, names=["echo", "time"])
    try:
        marker = tmp_path / serve.DATA_DIR / "echo" / "student-was-here.txt"
        marker.write_text("changed")
        result = cli(tmp_path, "reset", "echo")
        assert result.returncode == 0, result.stderr
        assert "restored" in result.stdout and "restarted" in result.stdout
        assert not marker.exists()
        assert (tmp_path / serve.DATA_DIR / "echo").is_dir()
        after = control.find(tmp_path)
        assert after is not None and after.pid != handle.pid
        assert after.echo.port == handle.echo.port and after.time.port == handle.time.port
    finally:
        control.stop(tmp_path)
    assert cli(tmp_path, "reset", "nosuchservice").returncode == 2


ENSURE = """
import sys, local_servers
h = local_servers.ensure_running(sys.argv[1], ephemeral=True, names=["echo", "time"])
print(h.pid)
"""


def test_concurrent_ensure_running_makes_one_instance(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", ENSURE, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60) for p in procs]
    try:
        assert all(p.returncode == 0 for p in procs), outputs
        pids = {out.strip() for out, _ in outputs}
        assert len(pids) == 1, f"several server processes were started: {pids}"
        # the kernels printed nothing but the pid: no server log leaks into them
        assert all(err == "" for _, err in outputs), outputs
    finally:
        control.stop(tmp_path)
    assert wait_dead(int(pids.pop()))


def test_killed_server_is_replaced(tmp_path):
    first = local_servers.ensure_running(tmp_path, ephemeral=True, names=["echo"])
    try:
        os.kill(first.pid, 9)
        assert wait_dead(first.pid)
        second = local_servers.ensure_running(tmp_path, ephemeral=True, names=["echo"])
        assert second.pid != first.pid
        with socket.create_connection(second.echo.address, timeout=5) as sock:
            sock.sendall(b"back")
            assert sock.recv(16) == b"back"
    finally:
        control.stop(tmp_path)


def test_taken_port_gives_a_clear_error(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        with pytest.raises(control.StartError) as error:
            control.start(tmp_path, ephemeral=True, ports={"echo": port}, names=["echo", "time"])
        message = str(error.value)
        assert f"port {port}" in message and "(echo)" in message and "already in use" in message
        result = cli(tmp_path, "up", "--ephemeral", "--only", QUICK, "--port", f"echo={port}")
        assert result.returncode == 1
        assert f"port {port}" in result.stderr and "--port echo=" in result.stderr
        assert control.find(tmp_path) is None
    finally:
        blocker.close()


def test_bad_port_setting_is_refused(tmp_path):
    result = cli(tmp_path, "up", "--port", "ftp=notanumber")
    assert result.returncode == 2 and "not a number" in result.stderr
    result = cli(tmp_path, "up", "--port", "gopher=70")
    assert result.returncode == 2 and "NAME=PORT" in result.stderr


def test_an_unknown_service_is_refused_at_once(tmp_path):
    started = time.monotonic()
    result = cli(tmp_path, "up", "--ephemeral", "--only", "echo,https")
    assert result.returncode == 1 and "unknown service(s): https; known: echo" in result.stderr
    assert time.monotonic() - started < control.START_TIMEOUT / 2  # told, not left waiting for the timeout


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux routes all of 127.0.0.0/8 to loopback")
def test_explicit_host_warns(tmp_path):
    result = cli(tmp_path, "up", "--ephemeral", "--only", QUICK, "--host", "127.0.0.2")
    try:
        assert result.returncode == 0, result.stderr
        assert "warning" in result.stderr and "127.0.0.2" in result.stderr
        handle = control.find(tmp_path)
        assert handle.echo.host == "127.0.0.2"
        with socket.create_connection(handle.echo.address, timeout=5) as sock:
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", handle.echo.port), timeout=2).close()
    finally:
        control.stop(tmp_path)


def test_default_bind_is_loopback(servers):
    for svc in servers.services.values():
        assert svc.host == "127.0.0.1"


def test_handle_describes_every_service(servers):
    assert set(servers.services) == set(serve.SERVICES)
    assert "ftp" not in servers.services or servers.ftp.port > 0
    with pytest.raises(AttributeError, match="no service"):
        servers.gopher
    table = servers.table()
    for name in servers.services:
        assert (name in table) == (name not in TOOLS)  # the inspector is a page: `inspect` prints it


def test_unknown_option_is_refused_with_the_known_ones(tmp_path):
    result = cli(tmp_path / "state", "up", "--ephemeral", "--only", "pop3,nntp", "--option", "pop3_idle_timout=5")
    assert result.returncode == 1
    assert "unknown option 'pop3_idle_timout'" in result.stderr
    assert "pop3_idle_timeout" in result.stderr and "nntp_max_article_bytes" in result.stderr
    result = cli(tmp_path / "state", "up", "--ephemeral", "--only", "pop3", "--option", "pop3_idle_timeout=soon")
    assert result.returncode == 1 and "expected float" in result.stderr
    assert control.find(tmp_path / "state") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads limits from /proc")
def test_many_idle_connections_to_one_service_leave_the_others_answering(tmp_path):
    """The process raises its open-file soft limit: 300 idle POP3 sockets at a soft limit of 256."""
    script = ("import resource, sys; from pathlib import Path; from local_servers import control\n"
              "resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
              "print(control.start(Path(sys.argv[1]), ephemeral=True, names=['pop3', 'nntp'],\n"
              "                    options={'pop3_max_per_address': 400}).pid)\n")
    state = tmp_path / "state"
    pid = int(subprocess.run([sys.executable, "-c", script, str(state)], capture_output=True, text=True,
                             timeout=60, check=True).stdout)
    try:
        limits = Path(f"/proc/{pid}/limits").read_text()
        soft, hard = next(line for line in limits.splitlines() if line.startswith("Max open files")).split()[3:5]
        assert soft == hard
        handle = control.find(state)
        held = []
        try:
            for _ in range(300):
                held.append(socket.create_connection(handle.pop3.address, timeout=10))
            assert held[-1].recv(100).startswith(b"+OK")
            with socket.create_connection(handle.nntp.address, timeout=10) as news:
                assert news.recv(100).startswith(b"200")
        finally:
            for sock in held:
                sock.close()
    finally:
        control.stop(state)


def test_reset_needs_no_server_module_and_each_service_seeds_its_declared_folder(tmp_path):
    """reset removes data by the declared folder names; only the server process imports the servers."""
    code = ("import sys; from pathlib import Path; from local_servers import control\n"
            "control.reset(Path(sys.argv[1]))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[-1] in "
            "('pop3', 'nntp', 'smtp', 'ftp', 'http', 'sockets', 'imap')))\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    for name in serve.SERVICES:
        cls = serve.service_class(name)
        assert serve.data_names([name]) == {cls.data_name or cls.name: name}


def test_the_server_imports_this_package_wherever_it_is_started_from(tmp_path):
    """`python -m local_servers` puts the working directory first on sys.path: started from a folder that
    holds another local_servers (an old copy, another checkout), the server process used to run that one.
    It runs in this package's parent folder now; a relative state directory still means the caller's."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "local_servers").mkdir(parents=True)
    (elsewhere / "local_servers" / "__init__.py").write_text("")
    (elsewhere / "local_servers" / "__main__.py").write_text("raise SystemExit('the wrong local_servers ran')\n")
    script = tmp_path / "start.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(local_servers.__file__).resolve().parent.parent)!r})\n"
        "from local_servers import control\n"
        "handle = control.start('state', ephemeral=True, names=['echo'])\n"
        "print(handle.echo.port)\n"
        "control.stop('state')\n")
    done = subprocess.run([sys.executable, str(script)], cwd=elsewhere, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert int(done.stdout.split()[0]) > 0
    assert (elsewhere / "state" / "server.log").is_file()  # the caller's relative state directory
