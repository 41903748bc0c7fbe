"""Lab 4, SMTP: one message, text and HTML, with an attachment, to several people at once.

Build the message with email.message.EmailMessage (or with the classic
email.mime classes, MIMEMultipart and friends: chapter 4 teaches both, and
both are graded the same), send it with smtplib.
The SMTP server's address is a parameter; the grader's server delivers into
its own mailboxes, so nothing ever leaves your machine.
"""

from __future__ import annotations

import mimetypes
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path


def build_message(sender: str, recipients: list[str], subject: str, text: str, html: str,
                  attachment: str) -> EmailMessage:
    """A message whose body is multipart/alternative (text, then HTML) with a file attached.

    The structure is multipart/mixed: [multipart/alternative: [text/plain,
    text/html], the attachment]. Guess the attachment's type from its name
    (mimetypes; application/octet-stream when unknown) and keep its file
    name. Set From, To (all recipients), Subject, Date and Message-ID.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    path = Path(attachment)
    kind, _ = mimetypes.guess_type(path.name)
    maintype, _, subtype = (kind or "application/octet-stream").partition("/")
    message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


def send_to_all(host: str, port: int, message: EmailMessage, sender: str, recipients: list[str],
                timeout: float = 10.0) -> dict[str, tuple[int, bytes]]:
    """Send message to every recipient over ONE SMTP connection; return the refused ones.

    The result maps each refused address to (code, server message), like
    smtplib's sendmail(); {} when every recipient was accepted. When all of
    them are refused, return them all rather than raising.
    """
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        try:
            return dict(smtp.send_message(message, from_addr=sender, to_addrs=recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            return dict(exc.recipients)
