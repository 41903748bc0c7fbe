"""Lab 6, HTTP: a small JSON API client, twice (http.client, urllib), and a server handler.

The client functions talk to an httpbin-style API (GET /get, POST /post,
/status/<code>, /redirect/<n>) whose address is a parameter. The handler is
served by http.server; the grader starts it on a free port.
"""

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
    raise NotImplementedError("TODO: write get_json()")


def post_json(host: str, port: int, path: str, payload: dict, timeout: float = 10.0) -> dict:
    """POST payload as JSON (Content-Type: application/json) with http.client; return the JSON answer.

    An answer of 400 or more raises ApiError.
    """
    raise NotImplementedError("TODO: write post_json()")


def fetch_json(url: str, payload: dict | None = None, timeout: float = 10.0) -> tuple[str, dict]:
    """The same with urllib: GET url (or POST payload as JSON if given); return (final URL, JSON).

    urllib follows redirects by itself: the final URL is response.url.
    urllib raises urllib.error.HTTPError for error statuses: turn it into
    ApiError(status, reason).
    """
    raise NotImplementedError("TODO: write fetch_json()")


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
        raise NotImplementedError("TODO: write GreetingHandler.do_GET()")

    def do_POST(self):
        """Answer POST /reverse (see the class's docstring); 404 for other paths."""
        raise NotImplementedError("TODO: write GreetingHandler.do_POST()")

    def log_message(self, format, *args):
        """Quiet: no line on stderr per request."""
