"""The sending-mail chapter's exercise solutions, run against the course's servers."""

from __future__ import annotations

import email
import email.policy
import poplib
import smtplib
import ssl
import time
from email.message import EmailMessage

import pytest

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108020000009077")  # a PNG's first bytes


@pytest.fixture
def mail(servers_factory):
    """SMTP and POP3 with freshly seeded mailboxes, for the tests that read what was sent."""
    return servers_factory(names=["smtp", "pop3"])


def inbox(handle, user: str) -> list[EmailMessage]:
    """Every message in a user's INBOX, read with POP3 (nothing is deleted)."""
    client = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    try:
        client.user(user)
        client.pass_(f"{user}-pw")
        count, _ = client.stat()
        return [email.message_from_bytes(b"\n".join(client.retr(n)[1]), policy=email.policy.default)
                for n in range(1, count + 1)]
    finally:
        client.quit()


def note(subject: str, to: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "alice@example.test"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@example.test>"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content("Hello!\n")
    return msg


def test_smtp_commands_counts_every_recipient(servers, solution):
    msg = note("commands", "bob@example.test, carol@example.test", Cc="alice@example.test", Bcc="carol@example.test")
    commands = solution.smtp_commands(servers.smtp.host, servers.smtp.port, msg)
    assert commands == ["EHLO", "MAIL", "RCPT", "RCPT", "RCPT", "RCPT", "DATA", "QUIT"]


def test_newsletter_structure_and_content_ids(solution):
    html = '<p>Logo <img src="cid:logo"> and map <img src="cid:map"></p>\n'
    msg = solution.newsletter("alice@example.test", ["bob@example.test", "carol@example.test"], "News",
                              "Plain text.\n", html, {"logo": PNG, "map": PNG[::-1]})
    assert msg.get_content_type() == "multipart/alternative"
    text_part, related = msg.get_payload()
    assert text_part.get_content_type() == "text/plain" and text_part.get_content() == "Plain text.\n"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html" and html_part.get_content() == html
    assert [(part.get_content_type(), part["Content-ID"]) for part in images] == [("image/png", "<logo>"),
                                                                                   ("image/png", "<map>")]
    assert [part.get_content() for part in images] == [PNG, PNG[::-1]]
    assert [a.addr_spec for a in msg["To"].addresses] == ["bob@example.test", "carol@example.test"]
    assert msg["Subject"] == "News" and msg["Date"] and msg["Message-ID"]
    assert msg.get_body(("html", "plain")).get_content() == html  # what a mail program shows


def test_newsletter_arrives_whole(mail, solution):
    msg = solution.newsletter("alice@example.test", ["bob@example.test"], "Newsletter", "Text.\n",
                              '<img src="cid:logo">\n', {"logo": PNG})
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        assert client.send_message(msg) == {}
    received = [m for m in inbox(mail, "bob") if m["Message-ID"] == msg["Message-ID"]]
    assert len(received) == 1
    image = next(p for p in received[0].walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo>" and image.get_content() == PNG


def test_send_all_uses_one_connection_and_reports_refusals(mail, solution, monkeypatch):
    connections = []
    real_get_socket = smtplib.SMTP_SSL._get_socket

    def counting_get_socket(self, *args, **kwargs):
        connections.append(args)
        return real_get_socket(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP_SSL, "_get_socket", counting_get_socket)
    messages = [note("one", "bob@example.test"),
                note("two", "nobody@example.test"),                      # every recipient refused
                note("three", "carol@example.test, nobody@example.test"),
                note("four", "bob@example.test", Bcc="carol@example.test")]
    results = solution.send_all(mail.smtp.host, mail.smtp.tls_ports["smtps"], mail.ca_file, "alice", "alice-pw",
                                messages)
    assert len(connections) == 1
    assert len(results) == 4
    assert results[0] == {} and results[3] == {}
    for refused in results[1], results[2]:
        assert list(refused) == ["nobody@example.test"] and refused["nobody@example.test"][0] == 550
    bob_ids = {m["Message-ID"] for m in inbox(mail, "bob")}
    carol = {m["Message-ID"]: m for m in inbox(mail, "carol")}
    assert {"<one@example.test>", "<four@example.test>"} <= bob_ids
    assert {"<three@example.test>", "<four@example.test>"} <= set(carol)
    assert carol["<four@example.test>"]["Bcc"] is None


def test_send_all_checks_password_and_certificate(mail, servers, solution):
    info = mail.smtp
    with pytest.raises(smtplib.SMTPAuthenticationError):
        solution.send_all(info.host, info.tls_ports["smtps"], mail.ca_file, "alice", "wrong", [])
    # another set of servers has another CA: its file must not validate this server's certificate
    with pytest.raises(ssl.SSLCertVerificationError):
        solution.send_all(info.host, info.tls_ports["smtps"], servers.ca_file, "alice", "alice-pw", [])


# --- 04b exercise 4: retry on 4xx with backoff, give up on 5xx

def test_send_with_retry_backs_off_after_451(mail, solution):
    with mail.faults("smtp", "reply", code=451, stage="RCPT", count=2):
        started = time.monotonic()
        attempt = solution.send_with_retry(mail.smtp.host, mail.smtp.port, note("retried", "bob@example.test"),
                                           first_wait=0.1)
        took = time.monotonic() - started
    assert attempt == 3
    assert took >= 0.1 + 0.2  # the two waits, the second twice the first
    assert [m["Message-ID"] for m in inbox(mail, "bob")].count("<retried@example.test>") == 1


def test_send_with_retry_raises_the_last_4xx(mail, solution):
    with mail.faults("smtp", "reply", code=451, stage="RCPT", count=5):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            solution.send_with_retry(mail.smtp.host, mail.smtp.port, note("late", "bob@example.test"),
                                     attempts=3, first_wait=0.01)
    assert [code for code, _ in caught.value.recipients.values()] == [451]
    assert "<late@example.test>" not in {m["Message-ID"] for m in inbox(mail, "bob")}


def test_send_with_retry_gives_up_on_550_at_once(mail, solution, monkeypatch):
    connections = []
    real_connect = smtplib.SMTP.connect
    monkeypatch.setattr(smtplib.SMTP, "connect",
                        lambda self, *args, **kwargs: connections.append(args) or real_connect(self, *args, **kwargs))
    started = time.monotonic()
    with mail.faults("smtp", "reply", code=550, stage="RCPT"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            solution.send_with_retry(mail.smtp.host, mail.smtp.port, note("refused", "bob@example.test"),
                                     first_wait=1.0)
    assert [code for code, _ in caught.value.recipients.values()] == [550]
    assert len(connections) == 1 and time.monotonic() - started < 1.0  # no wait, no second attempt


def test_send_with_retry_gives_up_on_a_refused_sender(mail, solution):
    """A 5xx at MAIL is SMTPSenderRefused, not SMTPRecipientsRefused: it is final as well."""
    with mail.faults("smtp", "reply", code=550, stage="MAIL"):
        with pytest.raises(smtplib.SMTPSenderRefused):
            solution.send_with_retry(mail.smtp.host, mail.smtp.port, note("sender", "bob@example.test"),
                                     first_wait=5.0)


def test_send_with_retry_gets_through_greylisting(mail, solution):
    msg = note("greylisted", "carol@example.test")
    with mail.faults("smtp", "greylist", delay=0.5):
        attempt = solution.send_with_retry(mail.smtp.host, mail.smtp.port, msg, first_wait=0.2, attempts=6)
    assert attempt >= 2  # the first attempt of a new (client, sender, recipient) is always refused
    assert "<greylisted@example.test>" in {m["Message-ID"] for m in inbox(mail, "carol")}


# --- 4b exercise 5: the commands in a transcript

def test_client_commands_reads_a_real_transcript(mail, solution):
    context = ssl.create_default_context(cafile=mail.ca_file)
    with smtplib.SMTP(mail.smtp.host, mail.smtp.port, timeout=10) as client:
        client.starttls(context=context)
        client.login("alice", "alice-pw")
        client.send_message(note("transcribed", "bob@example.test", Cc="carol@example.test"))
    transcript = str(mail.transcripts("smtp", last=1))
    assert "tls C: " in transcript and "    C: STARTTLS" in transcript  # the shape the exercise relies on
    assert solution.client_commands(transcript) == ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "RCPT",
                                                    "DATA", "QUIT"]


def test_client_commands_skips_data_and_auth_answers(solution):
    transcript = "\n".join([
        "SMTP session, user alice",
        "    S: 220 mail.example.test ESMTP",
        "    C: EHLO me",
        "    S: 250-mail.example.test",
        "       250 AUTH LOGIN",
        "    C: AUTH LOGIN ****",
        "    S: 334 UGFzc3dvcmQ6",
        "    C: ****",
        "    S: 235 2.7.0 Authentication successful",
        "    C: MAIL FROM:<alice@example.test>",
        "    S: 250 OK",
        "    C: DATA",
        "    S: 354 End data with <CR><LF>.<CR><LF>",
        "    C: RCPT: not a command, the first line of a message",
        "       S: neither is this",
        "       .",
        "    S: 250 OK",
        "    *: the client closed the connection",
    ])
    assert solution.client_commands(transcript) == ["EHLO", "AUTH", "MAIL", "DATA"]
