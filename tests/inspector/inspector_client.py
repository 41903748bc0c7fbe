"""Helpers of the inspector's tests: its address and token, a raw HTTP client, a hostile message."""

from __future__ import annotations

import base64
import http.client
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

from local_servers.inspector import access

#: A message written to run script in any page that renders it: every place a value can land.
HOSTILE_SUBJECT = '<img src=x onerror="window.__pwned=1">"><script>window.__pwned=2</script>'
HOSTILE_HTML = ("<html><body><script>window.__pwned=3;alert(3)</script>"
                "<img src=x onerror=\"window.__pwned=4\"><a href=\"javascript:window.__pwned=5\">click</a>"
                "</body></html>")
HOSTILE_NAME = '"><svg onload=window.__pwned=6>.txt'


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str


class Inspector:
    """The inspector of one running server set."""

    def __init__(self, handle):
        self.handle = handle
        self.url = handle.inspector_url
        assert self.url, "the inspector does not run"
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port
        self.token = parts.query.split("token=", 1)[1]
        self.base = f"http://{self.host}:{self.port}"
        self.csrf = access.csrf_value(self.token)

    def request(self, method: str, path: str, *, auth: str | None = "token", body: bytes | None = None,
                headers: dict | None = None) -> Reply:
        """auth: "token" (Bearer), None, or "user:password" (Basic)."""
        sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if auth == "token":
            sent["Authorization"] = f"Bearer {self.token}"
        elif auth:
            sent["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        if body is not None:
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=sent)
            reply = connection.getresponse()
            return Reply(reply.status, reply.headers, reply.read().decode("utf-8", "replace"))
        finally:
            connection.close()

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: str, **kwargs) -> Reply:
        return self.request("POST", path, body=form.encode(), **kwargs)

    def wait_back(self, old_pid: int, timeout: float = 60) -> int:
        """After a reset: wait until a new server process answers; its pid."""
        import json

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = self.get("/ping")
                if reply.status == 200 and json.loads(reply.text)["pid"] != old_pid:
                    return json.loads(reply.text)["pid"]
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the servers did not come back within {timeout} s")


def send_hostile(handle, to: str = "alice@example.test") -> str:
    """Send the hostile message with smtplib (as a student would); its Subject as the page should show it."""
    msg = EmailMessage()
    msg["From"] = '"<b>Mallory</b>" <mallory@example.test>'
    msg["To"] = to
    msg["Subject"] = HOSTILE_SUBJECT
    msg.set_content("Plain part: <script>window.__pwned=7</script>\n")
    msg.add_alternative(HOSTILE_HTML, subtype="html")
    msg.add_attachment(b"data", maintype="application", subtype="octet-stream", filename=HOSTILE_NAME)
    with smtplib.SMTP(*handle.smtp.address, timeout=30) as smtp:
        smtp.send_message(msg)
    return HOSTILE_SUBJECT
