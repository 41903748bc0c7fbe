"""The FTP server: RFC 959 with ftplib, urllib and curl, FTPS, and what must not happen."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from local_servers import control
from tls_client import TLSClient

TIMEOUT = 10


def connect(svc, user: str | None = None, *, tls: bool = False, passive: bool = True) -> ftplib.FTP:
    """A logged-in ftplib client (anonymous unless `user` is given)."""
    if tls:
        ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=svc.ca_file))
    else:
        ftp = ftplib.FTP()
    ftp.connect(svc.host, svc.port, timeout=TIMEOUT)
    if user is None:
        ftp.login()
    else:
        ftp.login(user, svc.accounts[user])
    if tls:
        ftp.prot_p()
    ftp.set_pasv(passive)
    return ftp


def public_path(handle, ftp_path: str) -> Path:
    """Where a file of the anonymous tree lives on disk."""
    return Path(handle.state_dir) / "data" / "ftp" / "public" / ftp_path.lstrip("/")


def home_path(handle, user: str) -> Path:
    return Path(handle.state_dir) / "data" / "ftp" / "home" / user


def retr(ftp: ftplib.FTP, path: str) -> bytes:
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {path}", out.write)
    return out.getvalue()


def raw_session(svc) -> socket.socket:
    """A bare control connection, greeting read: for input no real client sends."""
    sock = socket.create_connection(svc.address, timeout=TIMEOUT)
    assert sock.makefile("rb").readline().startswith(b"220")
    return sock


def reply(sock: socket.socket) -> bytes:
    """One reply line (this server's replies to bad input are single lines)."""
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        assert chunk, "the server closed the connection instead of replying"
        data += chunk
    return data


def assert_still_serving(svc) -> None:
    """Another client logs in and lists, so one bad client did not hurt the server."""
    with connect(svc) as ftp:
        assert "pub" in ftp.nlst("/")


# --- greeting, listings, downloads (read-only: the shared servers)


def test_info_describes_the_service(servers):
    ftp = servers.ftp
    assert ftp.starttls is True and ftp.tls_ports == {}
    assert ftp.accounts == {"anonymous": "", "alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
    assert ftp.extra["public_dir"] == "/pub"
    assert ftp.extra["large_file"].startswith("/pub/") and ftp.extra["large_file_size"] >= 32 * 1024 * 1024


def test_welcome_banner_names_the_course(servers):
    with connect(servers.ftp) as ftp:
        welcome = ftp.getwelcome()
    assert welcome.startswith("220 ") and "course" in welcome


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_anonymous_listing_and_download(servers, passive):
    with connect(servers.ftp, passive=passive) as ftp:
        assert {"README.txt", "docs", "data", "images", "large"} <= set(ftp.nlst("/pub"))
        lines: list[str] = []
        ftp.retrlines("LIST /pub", lines.append)
        assert any(line.startswith("d") and line.endswith(" docs") for line in lines)
        readme = retr(ftp, "/pub/README.txt")
    assert readme == public_path(servers, "/pub/README.txt").read_bytes()
    assert b"read-only" in readme


def test_binary_file_arrives_byte_for_byte(servers):
    with connect(servers.ftp) as ftp:
        ftp.voidcmd("TYPE I")  # SIZE counts octets as sent: refused (550) in ASCII mode
        assert ftp.size("/pub/images/gradient.png") == public_path(servers, "/pub/images/gradient.png").stat().st_size
        png = retr(ftp, "/pub/images/gradient.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png[16:24]) == (64, 64)  # IHDR width and height


def test_mlsd_gives_machine_readable_facts(servers):
    with connect(servers.ftp) as ftp:
        facts = dict(ftp.mlsd("/pub/docs", facts=["type", "size", "modify"]))
    assert facts["hello.txt"]["type"] == "file"
    assert int(facts["hello.txt"]["size"]) == public_path(servers, "/pub/docs/hello.txt").stat().st_size
    assert facts["rfc"]["type"] == "dir"
    assert len(facts["hello.txt"]["modify"]) == 14  # YYYYMMDDHHMMSS


def test_non_ascii_file_name(servers):
    with connect(servers.ftp) as ftp:
        ftp.cwd("/pub/docs")
        assert "café-menü.txt" in ftp.nlst()
        text = retr(ftp, "café-menü.txt").decode("utf-8")
    assert "Crème brûlée" in text


def test_rest_resumes_a_download(servers):
    """Fetch the first MiB, drop the transfer, then REST at that offset and fetch the rest."""
    info = servers.ftp
    with connect(info) as ftp:
        ftp.voidcmd("TYPE I")
        head = b""
        with ftp.transfercmd(f"RETR {info.extra['large_file']}") as conn:
            while len(head) < 1024 * 1024:
                head += conn.recv(1024 * 1024 - len(head))
        ftp.abort()
    with connect(info) as ftp:
        tail = io.BytesIO()
        ftp.retrbinary(f"RETR {info.extra['large_file']}", tail.write, rest=len(head))
    whole = head + tail.getvalue()
    assert len(whole) == info.extra["large_file_size"]
    assert hashlib.sha256(whole).hexdigest() == info.extra["large_file_sha256"]


def test_ftps_protects_commands_and_data(servers):
    with connect(servers.ftp, "alice", tls=True) as ftp:
        assert isinstance(ftp.sock, ssl.SSLSocket)
        assert ftp.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert "welcome.txt" in ftp.nlst()
        assert b"Hello alice" in retr(ftp, "welcome.txt")
    with connect(servers.ftp, tls=True, passive=False) as ftp:  # anonymous, active mode, TLS data
        assert b"read-only" in retr(ftp, "/pub/README.txt")


def test_ftps_refuses_a_client_that_does_not_trust_the_course_ca(servers):
    ftp = ftplib.FTP_TLS(context=ssl.create_default_context())  # the system CAs only
    ftp.connect(servers.ftp.host, servers.ftp.port, timeout=TIMEOUT)
    with pytest.raises(ssl.SSLCertVerificationError):
        ftp.auth()
    ftp.close()
    assert_still_serving(servers.ftp)


# --- who may do what


@pytest.mark.parametrize("command", ["STOR /pub/new.txt", "APPE /pub/README.txt", "STOU", "MKD /pub/new",
                                     "DELE /pub/README.txt", "RNFR /pub/README.txt", "RMD /pub/docs",
                                     "SITE CHMOD 777 /pub/README.txt", "MFMT 20000101000000 /pub/README.txt"])
def test_anonymous_cannot_write(servers, command):
    before = sorted(p.name for p in public_path(servers, "/pub").rglob("*"))
    with connect(servers.ftp) as ftp:
        ftp.voidcmd("TYPE I")
        with pytest.raises(ftplib.error_perm, match="^550"):
            if command.startswith(("STOR", "APPE", "STOU")):
                ftp.storbinary(command, io.BytesIO(b"nope"))
            else:
                ftp.sendcmd(command)
    assert sorted(p.name for p in public_path(servers, "/pub").rglob("*")) == before


def test_path_escapes_stay_inside_the_users_root(servers):
    with connect(servers.ftp) as ftp:
        ftp.cwd("/pub")
        ftp.cwd("../../../..")
        assert ftp.pwd() == "/"
        assert "etc" not in ftp.nlst()
        for path in ("../../etc/passwd", "/../../../etc/passwd", "/pub/../../etc/passwd"):
            with pytest.raises(ftplib.error_perm, match="^550"):
                retr(ftp, path)
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.cwd("/../home/alice")


def test_alice_cannot_read_bobs_home(servers):
    with connect(servers.ftp, "alice") as ftp:
        assert ftp.pwd() == "/"
        assert ftp.nlst() == ["welcome.txt"]
        assert b"Hello alice" in retr(ftp, "welcome.txt")
        for path in ("../bob/welcome.txt", "/../bob/welcome.txt", "/../../home/bob/welcome.txt"):
            with pytest.raises(ftplib.error_perm, match="^550"):
                retr(ftp, path)
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.cwd("../bob")
        assert ftp.pwd() == "/"


def test_wrong_password_is_refused(servers):
    ftp = ftplib.FTP()
    ftp.connect(servers.ftp.host, servers.ftp.port, timeout=TIMEOUT)
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp.login("alice", "bob-pw")
    ftp.close()


# --- other real clients: urllib and curl


def test_urllib_anonymous_and_with_a_password(servers):
    info = servers.ftp
    with urllib.request.urlopen(f"ftp://{info.host}:{info.port}/pub/docs/hello.txt", timeout=TIMEOUT) as response:
        assert response.read() == public_path(servers, "/pub/docs/hello.txt").read_bytes()
    url = f"ftp://bob:{info.accounts['bob']}@{info.host}:{info.port}/welcome.txt"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        assert b"Hello bob" in response.read()


def curl(*args: str) -> bytes:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    done = subprocess.run(["curl", "--silent", "--show-error", "--max-time", str(TIMEOUT), *args],
                          capture_output=True, timeout=TIMEOUT + 5)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def test_curl_passive_and_active(servers):
    info = servers.ftp
    expected = public_path(servers, "/pub/docs/hello.txt").read_bytes()
    url = f"ftp://{info.host}:{info.port}/pub/docs/hello.txt"
    assert curl(url) == expected
    assert curl("-P", "-", url) == expected  # active mode: the server connects back (EPRT/PORT)
    assert b"README.txt" in curl("--list-only", f"ftp://{info.host}:{info.port}/pub/").split()


def test_curl_ftps_with_the_course_ca(servers):
    info = servers.ftp
    body = curl("--ssl-reqd", "--cacert", info.ca_file, "--user", f"carol:{info.accounts['carol']}",
                f"ftp://{info.host}:{info.port}/welcome.txt")
    assert b"Hello carol" in body


# --- bad input: the protocol's reply, and the server keeps serving


def test_overlong_command_line(servers):
    with raw_session(servers.ftp) as sock:
        sock.sendall(b"USER " + b"a" * 10_000 + b"\r\n")
        assert reply(sock).startswith(b"500")
        sock.sendall(b"NOOP\r\n")
        assert reply(sock).startswith(b"200")
    assert_still_serving(servers.ftp)


def test_garbage_bytes(servers):
    with raw_session(servers.ftp) as sock:
        sock.sendall(b"\xff\xfe\x00\x9c\x80garbage\r\n")
        assert reply(sock)[:1] == b"5"
        sock.sendall(b"NOOP\r\n")
        assert reply(sock).startswith(b"200")
    assert_still_serving(servers.ftp)


def test_unknown_command_is_500(servers):
    with connect(servers.ftp) as ftp:
        with pytest.raises(ftplib.error_perm, match="^500"):
            ftp.sendcmd("FROB something")
        ftp.voidcmd("NOOP")
    assert_still_serving(servers.ftp)


@pytest.mark.parametrize("command", [b"LIST", b"RETR /pub/README.txt", b"CWD /pub", b"PASV"])
def test_commands_before_login_are_530(servers, command):
    with raw_session(servers.ftp) as sock:
        sock.sendall(command + b"\r\n")
        assert reply(sock).startswith(b"530")
    assert_still_serving(servers.ftp)


def test_data_connection_that_dies_at_once_gets_425_not_a_hang(servers):
    with connect(servers.ftp) as ftp:
        host, port = ftplib.parse227(ftp.sendcmd("PASV"))
        data = socket.create_connection((host, port), timeout=TIMEOUT)
        data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        data.close()  # a reset, before any transfer command
        time.sleep(0.1)
        with pytest.raises(ftplib.error_temp, match="^425"):
            ftp.sendcmd("RETR /pub/README.txt")
        assert b"read-only" in retr(ftp, "/pub/README.txt")  # the session goes on


@pytest.mark.parametrize("command", [b"CWD pub\x00/x", b"RETR /pub/README.txt\x00.jpg", b"SIZE \x00", b"MLST a\x00b",
                                     b"USER anonymous\x00"])
def test_a_nul_byte_gets_501_and_the_session_goes_on(servers, command):
    info = servers.ftp
    with raw_session(info) as sock:
        if not command.startswith(b"USER"):
            sock.sendall(b"USER anonymous\r\n")
            assert reply(sock).startswith(b"331")
            sock.sendall(b"PASS x\r\n")
            while not reply(sock).startswith(b"230"):
                pass
        sock.sendall(command + b"\r\n")
        assert reply(sock).startswith(b"501")
        sock.sendall(b"NOOP\r\n")
        assert reply(sock).startswith(b"200")
    assert_still_serving(info)


def test_ftps_commands_then_close_notify_get_every_reply(servers):
    """RFC 8446 §6.1: a client that pipelines, sends close_notify and reads on gets every reply."""
    with raw_session(servers.ftp) as sock:
        sock.sendall(b"AUTH TLS\r\n")
        assert reply(sock).startswith(b"234")
        client = TLSClient(sock, ssl.create_default_context(cafile=servers.ftp.ca_file))
        client.send(b"USER anonymous\r\nPASS x\r\nPWD\r\nSYST\r\nNOOP\r\n")
        client.close_notify()
        replies = client.read_to_end()
    assert [line[:3] for line in replies.split(b"\r\n") if line[3:4] == b" "] == [b"331", b"230", b"257", b"215", b"200"]


def test_connections_beyond_the_limit_get_421(servers_factory):
    handle = servers_factory(names=["ftp"], options={"ftp_max_per_address": 2})
    held = [connect(handle.ftp), connect(handle.ftp)]
    try:
        sock = socket.create_connection(handle.ftp.address, timeout=TIMEOUT)
        assert reply(sock).startswith(b"421")
        drain(sock)  # and closed
        sock.close()
    finally:
        held.pop().quit()
    deadline = time.monotonic() + 10
    while True:  # the place is free again once the server saw the QUIT
        sock = socket.create_connection(handle.ftp.address, timeout=TIMEOUT)
        greeting = reply(sock)
        sock.close()
        if greeting.startswith(b"220") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert greeting.startswith(b"220")
    held[0].quit()


# --- writing in a home (fresh servers)


def test_home_upload_rename_folders_delete(fresh_servers):
    info, home = fresh_servers.ftp, home_path(fresh_servers, "alice")
    data = bytes(range(256)) * 4000
    with connect(info, "alice") as ftp:
        ftp.storbinary("STOR report.bin", io.BytesIO(data))  # leaves TYPE I set, so SIZE may answer
        assert ftp.size("report.bin") == len(data)
        assert retr(ftp, "report.bin") == data
        ftp.storbinary("APPE report.bin", io.BytesIO(b"tail"))
        assert ftp.size("report.bin") == len(data) + 4
        ftp.mkd("reports")
        ftp.rename("report.bin", "reports/2026.bin")
        ftp.cwd("reports")
        assert ftp.nlst() == ["2026.bin"]
        ftp.delete("2026.bin")
        ftp.cwd("/")
        ftp.rmd("reports")
        assert ftp.nlst() == ["welcome.txt"]
    assert sorted(p.name for p in home.iterdir()) == ["welcome.txt"]  # no temporary files left
    with connect(info, "bob") as ftp:
        assert ftp.nlst() == ["welcome.txt"]  # bob's home is untouched


def test_ftps_upload(fresh_servers):
    with connect(fresh_servers.ftp, "carol", tls=True) as ftp:
        ftp.storbinary("STOR secret.txt", io.BytesIO(b"over TLS\n"))
        assert retr(ftp, "secret.txt") == b"over TLS\n"
    assert (home_path(fresh_servers, "carol") / "secret.txt").read_bytes() == b"over TLS\n"


def test_ftps_upload_ended_by_close_notify_and_close_is_kept(fresh_servers):
    """What lftp does: send the file, close_notify, close at once, without reading what the server sent.

    Anything the server sends after the handshake (TLS 1.3 session tickets)
    then lies unread at the client, whose kernel answers the close with a
    reset and throws away what it had not sent yet: 426, file deleted.
    """
    info, home = fresh_servers.ftp, home_path(fresh_servers, "alice")
    data = os.urandom(4 * 1024 * 1024)
    ftp = connect(info, "alice", tls=True)
    ftp.voidcmd("TYPE I")
    for attempt in range(3):
        conn, _ = ftplib.FTP.ntransfercmd(ftp, f"STOR up{attempt}.bin")  # the plain socket: TLS is ours
        client = TLSClient(conn, ssl.create_default_context(cafile=info.ca_file))
        time.sleep(0.2)  # whatever the server sends after its handshake arrives, and stays unread
        client.send(data)
        client.close_notify()
        conn.close()
        assert ftp.voidresp().startswith("226")
        assert (home / f"up{attempt}.bin").read_bytes() == data
    ftp.quit()


def _wait_for_no_upload_files(home: Path, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        names = sorted(p.name for p in home.iterdir())
        if names == ["welcome.txt"] or time.monotonic() > deadline:
            return names


@pytest.mark.parametrize("how", ["control-first", "data-first", "reset"])
def test_dropped_upload_leaves_no_file(fresh_servers, how):
    """A client that goes away mid-upload leaves nothing under the final name (nor a temporary file)."""
    info, home = fresh_servers.ftp, home_path(fresh_servers, "alice")
    ftp = connect(info, "alice")
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR partial.bin")
    conn.sendall(b"x" * 256 * 1024)
    if how == "control-first":  # the client's process dies
        ftp.close()
        conn.close()
    elif how == "data-first":
        conn.close()
        ftp.close()
    else:  # the data connection is reset while the session lives on
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        with pytest.raises((ftplib.error_temp, ftplib.error_reply)):
            ftp.voidresp()  # 426: the transfer was aborted
        ftp.close()
    assert _wait_for_no_upload_files(home) == ["welcome.txt"]
    with connect(info, "alice") as ftp:
        assert "partial.bin" not in ftp.nlst()


def test_completed_upload_is_visible_at_once(fresh_servers):
    """The rename into place happens before the 226 reply, so the next command sees the file."""
    with connect(fresh_servers.ftp, "bob") as ftp:
        for n in range(3):
            ftp.storbinary(f"STOR f{n}.txt", io.BytesIO(b"%d" % n))
            assert retr(ftp, f"f{n}.txt") == b"%d" % n


# --- time limits and stopping


def test_idle_timeout_is_honoured(servers_factory):
    handle = servers_factory(names=["ftp"], options={"ftp_idle_timeout": "1"})
    assert handle.ftp.extra["idle_timeout"] == 1
    ftp = connect(handle.ftp)
    started = time.monotonic()
    with pytest.raises(ftplib.error_temp, match="^421"):
        ftp.getresp()  # the server speaks first: 421 after a second of silence
    assert 0.5 < time.monotonic() - started < 5
    ftp.close()


def refused_login_seconds(endpoint) -> float:
    ftp = ftplib.FTP()
    ftp.connect(endpoint.host, endpoint.port, timeout=TIMEOUT)  # reads the 220 greeting
    started = time.monotonic()
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp.login("alice", "wrong-pw")
    took = time.monotonic() - started
    ftp.close()
    return took


def test_login_delay_is_an_option(servers_factory):
    """A refused login waits (slows password guessing); the grader's own servers may wait less."""
    assert refused_login_seconds(servers_factory(names=["ftp"]).ftp) >= 0.9
    assert refused_login_seconds(servers_factory(names=["ftp"], options={"ftp_login_delay": "0.05"}).ftp) < 0.6


def test_stop_is_prompt_with_clients_connected(servers_factory):
    handle = servers_factory(names=["ftp"])
    idle = connect(handle.ftp)
    busy = connect(handle.ftp)
    busy.voidcmd("TYPE I")
    transfer = busy.transfercmd(f"RETR {handle.ftp.extra['large_file']}")
    started = time.monotonic()
    assert control.stop(handle.state_dir)
    assert time.monotonic() - started < 3
    for sock in (idle.sock, transfer):
        drain(sock)  # EOF (or a reset), not a hang
    with pytest.raises(OSError):
        socket.create_connection(handle.ftp.address, timeout=2).close()
    for client in (idle, busy):
        client.close()
    transfer.close()


def drain(sock: socket.socket) -> None:
    """Read until the peer closes; a hang fails with a timeout."""
    sock.settimeout(TIMEOUT)
    try:
        while sock.recv(1024 * 1024):
            pass
    except ConnectionResetError:
        pass
