"""Lab 4 (SMTP): a multipart/alternative message with an attachment, sent to several recipients."""

from __future__ import annotations

import smtplib
import uuid

import pytest

from grader.helpers import delivered, spy

pytestmark = pytest.mark.lab("smtp")

TEXT = "Hello!\nThe minutes are attached.\n"
HTML = "<p>Hello!</p><p>The <b>minutes</b> are attached.</p>"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


@pytest.fixture
def attachment(tmp_path):
    path = tmp_path / "minutes.pdf"
    path.write_bytes(PDF)
    return path


def build(student, attachment, subject, recipients):
    return student.build_message("alice@example.test", recipients, subject, TEXT, HTML, str(attachment))


@pytest.mark.points(3, hint="EmailMessage: set_content(text), add_alternative(html, subtype='html'), "
                            "then add_attachment(data, maintype, subtype, filename=...).")
def test_message_structure(student, attachment):
    """build_message() makes multipart/mixed = [multipart/alternative: text, html] + the attachment."""
    message = build(student, attachment, "Minutes", ["bob@example.test", "carol@example.test"])
    assert message.get_content_type() == "multipart/mixed", f"top level is {message.get_content_type()}"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["multipart/alternative", "application/pdf"], \
        f"parts: {[p.get_content_type() for p in parts]}"
    alternatives = list(parts[0].iter_parts())
    assert [p.get_content_type() for p in alternatives] == ["text/plain", "text/html"], "text first, then HTML"
    assert alternatives[0].get_content() == TEXT and alternatives[1].get_content().strip() == HTML
    assert parts[1].get_filename() == "minutes.pdf" and parts[1].get_content() == PDF


@pytest.mark.points(2, hint="Set From, To (joined with ', '), Subject, Date (formatdate) and Message-ID (make_msgid).")
def test_message_headers(student, attachment):
    """build_message() sets From, To with every recipient, Subject, Date and Message-ID."""
    recipients = ["bob@example.test", "carol@example.test"]
    message = build(student, attachment, "Minutes ünd more", recipients)
    assert message["From"] == "alice@example.test"
    assert sorted(a.addr_spec for a in message["To"].addresses) == recipients
    assert message["Subject"] == "Minutes ünd more"
    assert message["Date"] and message["Message-ID"], "Date and Message-ID are missing"


@pytest.mark.points(3, hint="One smtplib.SMTP(host, port) connection and one send_message(msg, to_addrs=[...]).")
def test_send_to_all(student, lab_writable, attachment):
    """send_to_all() delivers to every recipient over one connection and returns {}."""
    connections = spy(student, "smtplib.SMTP.connect")  # counted in the student's process, where the code runs
    token = uuid.uuid4().hex
    recipients = ["bob@example.test", "carol@example.test", "alice@example.test"]
    message = build(student, attachment, f"Minutes {token}", recipients)
    refused = student.send_to_all(lab_writable.smtp.host, lab_writable.smtp.port, message,
                                  "alice@example.test", recipients)
    assert refused == {}, f"no recipient should be refused, got {refused!r}"
    assert len(connections.calls()) == 1, f"{len(connections.calls())} SMTP connections were made, one is enough"
    for user in ("alice", "bob", "carol"):
        got = delivered(lab_writable, user, token)
        assert len(got) == 1, f"{user} received {len(got)} copies"
        assert got[0].get_content_type() == "multipart/mixed"


@pytest.mark.points(3, hint="sendmail/send_message return the refused recipients; when all are refused they raise "
                            "SMTPRecipientsRefused, whose .recipients has them.")
def test_refused_recipients(student, lab_writable, attachment):
    """Refused recipients are returned with their code; the others still get the message."""
    token = uuid.uuid4().hex
    recipients = ["bob@example.test", "nobody@example.test"]
    message = build(student, attachment, f"Partly {token}", recipients)
    refused = student.send_to_all(lab_writable.smtp.host, lab_writable.smtp.port, message,
                                  "alice@example.test", recipients)
    assert set(refused) == {"nobody@example.test"}, f"refused: {refused!r}"
    assert refused["nobody@example.test"][0] == 550
    assert len(delivered(lab_writable, "bob", token)) == 1, "bob did not get the message"
    refused = student.send_to_all(lab_writable.smtp.host, lab_writable.smtp.port, message,
                                  "alice@example.test", ["ghost@example.test", "nobody@example.test"])
    assert set(refused) == {"ghost@example.test", "nobody@example.test"}, \
        f"when everyone is refused, return them all: {refused!r}"
