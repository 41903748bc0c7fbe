"""SMTP lab, Nia: with the classic email.mime classes, as in the chapter's classic code."""

import mimetypes
import os
import smtplib
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email import encoders
from email.header import Header
from email.utils import formatdate, make_msgid


def build_message(sender, recipients, subject, text, html, attachment):
    msg = MIMEMultipart("mixed")
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = Header(subject, "utf-8")
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid()

    body = MIMEMultipart("alternative")
    body.attach(MIMEText(text, "plain", "utf-8"))
    body.attach(MIMEText(html, "html", "utf-8"))
    msg.attach(body)

    ctype, _ = mimetypes.guess_type(attachment)
    if ctype is None:
        ctype = "application/octet-stream"
    maintype, subtype = ctype.split("/", 1)
    with open(attachment, "rb") as f:
        data = f.read()
    if maintype == "application":
        part = MIMEApplication(data, _subtype=subtype)
    else:
        part = MIMEBase(maintype, subtype)
        part.set_payload(data)
        encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=os.path.basename(attachment))
    msg.attach(part)
    return msg


def send_to_all(host, port, message, sender, recipients, timeout=10.0):
    server = smtplib.SMTP(host, port, timeout=timeout)
    try:
        return server.sendmail(sender, recipients, message.as_string())
    except smtplib.SMTPRecipientsRefused as e:
        return e.recipients
    finally:
        server.quit()
