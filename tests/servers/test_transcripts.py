"""Transcripts (local_servers/wire/transcripts.py): every protocol's dialogue, in order, secrets masked.

Each test drives a real server with the standard library's client and reads the
transcript back the way a notebook does (``servers.transcripts(...)``).
"""

from __future__ import annotations

import base64
import ftplib
import imaplib
import inspect
import io
import json
import poplib
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from local_servers.wire import transcripts
from local_servers.config import StateDir
from local_servers.wire.transcripts import MASK, Masker, HTTPMasker

try:
    import nntplib
except ImportError:  # 3.13+: the standard-nntplib package
    nntplib = None

PLAIN_B64 = base64.b64encode(b"\0alice\0alice-pw").decode()  # AUTH PLAIN's initial response


@pytest.fixture(scope="module")
def handle(tmp_path_factory):
    from local_servers.pytest_plugin import ServersFactory
    factory = ServersFactory(tmp_path_factory)
    yield factory()
    factory.stop_all()


def last(handle, service):
    found = handle.transcripts(service, last=1)
    assert len(found) == 1, f"no {service} session recorded"
    return found[0]


def client_lines(session):
    return [e.text for e in session.events if e.who == "C"]


def no_secret_on_disk(handle):
    """The password and its base64 forms never reach the transcript files."""
    text = "".join(p.read_text(encoding="utf-8") for p in transcripts.folder(handle.state_dir).iterdir())
    for secret in ("alice-pw", PLAIN_B64, base64.b64encode(b"alice-pw").decode(),
                   base64.b64encode(b"alice:alice-pw").decode()):
        assert secret not in text


# -- the masking rules, one by one ------------------------------------------------------------

@pytest.mark.parametrize("line, shown", [
    ("USER alice", "USER alice"),
    ("PASS alice-pw", "PASS ****"),
    ("pass alice-pw", "pass ****"),
    ("APOP alice 0123456789abcdef0123456789abcdef", "APOP alice ****"),
    ("a1 LOGIN alice alice-pw", "a1 LOGIN alice ****"),
    ('a1 LOGIN "alice" "alice pw"', 'a1 LOGIN "alice" ****'),
    ("AUTHINFO PASS alice-pw", "AUTHINFO PASS ****"),
    ("authinfo user alice", "authinfo user alice"),
    (f"AUTH PLAIN {PLAIN_B64}", "AUTH PLAIN ****"),
    (f"a2 AUTHENTICATE PLAIN {PLAIN_B64}", "a2 AUTHENTICATE PLAIN ****"),
    (f"AUTHINFO SASL PLAIN {PLAIN_B64}", "AUTHINFO SASL PLAIN ****"),
    ("AUTH LOGIN", "AUTH LOGIN"),
    ("NOOP", "NOOP"),
    # the quick test before the rules (wire/transcripts.py, Masker.client): any case, a tag before the verb
    ("a7 login alice alice-pw", "a7 login alice ****"),
    ("x PASS alice-pw", "x PASS ****"),
    ("authinfo pass alice-pw", "authinfo pass ****"),
    (f"a3 authenticate plain {PLAIN_B64}", "a3 authenticate plain ****"),
    ("RETR /pub/README.txt", "RETR /pub/README.txt"),
])
def test_masker_masks_each_kind_of_secret(line, shown):
    assert Masker().client(line) == shown


def test_masker_masks_every_line_of_an_auth_exchange_until_its_result():
    masker = Masker()
    assert masker.client("AUTH LOGIN") == "AUTH LOGIN"
    masker.server("334 VXNlcm5hbWU6")
    assert masker.client("YWxpY2U=") == MASK
    masker.server("334 UGFzc3dvcmQ6")
    assert masker.client("YWxpY2UtcHc=") == MASK
    masker.server("235 2.7.0 Authentication successful")
    assert masker.client("MAIL FROM:<alice@example.test>") == "MAIL FROM:<alice@example.test>"


def test_masker_masks_the_password_after_an_auth_login_with_its_initial_response():
    """smtplib's auth("LOGIN") sends the user name on the AUTH line itself: the password still follows a 334.
    (Failed before the fix: the line was taken for IMAP's "tag LOGIN user pass" and the exchange not followed.)"""
    masker = Masker()
    assert masker.client("AUTH LOGIN YWxpY2U=") == "AUTH LOGIN ****"
    masker.server("334 UGFzc3dvcmQA")
    assert masker.client("YWxpY2UtcHc=") == MASK
    masker.server("235 2.7.0 Authentication successful")
    assert masker.client("QUIT") == "QUIT"


def test_masker_masks_an_imap_login_sent_as_literals():
    masker = Masker()
    assert masker.client("a1 LOGIN {5}") == "a1 LOGIN ****"
    masker.server("+ Ready for literal data")
    assert masker.client("alice") == MASK
    assert masker.client(" {8}") == MASK
    masker.server("+ Ready for literal data")
    assert masker.client("alice-pw") == MASK
    masker.server("a1 OK Logged in")
    assert masker.client("a2 SELECT INBOX") == "a2 SELECT INBOX"


def test_http_masker_keeps_the_scheme_and_masks_credentials_and_cookies():
    head = ("GET / HTTP/1.1\r\nAuthorization: Basic YWxpY2U6YWxpY2UtcHc=\r\nCookie: session=s3cret\r\n"
            "Proxy-Authorization: Bearer tok\r\nUser-Agent: x\r\n")
    masked = HTTPMasker().client(head)
    assert "Authorization: Basic ****\r\n" in masked and "Cookie: ****\r\n" in masked
    assert "Proxy-Authorization: Bearer ****" in masked and "User-Agent: x" in masked
    assert "YWxp" not in masked and "s3cret" not in masked and "tok" not in masked
    shouted = HTTPMasker().client("GET / HTTP/1.1\r\nAUTHORIZATION: Basic YWxpY2U6YWxpY2UtcHc=\r\ncookie: a=b\r\n")
    assert "YWxp" not in shouted and "a=b" not in shouted  # header names in any case


# -- every protocol, with the standard library's client --------------------------------------

def test_smtp_starttls_session_in_order_masked_and_marked_tls(handle):
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as client:
        client.starttls(context=handle.ssl_context())
        client.login("alice", "alice-pw")
        client.sendmail("alice@example.test", ["bob@example.test"], "Subject: hi\r\n\r\nline one\r\n")
    session = last(handle, "smtp")
    sent = [line.split()[0].upper() for line in client_lines(session)]
    assert sent == ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "SUBJECT:", "QUIT"]
    assert "AUTH PLAIN ****" in client_lines(session)
    message = next(e for e in session.events if e.text.startswith("Subject: hi"))
    assert message.text.splitlines() == ["Subject: hi", "", "line one", "."]  # one event, its lines
    starttls = next(i for i, e in enumerate(session.events) if e.who == "C" and e.text == "STARTTLS")
    assert not any(e.tls for e in session.events[:starttls + 2])  # STARTTLS and its 220 in the clear
    assert session.events[starttls + 2].who == "*" and session.events[starttls + 2].text == "TLS started"
    assert all(e.tls for e in session.events[starttls + 2:])
    assert session.user == "alice" and session.tls
    ehlo = next(e for e in session.events if e.who == "S" and e.text.startswith("250-"))
    assert ehlo.text.splitlines()[-1].startswith("250 ")  # a multi-line reply is one event
    no_secret_on_disk(handle)


def test_smtps_auth_login_masks_each_continuation_line(handle):
    with smtplib.SMTP_SSL(handle.smtp.host, handle.smtp.tls_ports["smtps"], context=handle.ssl_context(),
                          timeout=10) as client:
        client.ehlo()
        client.user, client.password = "alice", "alice-pw"
        client.auth("LOGIN", client.auth_login, initial_response_ok=False)
    session = last(handle, "smtp")
    lines = client_lines(session)
    start = lines.index("AUTH LOGIN")
    assert lines[start + 1:start + 3] == [MASK, MASK]
    assert all(e.tls for e in session.events) and "TLS from the start" in str(session)
    no_secret_on_disk(handle)


def test_pop3_user_pass_apop_and_stls(handle):
    client = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    client.stls(context=handle.ssl_context())
    client.user("alice")
    client.pass_("alice-pw")
    client.stat()
    client.quit()
    session = last(handle, "pop3")
    assert client_lines(session) == ["CAPA", "STLS", "USER alice", "PASS ****", "STAT", "QUIT"]
    assert [e.tls for e in session.events if e.who == "C"] == [False, False, True, True, True, True]
    assert session.user == "alice"
    client = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    client.apop("bob", "bob-pw")
    client.quit()
    assert client_lines(last(handle, "pop3"))[0] == "APOP bob ****"
    no_secret_on_disk(handle)


def test_imap_login_authenticate_and_implicit_tls(handle):
    with imaplib.IMAP4_SSL(handle.imap.host, handle.imap.tls_ports["imaps"],
                           ssl_context=handle.ssl_context(), timeout=10) as client:
        client.login("alice", "alice-pw")
        client.select("INBOX")
    session = last(handle, "imap")
    verbs = [line.split()[1] for line in client_lines(session)]
    assert verbs == ["CAPABILITY", "LOGIN", "SELECT", "LOGOUT"]
    assert client_lines(session)[1].endswith("LOGIN alice ****")
    assert all(e.tls for e in session.events) and session.user == "alice"

    client = imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10)
    client.starttls(ssl_context=handle.ssl_context())
    client.authenticate("PLAIN", lambda _: b"\0alice\0alice-pw")
    client.logout()
    session = last(handle, "imap")
    lines = client_lines(session)
    auth = next(i for i, line in enumerate(lines) if " AUTHENTICATE PLAIN" in line)
    assert lines[auth + 1] == MASK  # the response to the "+ " challenge
    tls_started = next(i for i, e in enumerate(session.events) if e.who == "*")
    assert session.events[tls_started].text == "TLS started"
    no_secret_on_disk(handle)


@pytest.mark.skipif(nntplib is None, reason="nntplib is not installed")
def test_nntp_authinfo_masked(handle):
    client = nntplib.NNTP(handle.nntp.host, handle.nntp.port, user="alice", password="alice-pw", timeout=10)
    client.group("comp.lang.python")
    client.quit()
    session = last(handle, "nntp")
    lines = [line.upper() for line in client_lines(session)]
    assert lines[lines.index("AUTHINFO USER ALICE") + 1] == "AUTHINFO PASS ****"
    assert lines[-2:] == ["GROUP COMP.LANG.PYTHON", "QUIT"] and session.user == "alice"
    no_secret_on_disk(handle)


def test_ftp_control_dialogue_with_data_connections_summarised(handle):
    client = ftplib.FTP_TLS(context=handle.ssl_context(), timeout=10)
    client.connect(handle.ftp.host, handle.ftp.port)
    client.login("alice", "alice-pw")
    client.prot_p()
    client.storbinary("STOR note.txt", io.BytesIO(b"x" * 1000))
    client.retrbinary("RETR note.txt", lambda _: None)
    client.quit()
    session = last(handle, "ftp")
    lines = client_lines(session)
    assert lines[:3] == ["AUTH TLS", "USER alice", "PASS ****"]
    assert [line.split()[0] for line in lines[3:]] == ["PBSZ", "PROT", "TYPE", "PASV", "STOR", "TYPE", "PASV", "RETR",
                                                  "QUIT"]
    notes = [e.text for e in session.events if e.who == "*"]
    assert notes[0] == "TLS started"
    assert notes[1].startswith("data connection: upload /note.txt, 1000 bytes in ") and "TLS, complete" in notes[1]
    assert notes[2].startswith("data connection: download /note.txt, 1000 bytes in ")
    assert "x" * 100 not in json.dumps(session.to_dict())  # the file's bytes are not in the transcript
    assert "data connection: upload /note.txt, 1000 bytes, TLS, complete" in str(session)  # no seconds in print
    assert session.user == "alice"
    no_secret_on_disk(handle)


def test_ftp_data_note_is_on_disk_when_the_transfer_call_returns(handle):
    """The note is written with the 226 that follows it (one write, not two): still before the client has it."""
    with ftplib.FTP() as client:
        client.connect(handle.ftp.host, handle.ftp.port, timeout=10)
        client.login()
        client.retrlines("LIST /pub", lambda _: None)
        session = last(handle, "ftp")  # the session is still open: no QUIT, no close yet
        assert session.ended is None
        notes = [e.text for e in session.events if e.who == "*"]
        assert len(notes) == 1 and notes[0].startswith("data connection: listing (LIST), ")
        assert session.events[-1].who == "S" and session.events[-1].text.startswith("226")
        client.quit()


def test_smtp_and_ftp_sessions_are_ended_as_soon_as_quit_returns(handle):
    """The end is written with the 221 (one write fewer a session): no wait for the server to see the close."""
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as smtp:
        smtp.noop()
    smtp_session = last(handle, "smtp")
    assert smtp_session.ended is not None and smtp_session.events[-1].text.startswith("221")
    with ftplib.FTP() as client:
        client.connect(handle.ftp.host, handle.ftp.port, timeout=10)
        client.login()
    ftp_session = last(handle, "ftp")
    assert ftp_session.ended is not None and ftp_session.events[-1].text.startswith("221")


def test_http_request_and_response_heads_bodies_by_size_credentials_masked(handle):
    request = urllib.request.Request(
        f"http://{handle.http.host}:{handle.http.port}/post", data=b"a" * 300, method="POST",
        headers={"Authorization": "Basic " + base64.b64encode(b"alice:alice-pw").decode(), "Cookie": "k=alice-pw"})
    body = urllib.request.urlopen(request, timeout=10).read()
    session = last(handle, "http")
    head, request_body, status, response_body = session.events[:4]
    assert head.who == "C" and head.text.startswith("POST /post HTTP/1.1\r\n")
    assert "Authorization: Basic ****" in head.text and "Cookie: ****" in head.text
    assert (request_body.who, request_body.text, request_body.size) == ("C", "[body: 300 bytes]", 300)
    assert status.who == "S" and status.text.startswith("HTTP/1.1 200 OK")
    assert (response_body.who, response_body.size) == ("S", len(body))
    no_secret_on_disk(handle)


def test_https_marks_every_event_tls(handle):
    urllib.request.urlopen(f"https://{handle.http.host}:{handle.http.tls_ports['https']}/get",
                           context=handle.ssl_context(), timeout=10).read()
    session = last(handle, "http")
    assert session.events and all(e.tls for e in session.events)


@pytest.mark.parametrize("service", ["echo", "time"])
def test_echo_and_time_are_summarised_by_bytes(handle, service):
    with socket.create_connection((handle[service].host, handle[service].port), timeout=10) as sock:
        sock.sendall(b"hello")
        reply = sock.recv(1000)
    for _ in range(50):  # the summary is written when the server sees the close
        found = handle.transcripts(service, last=1)
        if found and found[0].ended is not None:
            break
        time.sleep(0.05)
    session = found[0]
    assert [(e.who, e.size) for e in session.events] == [("C", 5), ("S", len(reply))]
    assert "hello" not in json.dumps(session.to_dict())


# -- reading back: renderings, the CLI, the option that turns it off ---------------------------

def test_renderings_are_the_same_on_every_run(handle):
    for _ in range(2):
        client = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
        client.user("carol")
        client.pass_("carol-pw")
        client.quit()
    first, second = handle.transcripts("pop3", last=2)
    assert str(first).replace(first.events[0].text, "") == str(second).replace(second.events[0].text, "")
    assert str(handle.transcripts("pop3", last=1)).startswith("POP3 session, user carol\n")
    html = second._repr_html_()
    assert "<table>" in html and "PASS ****" in html and str(second.peer) not in html


def test_cli_prints_plain_lines_and_json(handle):
    run = [sys.executable, "-m", "local_servers", "transcripts", "pop3", "--last", "1", "--state-dir",
           str(handle.state_dir)]
    client = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    client.user("bob")
    client.pass_("bob-pw")
    client.quit()
    text = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "C: PASS ****" in text and "POP3 session, user bob" in text
    document = json.loads(subprocess.run(run + ["--json"], capture_output=True, text=True, timeout=60,
                                         check=True).stdout)
    assert document["service"] == "pop3" and document["user"] == "bob"
    assert [e["text"] for e in document["events"] if e["who"] == "C"] == ["USER bob", "PASS ****", "QUIT"]


def test_cli_follow_prints_new_events(handle):
    follower = subprocess.Popen([sys.executable, "-m", "local_servers", "transcripts", "echo", "--follow",
                                 "--state-dir", str(handle.state_dir)], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # it has started and read what exists
        with socket.create_connection((handle.echo.host, handle.echo.port), timeout=10) as sock:
            sock.sendall(b"ping")
            sock.recv(100)
        seen = []
        for line in follower.stdout:
            seen.append(line)
            if "closed" in line:
                break
        assert any("connected from" in line for line in seen) and any("[4 bytes]" in line for line in seen)
    finally:
        follower.kill()
        follower.wait()


def test_the_option_turns_transcripts_off_per_service(servers_factory):
    quiet = servers_factory(names=["pop3", "echo", "http", "smtp", "ftp"],
                            options={"pop3_transcripts": "off", "http_transcripts": "off",
                                     "smtp_transcripts": "off", "ftp_transcripts": "off"})
    client = poplib.POP3(quiet.pop3.host, quiet.pop3.port, timeout=10)
    client.quit()
    # every hook of a service whose transcripts are off still serves (the silent transcript takes every call)
    assert urllib.request.urlopen(f"http://{quiet.http.host}:{quiet.http.port}/get", timeout=10).status == 200
    with smtplib.SMTP(quiet.smtp.host, quiet.smtp.port, timeout=10) as smtp:
        smtp.sendmail("alice@example.test", ["bob@example.test"], "Subject: x\r\n\r\nx\r\n")
    with ftplib.FTP() as ftp:
        ftp.connect(quiet.ftp.host, quiet.ftp.port, timeout=10)
        ftp.login()
        ftp.nlst("/pub")
        ftp.retrbinary("RETR /pub/README.txt", lambda _: None)
    assert {s.service for s in quiet.transcripts()} <= {"echo"}
    log = StateDir(quiet.state_dir).log_file
    assert "Traceback" not in (log.read_text(errors="replace") if log.exists() else "")  # no hook failed
    with socket.create_connection((quiet.echo.host, quiet.echo.port), timeout=10) as sock:
        sock.sendall(b"x")
        sock.recv(10)
    assert quiet.transcripts("pop3") == []
    for _ in range(50):
        if quiet.transcripts("echo"):
            break
        time.sleep(0.05)
    assert len(quiet.transcripts("echo")) == 1


def test_a_bad_option_value_is_refused(servers_factory):
    from local_servers import control
    with pytest.raises(control.StartError, match="transcripts"):
        servers_factory(names=["echo"], options={"echo_transcripts": "maybe"})


# -- bounds: a line, a session, the store ---------------------------------------------------------

def recorded(tmp_path, feed):
    store = transcripts.Store(transcripts.folder(tmp_path))
    transcript = transcripts.Transcript(store, "pop3", ("127.0.0.1", 1))
    feed(transcript)
    transcript.close()
    store.close()
    (session,) = transcripts.sessions(tmp_path)
    return session


def test_a_long_line_is_cut_and_says_how_many_bytes_were_left_out(tmp_path):
    session = recorded(tmp_path, lambda t: t.client(b"X" * 10_000 + b"\r\n"))
    (event,) = session.events
    assert event.size == 10_002
    assert event.text == "X" * transcripts.MAX_TEXT + f"\n[... {10_002 - transcripts.MAX_TEXT} bytes left out]"


def test_a_long_multi_line_event_is_cut_too(tmp_path):
    def feed(t):
        t.server(b"354 go ahead\r\n")
        t.client(b"first line\r\n")
        for _ in range(20_000):
            t.client(b"y" * 78 + b"\r\n", more=True)
        t.server(b"250 OK\r\n")
    session = recorded(tmp_path, feed)
    message = session.events[1]
    assert message.size == 12 + 20_000 * 80
    assert len(message.text) < transcripts.MAX_TEXT + 200
    # the run keeps MAX_TEXT bytes of the message, then counts the rest
    assert message.text.splitlines()[-1] == f"[... {message.size - transcripts.MAX_TEXT} bytes left out]"
    assert [e.text for e in session.events][-1] == "250 OK"


def test_a_session_keeps_max_events_and_counts_the_rest(tmp_path):
    def feed(t):
        for n in range(transcripts.MAX_EVENTS + 123):
            t.client(f"NOOP {n}".encode())
    session = recorded(tmp_path, feed)
    assert len(session.events) == transcripts.MAX_EVENTS and session.dropped == 123
    assert str(session).endswith("... 123 more events not kept")


def test_the_store_keeps_the_newest_files_only(tmp_path, monkeypatch):
    monkeypatch.setattr(transcripts, "FILE_SESSIONS", 10)
    monkeypatch.setattr(transcripts, "KEEP_FILES", 3)
    store = transcripts.Store(transcripts.folder(tmp_path))
    for n in range(100):
        transcript = transcripts.Transcript(store, "echo", ("127.0.0.1", n))
        transcript.client(b"x")
        transcript.close()
    store.close()
    files = list(transcripts.folder(tmp_path).glob("*.jsonl"))
    kept = transcripts.sessions(tmp_path)
    assert len(files) == 3 and 20 < len(kept) <= 30
    assert kept[-1].peer == "127.0.0.1:99" and kept[-1].ended is not None  # the oldest were dropped
    assert [s.peer for s in transcripts.sessions(tmp_path, last=2)] == ["127.0.0.1:98", "127.0.0.1:99"]


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def _pop3_sessions(host: str, port: int, count: int) -> None:
    for _ in range(count):
        with socket.create_connection((host, port), timeout=30) as sock:
            sock.recv(1000)
            sock.sendall(b"CAPA\r\nNOOP\r\nQUIT\r\n")
            while sock.recv(4096):
                pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the server's RSS from /proc")
def test_ten_thousand_sessions_keep_memory_and_disk_bounded(servers_factory):
    """The figures in bench/README.md ("Transcripts: memory and disk") come from this test."""
    from concurrent.futures import ThreadPoolExecutor

    handle = servers_factory(names=["pop3"])
    host, port = handle.pop3.host, handle.pop3.port
    with ThreadPoolExecutor(8) as pool:  # warm up: the first sessions fill caches and pools
        list(pool.map(lambda _: _pop3_sessions(host, port, 50), range(8)))
    before = _rss_kib(handle.pid)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: _pop3_sessions(host, port, 1250), range(8)))
    after = _rss_kib(handle.pid)
    files = list(transcripts.folder(handle.state_dir).glob("*.jsonl"))
    disk = sum(f.stat().st_size for f in files)
    kept = transcripts.sessions(handle.state_dir)
    print(f"\nRSS {before} KiB -> {after} KiB after 10,000 sessions; {len(files)} files, {disk} bytes, "
          f"{len(kept)} sessions kept")
    assert after - before < 8 * 1024, "the server's memory grows with the number of sessions"
    assert len(files) <= transcripts.KEEP_FILES
    assert disk <= transcripts.KEEP_FILES * transcripts.FILE_BYTES
    assert (transcripts.KEEP_FILES - 1) * transcripts.FILE_SESSIONS < len(kept) <= \
        transcripts.KEEP_FILES * transcripts.FILE_SESSIONS
    assert [e.text for e in kept[-1].events if e.who == "C"] == ["CAPA", "NOOP", "QUIT"]


def test_http_body_of_unknown_length_is_counted_as_it_goes(handle):
    body = urllib.request.urlopen(f"http://{handle.http.host}:{handle.http.port}/stream/2", timeout=10).read()
    for _ in range(50):  # told after the body, so at the latest when the connection ends
        session = last(handle, "http")
        if session.events[-1].text.startswith("[body:"):
            break
        time.sleep(0.05)
    assert "Transfer-Encoding: chunked" in session.events[1].text
    assert session.events[-1].who == "S" and session.events[-1].size > len(body)  # with the chunks' framing


def test_a_failing_disk_costs_the_transcript_never_the_session(tmp_path):
    store = transcripts.Store(transcripts.folder(tmp_path))
    transcript = transcripts.Transcript(store, "pop3", ("127.0.0.1", 1))
    store.close()  # every later write fails, as on a full or vanished disk
    transcript.client(b"NOOP")
    transcript.server(b"+OK")  # would raise without the guard
    transcript.note("TLS started")
    transcript.close()
    assert store.failed


def test_imap_login_sent_as_literals_is_masked_literal_by_literal(handle):
    """A client may send LOGIN's user and password as literals ({n}, then the octets): none may show."""
    with socket.create_connection((handle.imap.host, handle.imap.port), timeout=10) as sock:
        replies = sock.makefile("rb")
        replies.readline()
        sock.sendall(b"a1 LOGIN {5}\r\n")
        assert replies.readline().startswith(b"+")
        sock.sendall(b"alice {8}\r\n")
        assert replies.readline().startswith(b"+")
        sock.sendall(b"alice-pw\r\n")
        assert replies.readline().startswith(b"a1 OK")
        sock.sendall(b"a2 LOGOUT\r\n")
        while not replies.readline().startswith(b"a2 "):
            pass
    session = last(handle, "imap")
    assert client_lines(session) == ["a1 LOGIN ****", MASK, MASK, MASK, "", "a2 LOGOUT"]
    assert session.user == "alice"
    no_secret_on_disk(handle)


def test_the_silent_transcript_takes_every_call_a_transcript_takes():
    public = {name for name in vars(transcripts.Transcript) if not name.startswith("_")}
    assert public <= set(vars(transcripts.Silent)), public - set(vars(transcripts.Silent))
    for name in public:  # with the same arguments (FTP's note(..., flush=False) must work with transcripts off)
        method = getattr(transcripts.Transcript, name)
        if callable(method):
            assert (inspect.signature(getattr(transcripts.Silent, name)).parameters.keys()
                    == inspect.signature(method).parameters.keys()), name


def test_a_reply_sent_in_many_writes_is_one_event_and_costs_one(tmp_path):
    """A FETCH of many messages is many writes: one event, MAX_TEXT bytes of it, the rest counted."""
    def feed(t):
        t.client(b"a1 FETCH 1:* (BODY.PEEK[])")
        for n in range(1000):
            t.server(b"* %d FETCH (BODY[] {40}\r\n" % n + b"z" * 40 + b")\r\n")
        t.server(b"a1 OK FETCH completed\r\n")
        t.client(b"a2 LOGOUT")
    session = recorded(tmp_path, feed)
    assert [e.who for e in session.events] == ["C", "S", "C"]
    reply = session.events[1]
    assert reply.size == sum(len(b"* %d FETCH (BODY[] {40}\r\n" % n) + 43 for n in range(1000)) + 23
    assert reply.text.startswith("* 0 FETCH") and reply.text.splitlines()[-1].endswith("bytes left out]")
    files = list(transcripts.folder(tmp_path).glob("*.jsonl"))
    # a record per write only until MAX_TEXT bytes are kept (about 30 here), then none: not 1,000
    assert sum(1 for f in files for _ in f.open()) <= transcripts.MAX_TEXT // 68 + 10


def test_the_bench_runs_the_other_checkout_it_is_given(tmp_path, monkeypatch):
    """bench_transcripts.py --before CHECKOUT must run CHECKOUT's local_servers, not this one's.

    It once ran this checkout's code whenever it was started from this checkout (`python -m`
    puts the working directory first on sys.path), so every "before" figure measured the
    current code. The copy here differs in one visible way: where it keeps its transcripts.
    """
    import shutil
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    other = tmp_path / "other"
    shutil.copytree(root / "local_servers", other / "local_servers", ignore=shutil.ignore_patterns("__pycache__"))
    module = other / "local_servers" / "wire" / "transcripts.py"
    module.write_text(module.read_text(encoding="utf-8").replace('FOLDER = "wire"', 'FOLDER = "wire-other"'),
                      encoding="utf-8")
    monkeypatch.chdir(root)  # where the bench is usually started from
    monkeypatch.syspath_prepend(str(root / "bench"))
    import bench_transcripts
    from local_servers import control
    (tmp_path / "run").mkdir()
    handle = bench_transcripts.start(tmp_path / "run", "before", True, other)
    try:
        client = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=30)
        client.quit()
        assert (handle.state_dir / "wire-other" / "transcripts").is_dir()
        assert not (handle.state_dir / "wire" / "transcripts").exists()
    finally:
        control.stop(handle.state_dir)
    assert Path.cwd() == root
