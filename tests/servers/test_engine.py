"""The connection engine (local_servers/engine/line.py) and the service contract, through real clients.

POP3 and NNTP run on the engine, so its pieces are tested through them: TLS
half-close, connection limits, bounded pattern matching, and the one login
rule on every service. Literals (IMAP's {n}) are tested with a small protocol
of the test's own, served by the engine in this process.
"""

from __future__ import annotations

import asyncio
import fnmatch
import imaplib
import poplib
import random
import smtplib
import socket
import ssl
import threading
import time
import types
import warnings

import pytest

with warnings.catch_warnings():  # deprecated in 3.12; from standard-nntplib on 3.13
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib

from local_servers.engine import Command, LineService, LineSession
from local_servers.news.nntp import glob_match
from local_servers import service
from local_servers.service import Context
from local_servers.tls import ensure_certificates
from tls_client import TLSClient


@pytest.fixture(scope="module")
def engine_servers(tmp_path_factory):
    from local_servers.pytest_plugin import ServersFactory
    factory = ServersFactory(tmp_path_factory)
    yield factory(names=["smtp", "pop3", "imap", "nntp"])
    factory.stop_all()


def tls_pipeline_then_close_notify(info, port: int, payload: bytes, wait: float = 0) -> bytes:
    """Send payload over TLS, then close_notify and FIN at once; return every byte the server sent.

    A memory-BIO TLS client, so the commands and the close_notify leave in one
    burst and the reading goes on after our side is closed (TLS 1.3 allows it).
    wait: seconds to wait before reading anything.
    """
    context = ssl.create_default_context(cafile=info.ca_file)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=info.host)
    sock = socket.create_connection((info.host, port), timeout=20)
    with sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                data = sock.recv(65536)
                assert data, "closed during the handshake"
                incoming.write(data)
        tls.write(payload)
        try:
            tls.unwrap()  # queues our close_notify
        except ssl.SSLWantReadError:
            pass
        sock.sendall(outgoing.read())
        sock.shutdown(socket.SHUT_WR)
        time.sleep(wait)  # let the replies pile up: the server meets back-pressure
        received = bytearray()
        while True:
            data = sock.recv(65536)
            if data:
                incoming.write(data)
            try:
                while chunk := tls.read(65536):
                    received += chunk
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                pass
            if not data:
                return bytes(received)


def test_pop3s_answers_every_pipelined_command_before_close_notify(engine_servers):
    pop3 = engine_servers.pop3
    count = 300  # replies of a few MB: the server is paused by back-pressure when the close_notify comes
    payload = b"USER alice\r\nPASS alice-pw\r\n" + b"RETR 2\r\n" * count + b"NOOP\r\n"
    received = tls_pipeline_then_close_notify(pop3, pop3.tls_ports["pop3s"], payload)
    assert received.count(b"\r\n.\r\n") == count
    assert received.endswith(b"+OK\r\n")  # the NOOP, the last command before the close_notify


def test_nntps_answers_every_pipelined_command_before_close_notify(engine_servers):
    nntp = engine_servers.nntp
    payload = b"GROUP comp.lang.python\r\n" + b"OVER 1-30\r\n" * 20 + b"DATE\r\n"
    received = tls_pipeline_then_close_notify(nntp, nntp.tls_ports["nntps"], payload)
    assert received.count(b"\r\n224 ") == 20
    assert received.split(b"\r\n")[-2].startswith(b"111 ")  # the DATE


def test_imaps_answers_every_pipelined_command_before_close_notify(engine_servers):
    imap = engine_servers.imap
    payload = (b"a LOGIN alice alice-pw\r\nb SELECT INBOX\r\n"
               + b"".join(b"f%d FETCH 1:* (FLAGS BODY.PEEK[])\r\n" % i for i in range(20)) + b"z NOOP\r\n")
    received = tls_pipeline_then_close_notify(imap, imap.tls_ports["imaps"], payload)
    assert received.count(b" OK FETCH completed") == 20
    assert received.split(b"\r\n")[-2].startswith(b"z OK")  # the last command before the close_notify


def test_plain_half_close_gets_every_reply(engine_servers):
    with socket.create_connection(engine_servers.nntp.address, timeout=10) as sock:
        sock.sendall(b"GROUP comp.lang.python\r\nOVER 1-30\r\nDATE\r\n")
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while data := sock.recv(65536):
            received += data
    assert received.split(b"\r\n")[-2].startswith(b"111 ")


def test_user_names_are_case_insensitive_on_every_service(engine_servers):
    """One check_login: Alice/alice-pw is alice everywhere, and a wrong password fails everywhere."""
    h = engine_servers
    pop = poplib.POP3(h.pop3.host, h.pop3.port, timeout=10)
    pop.user("Alice")
    assert pop.pass_("alice-pw").startswith(b"+OK alice")
    pop.quit()
    with smtplib.SMTP(h.smtp.host, h.smtp.port, timeout=10) as smtp:
        smtp.starttls(context=h.smtp.ssl_context())
        assert smtp.login("Alice", "alice-pw")[0] == 235
    imap = imaplib.IMAP4(h.imap.host, h.imap.port, timeout=10)
    assert imap.login("Alice", "alice-pw")[0] == "OK"
    imap.logout()
    with nntplib.NNTP(h.nntp.host, h.nntp.port, timeout=10) as news:
        news.login("Alice", "alice-pw")
    with nntplib.NNTP(h.nntp.host, h.nntp.port, timeout=10) as news:
        with pytest.raises(nntplib.NNTPTemporaryError, match="^481"):
            news.login("Alice", "Alice-pw")  # passwords stay exact


def test_connection_limits_get_each_protocols_busy_reply(servers_factory):
    handle = servers_factory(names=["pop3", "nntp"],
                             options={"pop3_max_per_address": 2, "nntp_max_connections": 2})
    pop_held = [socket.create_connection(handle.pop3.address, timeout=10) for _ in range(2)]
    news_held = [socket.create_connection(handle.nntp.address, timeout=10) for _ in range(2)]
    try:
        for sock in pop_held + news_held:
            sock.recv(200)  # the greeting: admitted
        with socket.create_connection(handle.pop3.address, timeout=10) as extra:
            assert extra.makefile("rb").readline().startswith(b"-ERR [SYS/TEMP]")
        with socket.create_connection(handle.nntp.address, timeout=10) as extra:
            file = extra.makefile("rb")
            assert file.readline().startswith(b"400")
            assert file.readline() == b""  # and closed
    finally:
        for sock in pop_held + news_held:
            sock.close()
    deadline = time.monotonic() + 5  # a closed connection frees its place
    while True:
        with socket.create_connection(handle.nntp.address, timeout=10) as again:
            if again.makefile("rb").readline().startswith(b"200") or time.monotonic() > deadline:
                break
        time.sleep(0.05)
    with socket.create_connection(handle.nntp.address, timeout=10) as again:
        assert again.makefile("rb").readline().startswith(b"200")


def test_list_active_wildmat_costs_no_backtracking(engine_servers):
    """16 stars took 9.8 s with a regex (each star tried at every split); now a linear scan."""
    with socket.create_connection(engine_servers.nntp.address, timeout=10) as sock:
        file = sock.makefile("rb")
        file.readline()
        started = time.monotonic()
        sock.sendall(b"LIST ACTIVE " + b"*" * 16 + b"x\r\nLIST ACTIVE *a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*\r\n")
        assert file.readline().startswith(b"215") and file.readline() == b".\r\n"
        assert file.readline().startswith(b"215") and file.readline() == b".\r\n"
        assert time.monotonic() - started < 2


def test_glob_match_agrees_with_fnmatch():
    rng = random.Random(8)
    for _ in range(5000):
        pattern = "".join(rng.choice("ab*?.") for _ in range(rng.randint(0, 7)))
        name = "".join(rng.choice("ab.") for _ in range(rng.randint(0, 8)))
        assert glob_match(pattern, name) == fnmatch.fnmatchcase(name, pattern), (pattern, name)


# -- literals and data blocks, with a protocol of the test's own ------------------------------

class EchoSession(LineSession):
    """A toy protocol: ECHO text (with IMAP-style literals) and DATA (a dot-terminated block)."""

    commands = {"ECHO": Command("text", "say it back", r".*"), "DATA": Command("", "send a block", "")}

    def greeting(self) -> bytes:
        return b"* ready\r\n"

    def error(self, kind, **details) -> bytes:
        return f"ERR {kind}\r\n".encode()

    def literal(self, line: bytes):
        if line.endswith(b"}") and b"{" in line:
            return int(line[line.rindex(b"{") + 1:-1].rstrip(b"+"))
        return None

    def max_literal(self) -> int:
        return 100

    def cmd_ECHO(self, arg: str) -> bytes:
        return f"OK {arg!r}\r\n".encode()

    def cmd_DATA(self, arg: str) -> bytes:
        self.read_block(50, lambda data: b"ERR too big\r\n" if data is None else b"OK %d\r\n" % len(data))
        return b"GO\r\n"


class EchoService(LineService):
    name = "echotest"
    listeners = ("plain", "secure")
    session = EchoSession


@pytest.fixture
def echo(tmp_path):
    ctx = Context(host="127.0.0.1", ports={"plain": 0, "secure": 0}, data_dir=tmp_path,
                  tls=ensure_certificates(tmp_path / "tls"), options={"echotest_idle_timeout": 1.0})
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    service = EchoService(ctx)
    asyncio.run_coroutine_threadsafe(service.start(), loop).result(10)
    sock = socket.create_connection(("127.0.0.1", service.ports["plain"]), timeout=10)
    file = sock.makefile("rb")
    assert file.readline() == b"* ready\r\n"
    yield sock, file
    sock.close()
    asyncio.run_coroutine_threadsafe(service.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_literals_reach_the_command_whole(echo):
    sock, file = echo
    sock.sendall(b"ECHO a {5}\r\n")
    assert file.readline() == b"+ Ready for literal data\r\n"  # synchronising: the server asks
    sock.sendall(b"x\r\nyz b {3+}\r\n\x00\n! c\r\n")  # non-synchronising: no continuation
    assert file.readline() == b"OK 'a {5}\\r\\nx\\r\\nyz b {3+}\\r\\n\\x00\\n! c'\r\n"
    sock.sendall(b"ECHO {101}\r\nECHO ok\r\n")
    assert file.readline() == b"ERR literal\r\n"  # too big: refused before a byte of it is read
    assert file.readline() == b"OK 'ok'\r\n"


def test_data_blocks_and_idle_timeout(echo):
    sock, file = echo
    sock.sendall(b"DATA\r\n..one\r\ntwo\r\n.\r\nDATA\r\n" + b"x" * 60 + b"\r\n.\r\n")
    assert file.readline() == b"GO\r\n"
    assert file.readline() == b"OK 11\r\n"  # ".one\r\ntwo\r\n": unstuffed
    assert file.readline() == b"GO\r\n"
    assert file.readline() == b"ERR too big\r\n"  # read to its end all the same
    assert file.readline() == b"ERR idle\r\n"  # after 1 s of silence
    assert file.readline() == b""


def test_a_post_near_the_limit_is_read_whole(servers_factory):
    """A 900 KB article: more than the engine's read buffer, less than nntp_max_article_bytes."""
    nntp = servers_factory(names=["nntp"]).nntp
    body = "".join(f"{'.' if n % 50 == 0 else ''}line {n} " + "z" * 60 + "\n" for n in range(13_000))
    article = ("From: a@example.test\r\nNewsgroups: course.test\r\nSubject: large\r\n\r\n"
               + body.replace("\n", "\r\n")).encode()
    with nntplib.NNTP(nntp.host, nntp.port, timeout=30) as news:
        message_id = news.post(article).split()[-1]
        lines = news.body(message_id)[1].lines
    assert b"\r\n".join(lines) + b"\r\n" == body.replace("\n", "\r\n").encode()


def test_a_client_dribbling_a_line_byte_by_byte_is_timed_out(servers_factory):
    """Idle means no complete command: bytes that never finish a line do not keep a session alive."""
    nntp = servers_factory(names=["nntp"], options={"nntp_idle_timeout": 1}).nntp
    with socket.create_connection(nntp.address, timeout=10) as sock:
        file = sock.makefile("rb")
        file.readline()
        started = time.monotonic()
        for byte in b"GROUP comp.lang.python":
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # closed by the server: what the test waits for
                break
            time.sleep(0.2)
        assert file.readline().startswith(b"400")
        assert time.monotonic() - started < 3


def test_pop3_stls_answers_every_pipelined_command_before_close_notify(engine_servers):
    """STARTTLS goes through the same half-closing TLS layer as the implicit-TLS port."""
    pop3 = engine_servers.pop3
    with socket.create_connection(pop3.address, timeout=20) as sock:
        replies = b""
        sock.sendall(b"STLS\r\n")
        while replies.count(b"\r\n") < 2:  # the greeting, then STLS's go-ahead
            replies += sock.recv(1024)
        assert replies.split(b"\r\n")[1].startswith(b"+OK")
        client = TLSClient(sock, pop3.ssl_context())
        client.send(b"USER alice\r\nPASS alice-pw\r\n" + b"RETR 2\r\n" * 50 + b"NOOP\r\n")
        client.close_notify()
        sock.shutdown(socket.SHUT_WR)
        received = client.read_to_end()
    assert received.count(b"\r\n.\r\n") == 50
    assert received.endswith(b"+OK\r\n")  # the NOOP, the last command before the close_notify


def test_accepted_connections_have_no_nagle_delay():
    """The engine and SMTP leave TCP_NODELAY to asyncio, which sets it only on sockets whose protocol says TCP:
    service.listen() must make them so, or a reply written in two pieces waits 40 ms for a delayed ACK."""
    ctx = types.SimpleNamespace(host="127.0.0.1", ports={"probe": 0}, bound={})
    nodelay = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            nodelay.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one():
        server = await asyncio.get_running_loop().create_server(Probe, sock=service.listen(ctx, "probe"))
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", ctx.bound["probe"])
            await reader.read()
            writer.close()

    asyncio.run(accept_one())
    assert nodelay == [1]
