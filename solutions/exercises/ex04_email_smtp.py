"""Solutions to the exercises of notebooks/04_email_smtp.ipynb."""

from __future__ import annotations

import ast
import contextlib
import io
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import format_datetime, localtime, make_msgid


def smtp_commands(host: str, port: int, msg: EmailMessage, timeout: float = 10.0) -> list[str]:
    """Exercise 1: send msg with send_message(); return the commands smtplib sent, as upper-case words."""
    debug_output = io.StringIO()
    with contextlib.redirect_stderr(debug_output):  # smtplib's debug lines go to sys.stderr
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            client.set_debuglevel(1)
            client.send_message(msg)
    commands = []
    for line in debug_output.getvalue().splitlines():
        # a command is a str ("send: 'ehlo ...\r\n'"), the message itself is bytes ("send: b'...'")
        if line.startswith("send: '"):
            commands.append(ast.literal_eval(line[len("send: "):]).split()[0].upper())
    return commands


def newsletter(sender: str, recipients: list[str], subject: str, text: str, html: str,
               images: dict[str, bytes]) -> EmailMessage:
    """Exercise 2: text and HTML, the HTML with inline PNG images that it names as cid:<name>.

    The tree is multipart/alternative: [text/plain, multipart/related: [text/html, image/png, ...]].
    """
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(localtime())
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]
    for name, data in images.items():
        # add_related turns the HTML part into multipart/related; cid= sets the Content-ID header
        html_part.add_related(data, "image", "png", cid=f"<{name}>", filename=f"{name}.png")
    return msg


def send_all(host: str, smtps_port: int, ca_file: str, user: str, password: str,
             messages: list[EmailMessage], timeout: float = 10.0) -> list[dict]:
    """Exercise 3: send every message over ONE SMTPS connection; one dict of refused recipients per message."""
    context = ssl.create_default_context(cafile=ca_file)  # verifies the certificate and the host name
    results = []
    with smtplib.SMTP_SSL(host, smtps_port, context=context, timeout=timeout) as client:
        client.login(user, password)
        for msg in messages:
            try:
                results.append(client.send_message(msg))
            except smtplib.SMTPRecipientsRefused as exc:  # all refused: smtplib has sent RSET already
                results.append(exc.recipients)
    return results


def send_with_retry(host: str, port: int, msg: EmailMessage, attempts: int = 4, first_wait: float = 0.2,
                    timeout: float = 10.0) -> int:
    """Exercise 4: send msg; after a 4xx refusal wait and try again, waiting twice as long each time.

    Returns the number of the attempt that went through. A 5xx refusal is
    raised at once (no second attempt); a 4xx on the last attempt is raised too.
    """
    wait = first_wait
    for attempt in range(1, attempts + 1):
        try:
            with smtplib.SMTP(host, port, timeout=timeout) as client:
                client.send_message(msg)
            return attempt
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused: one (code, text) each
            codes = [code for code, _ in exc.recipients.values()]
            if any(code >= 500 for code in codes) or attempt == attempts:
                raise
        except smtplib.SMTPResponseException as exc:  # MAIL or DATA refused: SMTPSenderRefused, SMTPDataError
            if exc.smtp_code >= 500 or attempt == attempts:
                raise
        time.sleep(wait)
        wait *= 2
    raise ValueError("attempts must be at least 1")


def client_commands(transcript: str) -> list[str]:
    """Exercise 5: the commands a client sent, as upper-case words, from the plain text of an SMTP transcript.

    transcript is what print(servers.transcripts("smtp", last=1)) shows.
    Only commands count: not the message after DATA (the step after a 354
    reply), not the answers to an AUTH challenge (the steps after a 334).
    """
    commands = []
    last_reply = ""
    for line in transcript.splitlines():
        # "tls C: ..." or "    C: ...": 4 columns for the TLS mark, then who; other lines are the
        # title or continuation lines of a multi-line step (indented further)
        who, text = line[4:5], line[7:]
        if line[:4] not in ("tls ", "    ") or line[5:7] != ": ":
            continue
        if who == "S":
            last_reply = text[:3]
        elif who == "C":
            if last_reply not in ("354", "334"):  # after 354 comes the message, after 334 an AUTH answer
                commands.append(text.split(" ", 1)[0].upper())
            last_reply = ""
    return commands


if __name__ == "__main__":
    import local_servers

    servers = local_servers.ensure_running()
    smtp = servers.smtp

    note = EmailMessage()
    note["From"] = "alice@example.test"
    note["To"] = "bob@example.test, carol@example.test"
    note["Cc"] = "alice@example.test"
    note["Bcc"] = "carol@example.test"
    note["Subject"] = "[ch04] How many RCPT?"
    note.set_content("Counting.\n")
    print(smtp_commands(smtp.host, smtp.port, note))

    picture = bytes.fromhex("89504e470d0a1a0a")  # a stand-in; any PNG bytes will do
    letter = newsletter("alice@example.test", ["bob@example.test"], "[ch04] Newsletter", "See the HTML.\n",
                        '<p>Our logo: <img src="cid:logo"></p>\n', {"logo": picture})
    letter["Bcc"] = "alice@example.test"
    print(send_all(smtp.host, smtp.tls_ports["smtps"], servers.ca_file, "alice", "alice-pw", [letter]))

    with servers.faults("smtp", "reply", code=451, stage="RCPT", count=2):
        print("sent at attempt", send_with_retry(smtp.host, smtp.port, note))
    print(client_commands(str(servers.transcripts("smtp", last=1))))
