"""The appendix's exercise solutions (real providers), run against the course's servers under each profile."""

from __future__ import annotations

import imaplib
import smtplib
import ssl
import uuid
from email.message import EmailMessage

import pytest

from grader.helpers import delivered


@pytest.fixture
def mail(servers_factory):
    """Mail servers and the HTTP service (the token endpoint) of their own: profiles reseed the mail store."""
    handle = servers_factory(names=["smtp", "pop3", "imap", "http"])
    yield handle
    handle.profile(None)


def note(token: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@example.test", "bob@example.test", f"ex07 {token}"
    msg.set_content(f"Hello! {token}\n")
    return msg


def test_send_with_app_password_on_gmail(mail, solution):
    gmail = mail.profile("gmail")
    port = gmail.smtp.tls_ports["smtps"]
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        solution.send_with_app_password(gmail.smtp.host, port, gmail.ca_file, "alice@example.test", "alice-pw",
                                        note("x"))
    assert refused.value.smtp_code == 534  # the account's password: right, but not enough
    token = uuid.uuid4().hex
    app_password = gmail.app_password("alice")
    assert " " in app_password  # four groups of four, as Google shows it
    assert solution.send_with_app_password(gmail.smtp.host, port, gmail.ca_file, "alice@example.test",
                                           app_password, note(token)) == {}
    assert len(delivered(gmail, "bob", token)) == 1


def inbox_size(handle, password: str) -> int:
    with imaplib.IMAP4_SSL(handle.imap.host, handle.imap.tls_ports["imaps"],
                           ssl_context=ssl.create_default_context(cafile=handle.ca_file)) as imap:
        imap.login("alice", password)
        imap.xatom("ID", '("name" "test")')
        return int(imap.select("INBOX", readonly=True)[1][0])


def test_xoauth2_on_outlook_where_no_password_works(mail, solution):
    outlook = mail.profile("outlook")
    host, port = outlook.imap.host, outlook.imap.tls_ports["imaps"]
    count = solution.inbox_size_xoauth2(host, port, outlook.ca_file, "alice@example.test",
                                        outlook.oauth_client("alice"))
    assert count > 0
    assert count == solution.inbox_size_xoauth2(host, port, outlook.ca_file, "alice@example.test",
                                                outlook.oauth_client("alice"))
    with pytest.raises(imaplib.IMAP4.error):
        solution.inbox_size_with_id(host, port, outlook.ca_file, "alice", "alice-pw")


def test_id_before_select_on_163(mail, solution):
    netease = mail.profile("163")
    code = netease.app_password("alice")
    count = solution.inbox_size_with_id(netease.imap.host, netease.imap.tls_ports["imaps"], netease.ca_file,
                                        "alice", code)
    assert count == inbox_size(netease, code) > 0
    # the same code without ID: 163 refuses SELECT, which is what the exercise is about
    with imaplib.IMAP4_SSL(netease.imap.host, netease.imap.tls_ports["imaps"],
                           ssl_context=ssl.create_default_context(cafile=netease.ca_file)) as imap:
        imap.login("alice", code)
        assert imap.select("INBOX", readonly=True)[0] == "NO"
