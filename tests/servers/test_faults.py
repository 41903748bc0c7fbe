"""Fault injection: each fault as the standard library's client meets it, and gone once cleared.

Every test makes a fault with `servers.faults(...)` (cleared when the block
ends), checks the exception and reply code the RFC says a client gets, then
makes the same call again and checks that it succeeds.
"""

from __future__ import annotations

import ftplib
import http.client
import imaplib
import io
import json
import poplib
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import warnings
from email.message import EmailMessage

import pytest

from local_servers.pytest_plugin import ServersFactory
from local_servers.wire import fault_hooks, faults

with warnings.catch_warnings():  # deprecated in 3.12; from standard-nntplib on 3.13
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib

TIMEOUT = 10
SILENT_TIMEOUT = 1.0  # how long a client waits for a server that never answers


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """One set of servers for the module; each test clears its faults (the `with` blocks)."""
    factory = ServersFactory(tmp_path_factory)
    yield factory()
    factory.stop_all()


@pytest.fixture(autouse=True)
def no_faults_left(srv):
    yield
    assert faults.active(srv.state_dir) == [], "a test left a fault in force"


def message(sender="alice@example.test", to="bob@example.test", body="hello\n") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "fault test"
    msg.set_content(body)
    return msg


def smtp(srv) -> smtplib.SMTP:
    return smtplib.SMTP(srv.smtp.host, srv.smtp.port, timeout=TIMEOUT)


def send(srv, to="bob@example.test", **kwargs) -> dict:
    with smtp(srv) as client:
        return client.send_message(message(to=to, **kwargs))


def pop3(srv, user="alice") -> poplib.POP3:
    client = poplib.POP3(srv.pop3.host, srv.pop3.port, timeout=TIMEOUT)
    client.user(user)
    client.pass_(f"{user}-pw")
    return client


def imap(srv, user="alice") -> imaplib.IMAP4:
    client = imaplib.IMAP4(srv.imap.host, srv.imap.port, timeout=TIMEOUT)
    client.login(user, f"{user}-pw")
    return client


def ftp(srv, user=None, timeout=TIMEOUT) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(srv.ftp.host, srv.ftp.port, timeout=timeout)
    client.login(*(() if user is None else (user, f"{user}-pw")))
    return client


def retr(client: ftplib.FTP, path: str, out: io.BytesIO | None = None) -> bytes:
    out = out if out is not None else io.BytesIO()
    client.retrbinary(f"RETR {path}", out.write)
    return out.getvalue()


# -- SMTP ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["450", "451", "452", "550"])
def test_smtp_rcpt_reply_refuses_the_recipient_then_clears(srv, code):
    with srv.faults("smtp", "reply", code=code, stage="RCPT"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(srv)
    assert refused.value.recipients["bob@example.test"][0] == int(code)
    assert send(srv) == {}


def test_smtp_mail_reply_refuses_the_sender(srv):
    with srv.faults("smtp", "reply", code=550, stage="MAIL"):
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(srv)
    assert refused.value.smtp_code == 550
    assert send(srv) == {}


def test_smtp_reply_at_end_of_data_and_at_data(srv):
    with srv.faults("smtp", "reply", code=552, stage="EOD"):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(srv)
    assert refused.value.smtp_code == 552
    with srv.faults("smtp", "reply", code=451, stage="DATA"):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(srv)
    assert refused.value.smtp_code == 451
    assert send(srv) == {}


def test_smtp_421_closes_the_connection(srv):
    with srv.faults("smtp", "reply", code=421, stage="connect"):
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtp(srv)
    assert refused.value.smtp_code == 421
    with srv.faults("smtp", "reply", code=421, stage="MAIL"):
        with socket.create_connection(srv.smtp.address, timeout=TIMEOUT) as sock:
            reader = sock.makefile("rb")
            assert reader.readline().startswith(b"220 ")
            sock.sendall(b"HELO me\r\n")
            assert reader.readline().startswith(b"250")
            sock.sendall(b"MAIL FROM:<alice@example.test>\r\n")
            assert reader.readline().startswith(b"421 4.3.2")
            assert reader.readline() == b""  # RFC 5321 3.8: the server closes after 421
    assert send(srv) == {}


def test_smtp_count_limits_the_fault(srv):
    with srv.faults("smtp", "reply", code=451, stage="RCPT", count=1) as fault:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(srv)
        assert send(srv) == {}  # spent after one hit
        assert fault.id not in [f.id for f in faults.active(srv.state_dir)]


def test_smtp_greylisting_refuses_the_first_attempt_only(srv):
    with srv.faults("smtp", "greylist"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(srv, sender="carol@example.test")
        code, text = refused.value.recipients["bob@example.test"]
        assert (code, text[:5]) == (451, b"4.7.1")
        assert send(srv, sender="carol@example.test") == {}  # the retry passes
        with pytest.raises(smtplib.SMTPRecipientsRefused):  # another triple is greylisted afresh
            send(srv, sender="carol@example.test", to="alice@example.test")


def test_smtp_greylisting_with_a_delay(srv):
    with srv.faults("smtp", "greylist", delay=1.0):
        for _ in range(2):  # an immediate retry is refused too
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                send(srv, sender="greylist-delay@example.org")
        time.sleep(1.1)
        assert send(srv, sender="greylist-delay@example.org") == {}


def test_smtp_fault_scoped_to_an_account(srv):
    with srv.faults("smtp", "reply", code=550, stage="RCPT", account="bob"):
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(srv, sender="carol@example.test", to="bob@example.test")
        assert send(srv, sender="carol@example.test", to="alice@example.test") == {}


def test_smtp_dropped_mid_data(srv):
    with srv.faults("smtp", "drop", after_bytes=100):
        with pytest.raises(smtplib.SMTPServerDisconnected):
            send(srv, body="x" * 5000 + "\n")
    assert send(srv, body="x" * 5000 + "\n") == {}


def test_smtp_delay_before_the_reply(srv):
    with srv.faults("smtp", "delay", stage="MAIL", delay=0.6):
        with smtp(srv) as client:
            client.ehlo()
            started = time.monotonic()
            assert client.mail("alice@example.test")[0] == 250
            assert time.monotonic() - started >= 0.6


def test_smtp_silent_server_lets_the_client_time_out(srv):
    with srv.faults("smtp", "silent", stage="connect"):
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out") as gone:
            smtplib.SMTP(srv.smtp.host, srv.smtp.port, timeout=SILENT_TIMEOUT)
        assert isinstance(gone.value.__context__, socket.timeout)
    assert send(srv) == {}


# -- TLS: certificates that fail verification ------------------------------------------------


def _verify_error(connect) -> ssl.SSLCertVerificationError:
    with pytest.raises(ssl.SSLCertVerificationError) as failed:
        connect()
    return failed.value


@pytest.mark.parametrize("cert, message", [
    ("expired", "certificate has expired"),
    ("wrong-host", "IP address mismatch, certificate is not valid for '127.0.0.1'."),
])
def test_bad_certificate_implicit_tls_and_starttls(srv, cert, message):
    context = srv.ssl_context()

    def smtps():
        smtplib.SMTP_SSL(srv.smtp.host, srv.smtp.tls_ports["smtps"], context=context, timeout=TIMEOUT).quit()

    def starttls():
        with smtp(srv) as client:
            client.starttls(context=context)

    def pop3s():
        poplib.POP3_SSL(srv.pop3.host, srv.pop3.tls_ports["pop3s"], context=context, timeout=TIMEOUT).quit()

    def imaps():
        imaplib.IMAP4_SSL(srv.imap.host, srv.imap.tls_ports["imaps"], ssl_context=context, timeout=TIMEOUT).logout()

    def https():
        conn = http.client.HTTPSConnection(srv.http.host, srv.http.tls_ports["https"], context=context,
                                           timeout=TIMEOUT)
        conn.request("GET", "/get")
        assert conn.getresponse().status == 200
        conn.close()

    def ftps():  # AUTH TLS on the FTP control connection
        client = ftplib.FTP_TLS(context=context)
        client.connect(srv.ftp.host, srv.ftp.port, timeout=TIMEOUT)
        client.auth()
        client.quit()

    clients = [smtps, starttls, pop3s, imaps, https, ftps]
    with srv.faults("*", "cert", cert=cert):
        for connect in clients:
            error = _verify_error(connect)
            assert error.verify_message == message, connect.__name__
    for connect in clients:  # cleared: the course's good certificate again
        connect()


def test_wrong_host_certificate_by_name(srv):
    context = srv.ssl_context()
    with srv.faults("pop3", "cert", cert="wrong-host"):
        error = _verify_error(lambda: poplib.POP3_SSL("localhost", srv.pop3.tls_ports["pop3s"], context=context,
                                                      timeout=TIMEOUT))
    assert error.verify_message == "Hostname mismatch, certificate is not valid for 'localhost'."
    # the IMAP listener was not named: it keeps its good certificate
    imaplib.IMAP4_SSL("localhost", srv.imap.tls_ports["imaps"], ssl_context=context, timeout=TIMEOUT).logout()


# -- POP3 -----------------------------------------------------------------------------------------


def test_pop3_err_reply_then_cleared(srv):
    with srv.faults("pop3", "reply", code="-ERR", stage="RETR"):
        client = pop3(srv)
        with pytest.raises(poplib.error_proto, match="SYS/TEMP"):
            client.retr(1)
        client.quit()
    client = pop3(srv)
    assert client.retr(1)[0].startswith(b"+OK")
    client.quit()


def test_pop3_fault_scoped_to_an_account(srv):
    with srv.faults("pop3", "reply", code="-ERR", stage="STAT", account="bob"):
        bob = pop3(srv, "bob")
        with pytest.raises(poplib.error_proto):
            bob.stat()
        bob.quit()
        alice = pop3(srv, "alice")
        assert alice.stat()[0] > 0
        alice.quit()


def test_pop3_dropped_mid_retr(srv):
    with srv.faults("pop3", "drop", stage="RETR", after_bytes=40):
        client = pop3(srv)
        with pytest.raises(poplib.error_proto, match="EOF"):
            client.retr(1)
    client = pop3(srv)
    assert client.retr(1)[0].startswith(b"+OK")
    client.quit()


def test_pop3_silent_server_times_out(srv):
    with srv.faults("pop3", "silent", stage="LIST"):
        client = poplib.POP3(srv.pop3.host, srv.pop3.port, timeout=SILENT_TIMEOUT)
        client.user("alice")
        client.pass_("alice-pw")
        with pytest.raises(socket.timeout):
            client.list()
        client.close()


def test_pop3_delay(srv):
    with srv.faults("pop3", "delay", stage="STAT", delay=0.5):
        client = pop3(srv)
        started = time.monotonic()
        client.stat()
        assert time.monotonic() - started >= 0.5
        client.quit()


# -- IMAP --------------------------------------------------------------------------------------


def test_imap_no_and_bad(srv):
    with srv.faults("imap", "reply", code="NO", stage="LOGIN"):
        client = imaplib.IMAP4(srv.imap.host, srv.imap.port, timeout=TIMEOUT)
        with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
            client.login("alice", "alice-pw")
        client.logout()
    with srv.faults("imap", "reply", code="BAD", stage="SELECT"):
        client = imap(srv)
        with pytest.raises(imaplib.IMAP4.error, match="command refused"):
            client.select("INBOX")
        client.logout()
    client = imap(srv)
    assert client.select("INBOX")[0] == "OK"
    client.logout()


def test_imap_dropped_mid_fetch(srv):
    with srv.faults("imap", "drop", stage="FETCH", after_bytes=60):
        client = imap(srv)
        client.select("INBOX")
        with pytest.raises(imaplib.IMAP4.abort):
            client.fetch("1", "(RFC822)")
        client.shutdown()
    client = imap(srv)
    client.select("INBOX")
    assert client.uid("FETCH", "1:*", "(RFC822)")[0] == "OK"  # UID FETCH: the fault is gone
    client.logout()


# -- FTP --------------------------------------------------------------------------------------


def test_ftp_replies(srv):
    with srv.faults("ftp", "reply", code=550, stage="RETR"):
        client = ftp(srv)
        with pytest.raises(ftplib.error_perm, match="^550"):
            retr(client, "/pub/docs/hello.txt")
        client.quit()
    with srv.faults("ftp", "reply", code=450, stage="RETR"):
        client = ftp(srv)
        with pytest.raises(ftplib.error_temp, match="^450"):
            retr(client, "/pub/docs/hello.txt")
        client.quit()
    with srv.faults("ftp", "reply", code=421, stage="connect"):
        with pytest.raises(ftplib.error_temp, match="^421"):
            ftp(srv)
    client = ftp(srv)
    assert retr(client, "/pub/docs/hello.txt")
    client.quit()


def test_ftp_dropped_data_connection_gives_a_partial_file(srv):
    path = srv.ftp.extra["large_file"]
    with srv.faults("ftp", "drop", stage="RETR", after_bytes=1000):
        client = ftp(srv)
        out = io.BytesIO()
        with pytest.raises(ftplib.error_temp, match="^426"):
            retr(client, path, out)
        assert len(out.getvalue()) == 1000
        client.quit()
    client = ftp(srv)
    assert len(retr(client, path)) == srv.ftp.extra["large_file_size"]
    client.quit()


def test_ftp_fault_scoped_to_an_account(srv):
    with srv.faults("ftp", "reply", code=452, stage="STOR", account="bob"):
        bob = ftp(srv, "bob")
        with pytest.raises(ftplib.error_temp, match="^452"):
            bob.storbinary("STOR fault.txt", io.BytesIO(b"data"))
        bob.quit()
        carol = ftp(srv, "carol")
        assert carol.storbinary("STOR fault.txt", io.BytesIO(b"data")).startswith("226")
        carol.quit()


def test_ftp_silent_server_times_out(srv):
    with srv.faults("ftp", "silent", stage="connect"):
        with pytest.raises(socket.timeout):
            ftp(srv, timeout=SILENT_TIMEOUT)


# -- NNTP --------------------------------------------------------------------------------------


def test_nntp_400_at_connect_and_441_for_a_post(srv):
    info = srv.nntp
    with srv.faults("nntp", "reply", code=400, stage="connect"):
        with pytest.raises(nntplib.NNTPTemporaryError, match="^400"):
            nntplib.NNTP(info.host, info.port, timeout=TIMEOUT)
    article = (b"From: alice@example.test\r\nNewsgroups: course.test\r\n"
               b"Subject: fault test\r\nMessage-ID: <fault-441@example.test>\r\n\r\nhello\r\n")
    with srv.faults("nntp", "reply", code=441, stage="POST"):
        with nntplib.NNTP(info.host, info.port, timeout=TIMEOUT) as client:
            with pytest.raises(nntplib.NNTPTemporaryError, match="^441"):
                client.post(io.BytesIO(article))
            with pytest.raises(nntplib.NNTPTemporaryError, match="^430"):  # not stored
                client.stat("<fault-441@example.test>")
    with nntplib.NNTP(info.host, info.port, timeout=TIMEOUT) as client:
        assert client.post(io.BytesIO(article)).startswith("240")


# -- the table, the command line, the handle -------------------------------------------------------


def test_wrong_arguments_name_the_choices(srv):
    with pytest.raises(faults.FaultError, match="421, 450, 451, 452, 550, 552"):
        srv.fault("smtp", "reply", code=999, stage="RCPT")
    with pytest.raises(faults.FaultError, match="is not one of: smtp, pop3, imap, ftp, nntp"):
        srv.fault("gopher", "reply", code=1)
    with pytest.raises(faults.FaultError, match="connect, MAIL, RCPT, DATA, EOD"):
        srv.fault("smtp", "reply", code=451)
    with pytest.raises(faults.FaultError, match="expired, wrong-host"):
        srv.fault("imap", "cert", cert="self-signed")


def test_context_manager_clears_on_an_exception(srv):
    with pytest.raises(RuntimeError):
        with srv.faults("pop3", "reply", code="-ERR", stage="STAT"):
            assert len(faults.active(srv.state_dir)) == 1
            raise RuntimeError("the lesson's cell failed")
    assert faults.active(srv.state_dir) == []


def cli(srv, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local_servers", "fault", *args, "--state-dir", str(srv.state_dir)],
                          capture_output=True, text=True, timeout=60)


def test_command_line_add_list_clear(srv):
    added = cli(srv, "add", "smtp", "reply", "--code", "451", "--stage", "rcpt", "--count", "2")
    assert added.returncode == 0, added.stderr
    assert "reply 451 on smtp at RCPT, 2 time(s)" in added.stdout
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(srv)
    listed = json.loads(cli(srv, "list", "--json").stdout)
    assert [(f["service"], f["code"], f["stage"]) for f in listed] == [("smtp", "451", "RCPT")]
    assert cli(srv, "clear").stdout.strip() == "cleared 1 fault(s)"
    assert send(srv) == {}
    wrong = cli(srv, "add", "smtp", "reply", "--code", "999", "--stage", "RCPT")
    assert wrong.returncode == 2 and "not one of: 421, 450, 451, 452, 550, 552" in wrong.stderr
    assert cli(srv, "list").stdout.strip() == "no faults"


def test_a_fired_fault_is_logged(srv):
    with srv.faults("pop3", "reply", code="-ERR", stage="STAT") as fault:
        client = pop3(srv)
        with pytest.raises(poplib.error_proto):
            client.stat()
        client.quit()
    assert f"fault {fault.id}: reply -ERR on pop3 at STAT (at STAT)" in srv.log_file.read_text()


def test_a_fired_fault_is_noted_in_the_transcript(tmp_path):
    """Table.fire() notes the fault on a connection that has a transcript (wire's), and skips one without."""
    class Transcript:
        def __init__(self):
            self.notes = []

        def note(self, text):
            self.notes.append(text)

    class Connection:
        transcript = Transcript()

    table = faults.Table(tmp_path)
    fault = faults.make("smtp", "reply", code=451, stage="RCPT")
    table.fire(fault, "smtp", Connection, ("127.0.0.1", 1), "at RCPT")
    table.fire(fault, "smtp", object(), ("127.0.0.1", 1), "at RCPT")
    assert Connection.transcript.notes == [f"fault {fault.id}: reply 451 on smtp at RCPT (at RCPT)"]


def test_greylist_memory_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(faults, "GREYLIST_MEMORY", 100)
    table = faults.Table(tmp_path)
    fault = faults.make("smtp", "greylist")
    for i in range(1000):
        assert table.greylisted(fault, ("127.0.0.1", f"s{i}@x", "r@x"))
    assert len(table.greylist) == 100


def test_hooks_do_nothing_without_a_table(monkeypatch):
    monkeypatch.setattr(faults, "TABLE", None)

    class Session:
        pass

    method = object()
    assert fault_hooks.line_command(Session(), "RETR", method) is method
    assert fault_hooks.line_send(Session(), b"+OK\r\n") == b"+OK\r\n"


def test_a_new_greylisting_fault_knows_nobody(tmp_path):
    """A chapter run twice is greylisted twice: triples are remembered per fault, not per process."""
    table = faults.Table(tmp_path)
    triple = ("127.0.0.1", "alice@example.test", "carol@example.test")
    first = faults.make("smtp", "greylist")
    assert table.greylisted(first, triple) and not table.greylisted(first, triple)
    assert table.greylisted(faults.make("smtp", "greylist"), triple)
