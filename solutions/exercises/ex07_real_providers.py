"""Solutions to the exercises of notebooks/07_real_providers.ipynb (the appendix: real providers)."""

from __future__ import annotations

import imaplib
import json
import smtplib
import ssl
import urllib.parse
import urllib.request
from email.message import EmailMessage


def send_with_app_password(host: str, port: int, ca_file: str, address: str, app_password: str,
                           msg: EmailMessage, timeout: float = 10.0) -> dict:
    """Exercise 1: send msg over SMTPS (the provider's port 465), logged in with an app password.

    Returns send_message()'s dict of refused recipients; a refused login
    raises smtplib.SMTPAuthenticationError, as smtplib reports it.
    """
    context = ssl.create_default_context(cafile=ca_file)
    with smtplib.SMTP_SSL(host, port, context=context, timeout=timeout) as client:
        client.login(address, app_password)  # the app password, with or without its spaces
        return client.send_message(msg)


def access_token(oauth_client: dict, timeout: float = 10.0) -> str:
    """Exercise 2, first half: trade the refresh token for an access token at the token endpoint."""
    form = {"grant_type": "refresh_token", "refresh_token": oauth_client["refresh_token"],
            "client_id": oauth_client["client_id"], "client_secret": oauth_client["client_secret"]}
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(oauth_client["token_url"], data=data, timeout=timeout) as reply:
        return json.load(reply)["access_token"]


def inbox_size_xoauth2(host: str, port: int, ca_file: str, address: str, oauth_client: dict,
                       timeout: float = 10.0) -> int:
    """Exercise 2: log in to IMAPS with XOAUTH2 (a fresh access token); how many messages INBOX holds."""
    token = access_token(oauth_client, timeout)
    sasl = f"user={address}\x01auth=Bearer {token}\x01\x01"
    context = ssl.create_default_context(cafile=ca_file)
    with imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout) as imap:
        imap.authenticate("XOAUTH2", lambda challenge: sasl)  # imaplib base64-encodes what this returns
        typ, data = imap.select("INBOX", readonly=True)
        return int(data[0])


def inbox_size_with_id(host: str, port: int, ca_file: str, user: str, password: str,
                       timeout: float = 10.0) -> int:
    """Exercise 3: log in to IMAPS, say who the client is with ID (RFC 2971), then SELECT INBOX.

    163 refuses SELECT until the client has sent ID; other servers do not
    mind it. Returns how many messages INBOX holds; changes no flag.
    """
    context = ssl.create_default_context(cafile=ca_file)
    with imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout) as imap:
        imap.login(user, password)
        imap.xatom("ID", '("name" "course-client" "version" "1.0")')  # imaplib has no id() method
        typ, data = imap.select("INBOX", readonly=True)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SELECT refused: {data[0]!r}")
        return int(data[0])


if __name__ == "__main__":
    import local_servers

    servers = local_servers.ensure_running().profile("gmail")
    try:
        note = EmailMessage()
        note["From"], note["To"], note["Subject"] = "alice@example.test", "bob@example.test", "app password"
        note.set_content("Sent with an app password.\n")
        print(send_with_app_password(servers.smtp.host, servers.smtp.tls_ports["smtps"], servers.ca_file,
                                     "alice@example.test", servers.app_password("alice"), note))
        servers = servers.profile("outlook")
        print(inbox_size_xoauth2(servers.imap.host, servers.imap.tls_ports["imaps"], servers.ca_file,
                                 "alice@example.test", servers.oauth_client("alice")))
        servers = servers.profile("163")
        print(inbox_size_with_id(servers.imap.host, servers.imap.tls_ports["imaps"], servers.ca_file, "alice",
                                 servers.app_password("alice")))
    finally:
        servers.profile(None)
