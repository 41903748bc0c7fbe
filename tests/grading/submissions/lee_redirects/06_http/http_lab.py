"""Lee: HTTP lab."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urljoin, urlsplit


class ApiError(Exception):
    """The server answered with an error status (4xx or 5xx). This class is given: raise it.

    status is the number (404), reason the text ("Not Found").
    """

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


def get_json(host: str, port: int, path: str, timeout: float = 10.0) -> dict:
    """GET path with http.client and return the decoded JSON body.

    http.client does not follow redirects: when the answer is 301, 302, 303,
    307 or 308, request its Location instead (on the same server; it may be
    relative), at most 5 times: a sixth redirect raises ApiError with its
    status (a server may redirect in a circle). An answer of 400 or more
    raises ApiError.
    """
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        while True:  # follow redirects until we get the real answer
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if 300 <= response.status < 400:
                path = urljoin(path, response.getheader("Location"))
                path = urlsplit(path).path or "/"
                continue
            if response.status >= 400:
                raise ApiError(response.status, response.reason)
            return json.loads(body)
    finally:
        connection.close()


def post_json(host: str, port: int, path: str, payload: dict, timeout: float = 10.0) -> dict:
    """POST payload as JSON (Content-Type: application/json) with http.client; return the JSON answer.

    An answer of 400 or more raises ApiError.
    """
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        body = json.dumps(payload).encode("utf-8")
        connection.request("POST", path, body=body,
                           headers={"Content-Type": "application/json", "Accept": "application/json"})
        response = connection.getresponse()
        data = response.read()
        if response.status >= 400:
            raise ApiError(response.status, response.reason)
        return json.loads(data)
    finally:
        connection.close()


def fetch_json(url: str, payload: dict | None = None, timeout: float = 10.0) -> tuple[str, dict]:
    """The same with urllib: GET url (or POST payload as JSON if given); return (final URL, JSON).

    urllib follows redirects by itself: the final URL is response.url.
    urllib raises urllib.error.HTTPError for error statuses: turn it into
    ApiError(status, reason).
    """
    data = None
    headers = {"Accept": "application/json"}
    if payload is not None:
        data = json.dumps(payload).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.url, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        exc.close()
        raise ApiError(exc.code, exc.reason) from None


class GreetingHandler(BaseHTTPRequestHandler):
    """A tiny JSON API of your own, for http.server.ThreadingHTTPServer.

    GET /hello?name=Ada   -> 200 {"greeting": "Hello, Ada!"}  (name defaults to "world")
    POST /reverse         with a JSON body {"text": "abc"} -> 200 {"reversed": "cba"};
                          a body that is not JSON with a "text" string -> 400 {"error": "..."}
    anything else         -> 404 {"error": "not found"}

    Every answer is JSON (Content-Type: application/json) with a Content-Length.
    """

    def do_GET(self):
        """Answer GET /hello (see the class's docstring); 404 for other paths."""
        url = urlsplit(self.path)
        if url.path != "/hello":
            return self._send_json(404, {"error": "not found"})
        name = parse_qs(url.query).get("name", ["world"])[0]
        self._send_json(200, {"greeting": f"Hello, {name}!"})

    def do_POST(self):
        """Answer POST /reverse (see the class's docstring); 404 for other paths."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if urlsplit(self.path).path != "/reverse":
            return self._send_json(404, {"error": "not found"})
        try:
            text = json.loads(body)["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            return self._send_json(400, {"error": f"expected JSON like {{\"text\": \"...\"}}: {exc}"})
        self._send_json(200, {"reversed": text[::-1]})

    def _send_json(self, status: int, document: dict) -> None:
        """Send one JSON answer (helper)."""
        body = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        """Quiet: no line on stderr per request."""
