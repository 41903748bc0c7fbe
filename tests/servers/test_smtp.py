"""SMTP: the chapter's round trips (send with smtplib, read back with poplib), delivery rules, bad input."""

from __future__ import annotations

import email
import email.policy
import poplib
import smtplib
import socket
import ssl
import sys
import time
from email.message import EmailMessage

import pytest

from mailtest import MAIL_SERVICES, Raw, curl, inbox_files, mail_dir, parse, pop_messages, wait_for
from tls_client import TLSClient
from local_servers.mail import mailstore


@pytest.fixture
def mail(servers_factory):
    """SMTP and POP3 with freshly seeded mail, for a test that sends."""
    return servers_factory(names=MAIL_SERVICES)


def message(subject: str, to="alice@example.test", **headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Bob Builder <bob@example.test>"
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello Alice,\n.a line that starts with a dot\n\nüñïçødé too.\n")
    msg.add_alternative("<p>Hello <b>Alice</b></p>\n", subtype="html")
    return msg


def assert_same_message(sent: EmailMessage, received: EmailMessage) -> None:
    for header in ("From", "To", "Subject", "Message-ID"):
        assert received[header] == sent[header]
    assert received.get_body(("plain",)).get_content() == sent.get_body(("plain",)).get_content()
    assert received.get_body(("html",)).get_content() == sent.get_body(("html",)).get_content()


def last_message(mail, user="alice", password="alice-pw") -> EmailMessage:
    pop3 = mail.pop3
    return pop_messages(poplib.POP3(pop3.host, pop3.port, timeout=10), user, password)[-1]


def test_plain_smtp_round_trip_to_poplib(mail):
    sent = message("plain round trip", Message_ID="<rt-1@example.test>")
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        assert client.send_message(sent) == {}
    received = last_message(mail)
    assert_same_message(sent, received)
    assert received["Return-Path"] == "<bob@example.test>"
    assert "by mail.example.test with ESMTP" in received["Received"]


def test_starttls_auth_round_trip_to_pop3_stls(mail):
    sent = message("starttls round trip", Message_ID="<rt-2@example.test>")
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("auth"), "AUTH must not be offered before TLS"
        client.starttls(context=mail.smtp.ssl_context())
        client.ehlo()
        assert "PLAIN" in client.esmtp_features["auth"] and "LOGIN" in client.esmtp_features["auth"]
        client.login("bob", "bob-pw")
        client.send_message(sent)
    pop = poplib.POP3(mail.pop3.host, mail.pop3.port, timeout=10)
    pop.stls(context=mail.pop3.ssl_context())
    received = pop_messages(pop, "alice", "alice-pw")[-1]
    assert_same_message(sent, received)
    assert "with ESMTPSA" in received["Received"]


def test_smtp_ssl_auth_round_trip_to_pop3_ssl(mail):
    sent = message("smtps round trip", Message_ID="<rt-3@example.test>")
    with smtplib.SMTP_SSL(mail.smtp.host, mail.smtp.tls_ports["smtps"], context=mail.smtp.ssl_context(),
                          timeout=10) as client:
        client.login("bob@example.test", "bob-pw")  # AUTH LOGIN or PLAIN, chosen by smtplib
        client.send_message(sent)
    pop3 = mail.pop3
    pop = poplib.POP3_SSL(pop3.host, pop3.tls_ports["pop3s"], context=pop3.ssl_context(), timeout=10)
    assert_same_message(sent, pop_messages(pop, "alice", "alice-pw")[-1])


def test_bad_credentials_get_535_and_the_server_keeps_serving(mail):
    with smtplib.SMTP_SSL(mail.smtp.host, mail.smtp.tls_ports["smtps"], context=mail.smtp.ssl_context(),
                          timeout=10) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            client.login("bob", "wrong")
        assert info.value.smtp_code == 535
        client.login("bob", "bob-pw")
        assert client.noop()[0] == 250


def test_bcc_is_delivered_by_envelope_and_never_shown(mail):
    sent = message("with a blind copy", Bcc="carol@example.test", Message_ID="<bcc@example.test>")
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        client.send_message(sent)  # smtplib puts Bcc in RCPT TO and strips the header
    for user in ("alice", "carol"):
        received = last_message(mail, user, f"{user}-pw")
        assert received["Message-ID"] == "<bcc@example.test>"
        assert received["Bcc"] is None
    bob_files = inbox_files(mail, "bob")
    assert not any(b"<bcc@example.test>" in p.read_bytes() for p in bob_files)


def test_international_addresses_with_smtputf8(mail):
    sent = EmailMessage()
    sent["From"] = "José Müller <josé@exämple.org>"
    sent["To"] = "alice@example.test"
    sent["Subject"] = "Grüße"
    sent["Message-ID"] = "<utf8@example.test>"
    sent.set_content("Hallo!\n")
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("smtputf8")
        client.send_message(sent)  # the non-ASCII sender makes smtplib use SMTPUTF8
    pop3 = mail.pop3
    client = poplib.POP3(pop3.host, pop3.port, timeout=10)
    client.user("alice")
    client.pass_("alice-pw")
    raw = b"\n".join(client.retr(client.stat()[0])[1])
    client.quit()
    # raw UTF-8 in headers (RFC 6532): the email package needs it as text to decode it
    received = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
    assert received["From"].addresses[0].addr_spec == "josé@exämple.org"
    assert received["Return-Path"] == "<josé@exämple.org>" and received["Subject"] == "Grüße"


def test_unknown_local_user_gets_550(mail):
    before = {u: len(inbox_files(mail, u)) for u in mailstore.USERS}
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            client.send_message(message("to nobody", to="nobody@example.test"))
        assert info.value.recipients["nobody@example.test"][0] == 550
        # one good and one bad recipient: the good one still gets it
        refused = client.sendmail("bob@example.test", ["nobody@example.test", "carol@localhost"],
                                  message("partly").as_bytes())
        assert refused["nobody@example.test"][0] == 550
    after = {u: len(inbox_files(mail, u)) for u in mailstore.USERS}
    assert after == {**before, "carol": before["carol"] + 1}


def test_other_domains_are_captured_in_the_catchall_box(mail):
    catchall = mail.smtp.extra["catchall_mailbox"]
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        client.sendmail("alice@example.test", ["someone@example.org", "alice@example.test"],
                        message("to the outside", Message_ID="<out@example.test>").as_bytes())
    captured = [e.path.read_bytes() for e in mailstore.messages(catchall)]
    assert len(captured) == 1
    msg = parse(captured[0])
    assert msg["X-Envelope-To"] == "someone@example.org" and msg["Message-ID"] == "<out@example.test>"
    assert last_message(mail)["Message-ID"] == "<out@example.test>"  # the local copy too


def test_size_limit_gives_552(mail):
    limit = mail.smtp.extra["max_message_size"]
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (limit // 1000 + 10)
    before = len(inbox_files(mail, "alice"))
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=30) as client:
        assert client.ehlo()[0] == 250 and int(client.esmtp_features["size"]) == limit
        with pytest.raises(smtplib.SMTPSenderRefused) as info:  # smtplib announces SIZE= in MAIL FROM
            client.sendmail("bob@example.test", ["alice@example.test"], big)
        assert info.value.smtp_code == 552
    with Raw(mail.smtp.address, timeout=30) as raw:  # a client that does not announce the size
        raw.line()
        raw.command(b"EHLO client.example")
        raw.smtp_reply()
        assert raw.command(b"MAIL FROM:<bob@example.test>").startswith(b"250")
        assert raw.command(b"RCPT TO:<alice@example.test>").startswith(b"250")
        assert raw.command(b"DATA").startswith(b"354")
        raw.send(big + b".\r\n")
        assert raw.line().startswith(b"552")
        assert raw.command(b"NOOP").startswith(b"250")
    assert len(inbox_files(mail, "alice")) == before


def test_curl_sends_over_starttls_and_smtps(mail, tmp_path):
    smtp = mail.smtp
    upload = tmp_path / "mail.txt"
    for i, url in enumerate([f"smtp://{smtp.host}:{smtp.port}/client.example",
                             f"smtps://{smtp.host}:{smtp.tls_ports['smtps']}/client.example"]):
        upload.write_bytes(f"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: curl {i}\r\n"
                           f"Message-ID: <curl-{i}@example.test>\r\n\r\nsent by curl\r\n".encode())
        result = curl("--url", url, "--ssl-reqd", "--cacert", smtp.ca_file, "--user", "bob:bob-pw",
                      "--mail-from", "bob@example.test", "--mail-rcpt", "alice@example.test",
                      "--upload-file", str(upload))
        assert result.returncode == 0, result.stderr.decode()
        received = last_message(mail)
        assert received["Subject"] == f"curl {i}" and received.get_content().rstrip() == "sent by curl"
        assert "from client.example" in received["Received"]


def test_bad_input_gets_errors_and_the_server_keeps_serving(mail):
    with Raw(mail.smtp.address) as raw:
        assert raw.line().startswith(b"220 ")
        assert raw.command(b"NOOP " + b"x" * 600).startswith(b"500")  # beyond 512 octets
        assert raw.command(b"X" * 3000).startswith(b"500")
        assert raw.command(b"\xff\xfe\x00\x01garbage").startswith(b"500")
        assert raw.command(b"FROBNICATE").startswith(b"500")
        assert raw.command(b"MAIL FROM:<bob@example.test>").startswith(b"503")  # before HELO
        raw.command(b"HELO client.example")
        assert raw.command(b"DATA").startswith(b"503")  # before MAIL and RCPT
        assert raw.command(b"RCPT TO:<alice@example.test>").startswith(b"503")  # before MAIL
        assert raw.command(b"AUTH PLAIN AGJvYgBib2ItcHc=").startswith(b"5")  # not over plain text
        assert raw.command(b"NOOP").startswith(b"250")
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        assert client.noop()[0] == 250


def test_connection_dropped_mid_data_stores_nothing(mail):
    before = inbox_files(mail, "alice")
    with Raw(mail.smtp.address) as raw:
        raw.line()
        raw.command(b"HELO client.example")
        raw.command(b"MAIL FROM:<bob@example.test>")
        raw.command(b"RCPT TO:<alice@example.test>")
        assert raw.command(b"DATA").startswith(b"354")
        raw.send(b"Subject: half\r\n\r\nthe first half of a message\r\n" * 100)
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:  # the server saw the drop
        client.noop()
    time.sleep(0.2)
    assert inbox_files(mail, "alice") == before
    assert list((mailstore.user_dir(mail_dir(mail), "alice") / "tmp").iterdir()) == []


def test_250_comes_only_after_the_message_is_stored(mail):
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        for i in range(5):
            client.sendmail("bob@example.test", ["carol@example.test"], f"Subject: n{i}\r\n\r\nbody\r\n".encode())
            # no waiting: the file is in new/ by the time the client has its 250
            assert parse(inbox_files(mail, "carol")[-1].read_bytes())["Subject"] == f"n{i}"


def test_public_server_requires_auth(servers_factory):
    # Any host but 127.0.0.1/localhost/::1 counts as public: anonymous MAIL FROM must be refused.
    if sys.platform != "linux":
        pytest.skip("127.0.0.2 is a loopback address on Linux only")
    handle = servers_factory(names=["smtp"], host="127.0.0.2")
    smtp = handle.smtp
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            client.sendmail("bob@example.test", ["alice@example.test"], b"Subject: x\r\n\r\nx\r\n")
        assert info.value.smtp_code == 530
    with smtplib.SMTP_SSL(smtp.host, smtp.tls_ports["smtps"], context=smtp.ssl_context(), timeout=10) as client:
        client.login("bob", "bob-pw")
        assert client.sendmail("bob@example.test", ["alice@example.test"], b"Subject: x\r\n\r\nx\r\n") == {}
    assert wait_for(lambda: parse(inbox_files(handle, "alice")[-1].read_bytes())["Subject"] == "x")


@pytest.mark.parametrize("arg", ["<bob@example.test>", "<bob@example.test> SIZE=100", "  <a@b>", "<>",
                                 "bob@example.test", '<"x y"@e.t>', "<@route:a@b>", "<a@b>  SIZE=1 BODY=8BITMIME",
                                 "<a.b@c.d>x", "<a@b..c>", "<a@[127.0.0.1]>", "<josé@x.org>", "<a@b> (comment)",
                                 "<a@b>\tSIZE=1", "<a@b", "<a b@c>", ""])
def test_fast_address_parsing_agrees_with_aiosmtpd(arg):
    from aiosmtpd.smtp import SMTP
    from local_servers.mail.smtp import CourseSMTP
    assert CourseSMTP._getaddr(object.__new__(CourseSMTP), arg) == SMTP._getaddr(object.__new__(SMTP), arg)


def test_greeting_is_fixed_text(servers):
    """Lessons print the greeting: it must not carry a library's version number."""
    with smtplib.SMTP(timeout=10) as smtp:
        code, greeting = smtp.connect(*servers.smtp.address)
    assert (code, greeting) == (220, b"mail.example.test ESMTP Python internet course")


# ----------------------------------------------------------------------
# The Received header's protocol (RFC 3848, RFC 6531 §3.7.3)


def received_with(mail, send) -> str:
    """Send one SMTPUTF8 message with `send(message)`; the protocol word of alice's stored Received header."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "josé@exämple.org", "alice@example.test", "utf8 stamp"
    msg.set_content("Hallo!\n")
    send(msg)
    received = parse(inbox_files(mail, "alice")[-1].read_bytes())["Received"]
    return received.split(" with ")[1].split()[0]


def test_smtputf8_sessions_are_stamped_utf8smtp(mail):
    def plain(msg):
        with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
            client.send_message(msg)  # a non-ASCII sender: smtplib sends MAIL FROM ... SMTPUTF8

    def starttls_auth(msg):
        with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
            client.starttls(context=mail.smtp.ssl_context())
            client.login("bob", "bob-pw")
            client.send_message(msg)

    def smtps(msg):
        with smtplib.SMTP_SSL(mail.smtp.host, mail.smtp.tls_ports["smtps"], context=mail.smtp.ssl_context(),
                              timeout=10) as client:
            client.send_message(msg)

    assert received_with(mail, plain) == "UTF8SMTP"
    assert received_with(mail, starttls_auth) == "UTF8SMTPSA"
    assert received_with(mail, smtps) == "UTF8SMTPS"


# ----------------------------------------------------------------------
# Header injection: CR, LF or NUL in strings that reach stored headers


@pytest.mark.parametrize("command", [
    b"EHLO client\rX-Injected: yes",
    b"HELO client\rX-Injected: yes",
    b"EHLO client\x00",
])
def test_control_characters_in_helo_get_501(mail, command):
    with Raw(mail.smtp.address) as raw:
        raw.line()
        assert raw.command(command).startswith(b"501")
        raw.send(b"EHLO client.example\r\n")
        assert raw.smtp_reply().startswith(b"250")  # and the session carries on


@pytest.mark.parametrize("command", [
    b'MAIL FROM:<"bob\rX-Injected: yes"@example.test>',
    b'RCPT TO:<"x\rX-Injected: yes"@elsewhere.example>',
    b'RCPT TO:<"x\x00y"@elsewhere.example>',
])
def test_control_characters_in_addresses_get_501_and_nothing_is_stored(mail, command):
    stored = {user: len(inbox_files(mail, user)) for user in (*mailstore.USERS, mailstore.CATCHALL)}
    with Raw(mail.smtp.address) as raw:
        raw.line()
        raw.send(b"EHLO client.example\r\n")
        raw.smtp_reply()
        if command.startswith(b"RCPT"):
            assert raw.command(b"MAIL FROM:<bob@example.test>").startswith(b"250")
        assert raw.command(command).startswith(b"501")
    assert {user: len(inbox_files(mail, user)) for user in (*mailstore.USERS, mailstore.CATCHALL)} == stored


# ----------------------------------------------------------------------
# A client that pipelines its last commands and then closes its half still gets every reply

PIPELINED = (b"EHLO client.example\r\nMAIL FROM:<bob@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
             b"Subject: half-closed\r\n\r\nsent before the client closed its half\r\n.\r\n")


def assert_every_reply(replies: bytes, mail) -> None:
    codes = [line[:3] for line in replies.split(b"\r\n") if line[3:4] == b" "]
    assert codes == [b"250", b"250", b"250", b"354", b"250"], replies
    assert parse(inbox_files(mail, "alice")[-1].read_bytes())["Subject"] == "half-closed"


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_plain_half_close_after_pipelining_gets_every_reply(mail):
    with socket.create_connection(mail.smtp.address, timeout=10) as sock:
        assert sock.recv(1024).startswith(b"220 ")
        sock.sendall(PIPELINED)
        sock.shutdown(socket.SHUT_WR)  # TCP FIN: nothing more from us
        assert_every_reply(read_all(sock), mail)


def test_smtps_close_notify_after_pipelining_gets_every_reply(mail):
    with socket.create_connection((mail.smtp.host, mail.smtp.tls_ports["smtps"]), timeout=10) as sock:
        client = TLSClient(sock, mail.smtp.ssl_context())
        client.send(PIPELINED)
        client.close_notify()
        replies = client.read_to_end()
    assert replies.startswith(b"220 ")
    assert_every_reply(replies.split(b"\r\n", 1)[1], mail)


def test_starttls_close_notify_after_pipelining_gets_every_reply(mail):
    with socket.create_connection(mail.smtp.address, timeout=10) as sock:
        assert sock.recv(1024).startswith(b"220 ")
        sock.sendall(b"EHLO client.example\r\n")
        ehlo = b""
        while not ehlo.endswith(b"250 HELP\r\n"):
            ehlo += sock.recv(1024)
        sock.sendall(b"STARTTLS\r\n")
        assert sock.recv(1024).startswith(b"220 ")
        client = TLSClient(sock, mail.smtp.ssl_context())
        client.send(PIPELINED)
        client.close_notify()
        assert_every_reply(client.read_to_end(), mail)


# ----------------------------------------------------------------------
# Connection limits


def test_connections_beyond_the_limit_get_421(servers_factory):
    handle = servers_factory(names=["smtp"], options={"smtp_max_per_address": 2})
    smtp = handle.smtp
    held = [smtplib.SMTP(smtp.host, smtp.port, timeout=10),
            smtplib.SMTP_SSL(smtp.host, smtp.tls_ports["smtps"], context=smtp.ssl_context(), timeout=10)]
    try:
        with Raw(smtp.address) as raw:  # one count for both ports: this is the third
            assert raw.line().startswith(b"421 ")
            assert raw.file.readline() == b""  # and closed
    finally:
        held.pop().quit()
    deadline = time.monotonic() + 10
    while True:  # the place is free again once the server saw the QUIT
        with Raw(smtp.address) as raw:
            greeting = raw.line()
        if greeting.startswith(b"220 ") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert greeting.startswith(b"220 ")
    held[0].quit()
