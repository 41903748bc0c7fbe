"""Lab 4 (SMTP): a multipart/alternative message with an attachment, sent to several recipients.

build_message() is checked on the bytes of the message it returns, parsed
again, so EmailMessage and the classic email.mime classes are graded alike.
send_to_all() is checked with a message built here (never with the
student's own build_message()), through a relay that counts connections,
and on what the server delivered to the mailboxes on its disk.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import uuid
from email.message import EmailMessage
from email.utils import getaddresses

import pytest

from grader.helpers import delivered

pytestmark = pytest.mark.lab("smtp")

TEXT = "Hello!\nThe minutes are attached.\n"
HTML = "<p>Hello!</p><p>The <b>minutes</b> are attached.</p>"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


@pytest.fixture
def attachment(tmp_path):
    path = tmp_path / "minutes.pdf"
    path.write_bytes(PDF)
    return path


def built(student, attachment, subject, recipients) -> EmailMessage:
    """The student's message as the wire carries it, parsed again with the modern policy."""
    message = student.build_message("alice@example.test", recipients, subject, TEXT, HTML, str(attachment))
    assert isinstance(message, email.message.Message), f"build_message() returned {type(message).__name__}, not a message"
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def text_of(part) -> str:
    """A text part's content, with the line endings a transfer may change made plain."""
    return part.get_content().replace("\r\n", "\n")


def our_message(token: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "alice@example.test"
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"Minutes {token}"
    message.set_content(TEXT)
    message.add_alternative(HTML, subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="minutes.pdf")
    return message


class Relay:
    """A TCP relay in front of the grader's SMTP server that counts the connections made through it."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.address = self.listener.getsockname()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while self.listener.fileno() != -1:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            server = socket.create_connection(self.upstream, timeout=10)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


@pytest.fixture
def relay(lab_writable):
    relay = Relay((lab_writable.smtp.host, lab_writable.smtp.port))
    yield relay
    relay.close()


@pytest.mark.points(2, hint="The body is multipart/mixed holding a multipart/alternative (plain text first, then "
                            "HTML) and the attachment: see chapter 4, 'Text and HTML together: multipart/alternative' "
                            "and 'An image "
                            "attachment'.")
def test_message_structure(student, attachment):
    """build_message() makes multipart/mixed = [multipart/alternative: text, html] + the attachment."""
    message = built(student, attachment, "Minutes", ["bob@example.test", "carol@example.test"])
    shape = [message.get_content_type()] + [
        [p.get_content_type()] + [q.get_content_type() for q in p.iter_parts()] for p in message.iter_parts()]
    assert shape == ["multipart/mixed", ["multipart/alternative", "text/plain", "text/html"], ["application/pdf"]], \
        f"the message's structure is {shape}"
    alternatives = list(next(message.iter_parts()).iter_parts())
    assert text_of(alternatives[0]) == TEXT, f"the text part holds {text_of(alternatives[0])!r}"
    assert text_of(alternatives[1]).strip() == HTML, f"the HTML part holds {text_of(alternatives[1])!r}"


@pytest.mark.points(1, hint="An attachment keeps its bytes (base64 transfer encoding), its file name "
                            "(Content-Disposition) and a type guessed from the name: see chapter 4, 'An image "
                            "attachment'.")
def test_message_attachment(student, attachment):
    """The attachment arrives with its bytes, its file name and its type."""
    message = built(student, attachment, "Minutes", ["bob@example.test"])
    files = [p for p in message.walk() if p.get_filename()]
    assert [p.get_filename() for p in files] == ["minutes.pdf"], \
        f"attachments found: {[p.get_filename() for p in files]}"
    data = files[0].get_payload(decode=True)
    assert data == PDF, f"the attachment has {len(data or b'')} bytes that differ from the file's {len(PDF)}"
    assert files[0].get_content_type() == "application/pdf", f"its type is {files[0].get_content_type()}"


@pytest.mark.points(1, hint="From and To are addresses: every recipient in one To header, joined with commas "
                            "(see chapter 4, 'The anatomy of a message (RFC 5322)').")
def test_message_addresses(student, attachment):
    """build_message() sets From and a To with every recipient."""
    recipients = ["bob@example.test", "carol@example.test"]
    message = built(student, attachment, "Minutes", recipients)
    senders = [address for _, address in getaddresses([str(message.get("From", ""))])]
    assert senders == ["alice@example.test"], f"From: {message.get('From')!r}"
    to = sorted(address.lower() for _, address in getaddresses(message.get_all("To", [])) if address)
    assert to == recipients, f"To: {message.get_all('To')!r}"


@pytest.mark.points(1, hint="A non-ASCII subject travels as an encoded-word; Date and Message-ID come from "
                            "email.utils (see chapter 4, 'Non-ASCII text: encoded-words and transfer encodings' and "
                            "'The anatomy of a message (RFC 5322)').")
def test_message_subject_date_id(student, attachment):
    """build_message() sets a non-ASCII Subject, a Date and a Message-ID."""
    message = built(student, attachment, "Minutes ünd more", ["bob@example.test"])
    assert str(message.get("Subject", "")) == "Minutes ünd more", f"Subject reads {str(message.get('Subject'))!r}"
    missing = [name for name in ("Date", "Message-ID") if not str(message.get(name, "")).strip()]
    assert not missing, f"missing headers: {missing}"


@pytest.mark.points(3, hint="One connection to the host and port you are given, one message with every "
                            "recipient in its envelope: see chapter 4b, 'The envelope and Bcc'.")
def test_send_to_all(student, lab_writable, relay):
    """send_to_all() delivers to every recipient over one connection and returns {}."""
    token = uuid.uuid4().hex
    recipients = ["bob@example.test", "carol@example.test", "alice@example.test"]
    refused = student.send_to_all(*relay.address, our_message(token, recipients), "alice@example.test", recipients)
    copies = {user: len(delivered(lab_writable, user, token)) for user in ("alice", "bob", "carol")}
    assert copies == {"alice": 1, "bob": 1, "carol": 1}, f"copies delivered per mailbox: {copies}"
    assert relay.connections == 1, f"{relay.connections} SMTP connections were made, one is enough"
    assert refused == {}, f"every recipient was accepted, send_to_all() returned {refused!r}"


@pytest.mark.points(2, hint="The server refuses some RCPT TO with 550 and accepts the others: smtplib returns "
                            "the refused ones with their code (see chapter 4b, 'Refused recipients').")
def test_some_recipients_refused(student, lab_writable, relay):
    """Refused recipients are returned with their code; the others still get the message."""
    token = uuid.uuid4().hex
    recipients = ["bob@example.test", "nobody@example.test"]
    refused = student.send_to_all(*relay.address, our_message(token, recipients), "alice@example.test", recipients)
    assert isinstance(refused, dict) and set(refused) == {"nobody@example.test"}, f"returned {refused!r}"
    code = refused["nobody@example.test"][0]
    assert code == 550, f"the server answered 550 for nobody@, send_to_all() returned {refused!r}"
    assert len(delivered(lab_writable, "bob", token)) == 1, "bob did not get the message"


@pytest.mark.points(1, hint="When every RCPT TO is refused smtplib raises SMTPRecipientsRefused, whose "
                            "recipients attribute holds them all (see chapter 4b, 'Refused recipients').")
def test_all_recipients_refused(student, relay):
    """When every recipient is refused, all of them are returned, not raised."""
    recipients = ["ghost@example.test", "nobody@example.test"]
    try:
        refused = student.send_to_all(*relay.address, our_message(uuid.uuid4().hex, recipients),
                                      "alice@example.test", recipients)
    except NotImplementedError:
        raise
    except Exception as exc:
        pytest.fail(f"with every recipient refused send_to_all() raised {type(exc).__name__}: {exc}")
    assert relay.connections == 1, "send_to_all() did not connect to the server given"
    assert isinstance(refused, dict) and set(refused) == set(recipients), \
        f"when everyone is refused, return them all: returned {refused!r}"
