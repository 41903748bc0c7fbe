"""check("ex07"): the exercises of the appendix (real providers), graded like a lab.

The student's answers are exercises/ex07_real_providers.py in their labs
folder (labs/exercises/ holds the starter, solutions/exercises/ the
reference). Each check switches this run's mail servers to a provider's
profile (which reseeds their mail store), runs the student's function in
the student's process, and switches back to the course's own rules.
"""

from __future__ import annotations

import imaplib
import shutil
import smtplib
import ssl
import uuid
from email.message import EmailMessage

import pytest

from grader.helpers import delivered
from local_servers.wire import oauth

pytestmark = pytest.mark.lab("ex07")


@pytest.fixture
def provider(lab_writable):
    """provider("gmail") -> the run's servers playing that provider; the course's rules again afterwards."""
    current = [lab_writable]

    def switch(name: str):
        current[0] = current[0].profile(name)
        return current[0]

    yield switch
    current[0].profile(None)


def ca_copy(handle, tmp_path) -> str:
    """The run's CA certificate, copied where the student's process may read it."""
    path = tmp_path / "ca.pem"
    shutil.copyfile(handle.ca_file, path)
    return str(path)


def note(token: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@example.test", "bob@example.test", f"ex07 {token}"
    msg["Message-ID"] = f"<{token}@grader.example.test>"
    msg.set_content(f"Hello! {token}\n")
    return msg


def imaps(handle) -> imaplib.IMAP4_SSL:
    context = ssl.create_default_context(cafile=handle.ca_file)
    return imaplib.IMAP4_SSL(handle.imap.host, handle.imap.tls_ports["imaps"], ssl_context=context, timeout=10)


def inbox_size(handle, password: str | None = None) -> int:
    """How many messages alice's INBOX holds, read here (with password, else XOAUTH2 and a token of our own)."""
    with imaps(handle) as imap:
        if password:
            imap.login("alice", password)
        else:
            token = oauth.access_token(handle.state_dir, "alice")
            imap.authenticate("XOAUTH2", lambda challenge: f"user=alice@example.test\x01auth=Bearer {token}\x01\x01")
        imap.xatom("ID", '("name" "grader")')
        return int(imap.select("INBOX", readonly=True)[1][0])


@pytest.mark.points(2, hint="SMTP_SSL(host, port, context=ssl.create_default_context(cafile=ca_file)), then "
                            "login(address, app_password) and send_message(msg): the app password takes the place "
                            "of the account's password, nothing else changes (appendix, 'Gmail: an app password').")
def test_send_with_app_password(student, provider, tmp_path):
    """Gmail: a message sent with an app password arrives in bob's mailbox, once."""
    gmail = provider("gmail")
    token = uuid.uuid4().hex
    refused = student.send_with_app_password(gmail.smtp.host, gmail.smtp.tls_ports["smtps"], ca_copy(gmail, tmp_path),
                                             "alice@example.test", gmail.app_password("alice"), note(token))
    assert refused == {}, f"send_with_app_password() returned {refused!r}; nothing was refused"
    assert len(delivered(gmail, "bob", token)) == 1, "the message did not reach bob's mailbox once"


@pytest.mark.points(1, hint="Do not catch SMTPAuthenticationError: its smtp_code and smtp_error are what tells the "
                            "caller which problem it has (534 app password needed, 535 wrong password) (appendix, "
                            "'Gmail: the account's password is refused').")
def test_send_with_app_password_refused(student, provider, tmp_path):
    """Gmail: the account's password raises SMTPAuthenticationError with Gmail's 534."""
    gmail = provider("gmail")
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        student.send_with_app_password(gmail.smtp.host, gmail.smtp.tls_ports["smtps"], ca_copy(gmail, tmp_path),
                                       "alice@example.test", "alice-pw", note(uuid.uuid4().hex))
    assert refused.value.smtp_code == 534, \
        f"Gmail answers the account's password with 534; the exception carries {refused.value.smtp_code}"


@pytest.mark.points(3, hint="POST grant_type=refresh_token, refresh_token, client_id and client_secret as a form "
                            "to token_url; its JSON reply holds access_token. Then imap.authenticate('XOAUTH2', "
                            "lambda challenge: 'user=' + address + '\\x01auth=Bearer ' + token + '\\x01\\x01') "
                            "(appendix, 'Gmail and Outlook: OAuth2 and XOAUTH2').")
def test_inbox_size_xoauth2(student, provider, tmp_path):
    """Outlook.com, where no password works: an XOAUTH2 login with a fresh token reads the INBOX."""
    outlook = provider("outlook")
    expected = inbox_size(outlook)
    got = student.inbox_size_xoauth2(outlook.imap.host, outlook.imap.tls_ports["imaps"], ca_copy(outlook, tmp_path),
                                     "alice@example.test", outlook.oauth_client("alice"))
    assert got == expected, f"alice's INBOX holds {expected} messages; inbox_size_xoauth2() returned {got!r}"


@pytest.mark.points(2, hint="After login, send ID before SELECT: imaplib has no method for it, but "
                            "imap.xatom('ID', '(\"name\" \"my-client\")') sends it; then select('INBOX', "
                            "readonly=True) answers OK with the number of messages (appendix, '163 Mail: ID before "
                            "SELECT').")
def test_inbox_size_with_id(student, provider, tmp_path):
    """163: logged in with the authorization code, the INBOX opens once the client has sent ID."""
    netease = provider("163")
    code = netease.app_password("alice")
    expected = inbox_size(netease, code)
    got = student.inbox_size_with_id(netease.imap.host, netease.imap.tls_ports["imaps"], ca_copy(netease, tmp_path),
                                     "alice", code)
    assert got == expected, f"alice's INBOX holds {expected} messages; inbox_size_with_id() returned {got!r}"
