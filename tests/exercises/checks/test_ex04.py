"""check("ex04"): the exercises of chapter 4 (writing and sending mail), graded like a lab.

The student's answers are exercises/ex04_email_smtp.py in their labs folder
(labs/exercises/ holds the starter, solutions/exercises/ the reference).
Each function runs in the student's process against this run's own SMTP
server; what arrived is read from the mailboxes on that server's disk.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage

import pytest

from grader.helpers import delivered, spy

pytestmark = pytest.mark.lab("ex04")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108020000009077")  # a PNG's first bytes


def note(token: str, to: str, **headers: str) -> EmailMessage:
    """A short message whose Message-ID and body carry token, so that it can be found on the server."""
    msg = EmailMessage()
    msg["From"] = "alice@example.test"
    msg["To"] = to
    msg["Subject"] = f"ex04 {token}"
    msg["Message-ID"] = f"<{token}@grader.example.test>"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(f"Hello! {token}\n")
    return msg


def ca_copy(handle, tmp_path) -> str:
    """The run's CA certificate, copied where the student's process may read it."""
    path = tmp_path / "ca.pem"
    shutil.copyfile(handle.ca_file, path)
    return str(path)


@pytest.mark.points(2, hint="set_debuglevel(1) prints each command smtplib sends to sys.stderr: catch it with "
                            "contextlib.redirect_stderr and keep the first word of each 'send:' line; every "
                            "recipient, Cc and Bcc too, gets its own RCPT (chapter 4b, 'Reading the dialogue: "
                            "set_debuglevel(1)' and 'The envelope and Bcc').")
def test_smtp_commands(student, lab_writable):
    """smtp_commands() lists EHLO, MAIL, one RCPT per To, Cc and Bcc recipient, DATA and QUIT."""
    token = uuid.uuid4().hex
    msg = note(token, "bob@example.test, carol@example.test", Cc="alice@example.test", Bcc="carol@example.test")
    commands = student.smtp_commands(lab_writable.smtp.host, lab_writable.smtp.port, msg)
    assert commands == ["EHLO", "MAIL", "RCPT", "RCPT", "RCPT", "RCPT", "DATA", "QUIT"], \
        f"smtp_commands() returned {commands!r}"
    assert delivered(lab_writable, "bob", token), "the message did not reach bob's mailbox"


@pytest.mark.points(3, hint="set_content(text), add_alternative(html, subtype='html'), then add_related(png, "
                            "'image', 'png', cid='<name>') on the HTML part turns it into multipart/related "
                            "(chapter 4, 'Text and HTML together: multipart/alternative' and 'An image "
                            "attachment').")
def test_newsletter(student):
    """newsletter() builds alternative[text, related[html, png, png]] with the images' Content-IDs."""
    html = '<p>Logo <img src="cid:logo"> and map <img src="cid:map"></p>\n'
    msg = student.newsletter("alice@example.test", ["bob@example.test", "carol@example.test"], "News",
                             "Plain text.\n", html, {"logo": PNG, "map": PNG[::-1]})
    assert isinstance(msg, EmailMessage), f"newsletter() returned {type(msg).__name__}, not an EmailMessage"
    assert msg.get_content_type() == "multipart/alternative", f"the message is {msg.get_content_type()}"
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts] == ["text/plain", "multipart/related"], \
        f"its parts are {[p.get_content_type() for p in parts]}"
    text_part, related = parts
    assert text_part.get_content() == "Plain text.\n", f"the text part holds {text_part.get_content()!r}"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html" and html_part.get_content() == html, \
        "the first part of multipart/related must be the HTML as given"
    got = [(part.get_content_type(), part["Content-ID"], part.get_content()) for part in images]
    assert got == [("image/png", "<logo>", PNG), ("image/png", "<map>", PNG[::-1])], \
        f"the images are {[(t, cid) for t, cid, _ in got]} (type, Content-ID)"


@pytest.mark.points(1, hint="A message needs From, To (every recipient), Subject, Date and Message-ID (chapter 4, "
                            "'The anatomy of a message (RFC 5322)').")
def test_newsletter_headers(student):
    """newsletter() sets From, To with every recipient, Subject, Date and Message-ID."""
    msg = student.newsletter("alice@example.test", ["bob@example.test", "carol@example.test"], "News",
                             "Plain text.\n", "<p>Hi</p>\n", {})
    missing = [name for name in ("From", "To", "Subject", "Date", "Message-ID") if not msg[name]]
    assert not missing, f"these headers are missing: {missing}"
    assert [a.addr_spec for a in msg["To"].addresses] == ["bob@example.test", "carol@example.test"], \
        f"To: {msg['To']}"
    assert msg["Subject"] == "News", f"Subject: {msg['Subject']}"


@pytest.mark.points(3, hint="One SMTP_SSL(host, port, context=ssl.create_default_context(cafile=ca_file)), one "
                            "login, then send_message per message; catch SMTPRecipientsRefused (all refused) and "
                            "keep its .recipients (chapter 4b, 'Many messages over one connection' and "
                            "'Refused recipients').")
def test_send_all(student, lab_writable, tmp_path):
    """send_all() sends four messages over one SMTPS connection and reports the refused recipients."""
    tokens = [uuid.uuid4().hex for _ in range(4)]
    messages = [note(tokens[0], "bob@example.test"),
                note(tokens[1], "nobody@example.test"),  # every recipient refused
                note(tokens[2], "carol@example.test, nobody@example.test"),
                note(tokens[3], "bob@example.test", Bcc="carol@example.test")]
    connects = spy(student, "smtplib.SMTP.connect")
    try:
        results = student.send_all(lab_writable.smtp.host, lab_writable.smtp.tls_ports["smtps"],
                                   ca_copy(lab_writable, tmp_path), "alice", "alice-pw", messages)
        calls = connects.calls()
    finally:
        connects.restore()
    assert len(calls) == 1, f"send_all() opened {len(calls)} connections; one is enough for every message"
    assert isinstance(results, list) and len(results) == 4, f"send_all() returned {results!r}"
    assert results[0] == {} and results[3] == {}, f"nothing was refused for messages 1 and 4: {results!r}"
    for number in 1, 2:
        refused = results[number]
        assert list(refused) == ["nobody@example.test"] and refused["nobody@example.test"][0] == 550, \
            f"for message {number + 1} the server refused nobody@example.test with 550; got {refused!r}"
    for user, expected in (("bob", (0, 3)), ("carol", (2, 3))):
        missing = [n + 1 for n in expected if not delivered(lab_writable, user, tokens[n])]
        assert not missing, f"messages {missing} did not reach {user}'s mailbox"
    arrived = delivered(lab_writable, "carol", tokens[3])
    assert arrived[0]["Bcc"] is None, "the Bcc header was delivered with message 4"


@pytest.mark.points(1, hint="Let SMTPAuthenticationError reach the caller, and verify the server's certificate "
                            "against the CA file you were given (chapter 4b, 'Logging in: login()' and "
                            "'Encryption from the first byte: SMTP_SSL').")
def test_send_all_refused(student, lab_writable, tmp_path):
    """A wrong password raises SMTPAuthenticationError; a CA that did not sign the certificate fails."""
    info = lab_writable.smtp
    with pytest.raises(smtplib.SMTPAuthenticationError):
        student.send_all(info.host, info.tls_ports["smtps"], ca_copy(lab_writable, tmp_path), "alice", "wrong", [])
    other_ca = ssl.get_default_verify_paths().cafile  # the system's CAs never signed the course's certificates
    if other_ca and os.path.isfile(other_ca):
        with pytest.raises(ssl.SSLError):
            student.send_all(info.host, info.tls_ports["smtps"], other_ca, "alice", "alice-pw", [])


def retried(student, handle, msg: EmailMessage, **options):
    """Call send_with_retry(); return (its result or the exception it raised, connections opened, seconds)."""
    connects = spy(student, "smtplib.SMTP.connect")
    started = time.monotonic()
    try:
        try:
            outcome = student.send_with_retry(handle.smtp.host, handle.smtp.port, msg, **options)
        except smtplib.SMTPException as exc:
            outcome = exc
        return outcome, len(connects.calls()), time.monotonic() - started
    finally:
        connects.restore()


@pytest.mark.points(2, hint="A refusal of every recipient raises SMTPRecipientsRefused, whose .recipients holds a "
                            "(code, text) per recipient; a 4xx code means: close, sleep, open a new connection and "
                            "send again, doubling the sleep each time (chapter 4b, 'When the server says no: retry "
                            "on 4xx, give up on 5xx').")
def test_send_with_retry_4xx(student, lab_writable):
    """451 twice, then accepted: the third attempt delivers the message once, after waits of 0.1 s and 0.2 s."""
    token = uuid.uuid4().hex
    with lab_writable.faults("smtp", "reply", code=451, stage="RCPT", count=2):
        outcome, connections, took = retried(student, lab_writable, note(token, "bob@example.test"),
                                             first_wait=0.1)
    assert outcome == 3, f"the server refused twice with 451, then accepted; send_with_retry() gave {outcome!r}"
    assert connections == 3, f"three attempts, one connection each; send_with_retry() opened {connections}"
    assert took >= 0.3, f"the attempts came {took:.2f} s apart in all: wait first_wait, then twice that"
    assert len(delivered(lab_writable, "bob", token)) == 1, "the message did not reach bob's mailbox once"


@pytest.mark.points(1, hint="Count the attempts: when the last one is refused with a 4xx too, raise the library's "
                            "exception to the caller instead of trying for ever (chapter 4b, 'When the server says "
                            "no: retry on 4xx, give up on 5xx').")
def test_send_with_retry_gives_up_in_the_end(student, lab_writable):
    """451 on every attempt: send_with_retry(attempts=3) tries three times, then raises."""
    token = uuid.uuid4().hex
    with lab_writable.faults("smtp", "reply", code=451, stage="RCPT", count=5):
        outcome, connections, _ = retried(student, lab_writable, note(token, "bob@example.test"), attempts=3,
                                          first_wait=0.05)
    assert isinstance(outcome, smtplib.SMTPRecipientsRefused), \
        f"every attempt was refused with 451; send_with_retry() gave {outcome!r} instead of raising"
    assert connections == 3, f"attempts=3, yet send_with_retry() opened {connections} connections"
    assert not delivered(lab_writable, "bob", token), "a refused message reached bob's mailbox"


@pytest.mark.points(2, hint="A 5xx is permanent: the same message will get the same answer, so raise at once "
                            "without a second connection; look at the code in .recipients (or .smtp_code) before "
                            "deciding (chapter 4b, 'When the server says no: retry on 4xx, give up on 5xx').")
def test_send_with_retry_5xx(student, lab_writable):
    """550: send_with_retry() raises SMTPRecipientsRefused after one attempt, without waiting."""
    token = uuid.uuid4().hex
    with lab_writable.faults("smtp", "reply", code=550, stage="RCPT"):
        outcome, connections, _ = retried(student, lab_writable, note(token, "bob@example.test"), first_wait=0.1)
    assert isinstance(outcome, smtplib.SMTPRecipientsRefused), \
        f"the server refused with 550; send_with_retry() gave {outcome!r} instead of raising"
    codes = [code for code, _ in outcome.recipients.values()]
    assert codes == [550], f"the exception should carry the server's 550; it carries {codes}"
    assert connections == 1, f"a 5xx is final; send_with_retry() opened {connections} connections"


@pytest.mark.points(1, hint="Greylisting is a 451 too: the server accepts the same sender and recipient when they "
                            "come back later, so backing off and retrying is all it takes (chapter 4b, "
                            "'Greylisting').")
def test_send_with_retry_greylisting(student, lab_writable):
    """A greylisting server (retry accepted after 0.5 s): the message arrives, at a later attempt, once."""
    token = uuid.uuid4().hex
    msg = note(token, "carol@example.test")
    msg.replace_header("From", f"{token}@example.test")  # a sender the greylist has never seen
    with lab_writable.faults("smtp", "greylist", delay=0.5):
        outcome, connections, _ = retried(student, lab_writable, msg, first_wait=0.2, attempts=6)
    assert isinstance(outcome, int) and outcome > 1, \
        f"the first attempt is always refused by greylisting; send_with_retry() gave {outcome!r}"
    assert connections == outcome, f"{outcome} attempts but {connections} connections"
    assert len(delivered(lab_writable, "carol", token)) == 1, "the message did not reach carol's mailbox once"


@pytest.mark.points(2, hint="Each step starts with 'C: ' or 'S: ' after 4 columns ('tls ' or spaces); lines indented "
                            "further continue the step above. A C: step that follows a 354 is the message, one "
                            "that follows a 334 answers AUTH's challenge: neither is a command (chapter 4, "
                            "'Reading the transcript').")
def test_client_commands(student, lab_writable):
    """client_commands() reads smtplib's commands from two real transcripts: STARTTLS, AUTH LOGIN, DATA."""
    info = lab_writable.smtp
    context = ssl.create_default_context(cafile=lab_writable.ca_file)
    token = uuid.uuid4().hex
    with smtplib.SMTP(info.host, info.port, timeout=10) as client:
        client.starttls(context=context)
        client.login("alice", "alice-pw")
        client.send_message(note(token, "bob@example.test, carol@example.test"))
    transcript = str(lab_writable.transcripts("smtp", last=1))
    got = student.client_commands(transcript)
    assert got == ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"], \
        f"for this transcript client_commands() returned {got!r}:\n{transcript}"
    with smtplib.SMTP(info.host, info.port, timeout=10) as client:
        client.starttls(context=context)
        client.ehlo()
        client.user, client.password = "alice", "alice-pw"
        client.auth("LOGIN", client.auth_login)  # a 334 challenge, answered
        client.noop()
    transcript = str(lab_writable.transcripts("smtp", last=1))
    got = student.client_commands(transcript)
    assert got == ["EHLO", "STARTTLS", "EHLO", "AUTH", "NOOP", "QUIT"], \
        f"for this transcript client_commands() returned {got!r}:\n{transcript}"
