"""The web chapter's server: httpbin-style endpoints and a small static site.

The course's HTTP examples talk to httpbin (GET /get, POST JSON to /post,
/status/404, /basic-auth/...). This server answers those requests with
the same JSON shapes, on the standard library alone, so that it starts in a
few milliseconds and a student can read how an HTTP server works:

1. http.server reads the request line and the headers (and answers 400,
   414, 431 or 501 for bad ones) and calls do_<METHOD>;
2. every do_<METHOD> is Handler.dispatch, which reads the body (a
   Content-Length or chunked one), then finds the path in the ROUTES table;
3. each route is one method, route_<name>, that builds the reply (a
   reply made of parts of the request is a row of ECHOES instead, a
   document that never changes a row of DOCUMENTS).
   Replies carry a Content-Length, so one connection serves request after
   request (HTTP/1.1 keep-alive); /stream sends a chunked body instead.

Files under the data folder's site/ are served at /site/. The same server
runs twice, plain on the "http" listener and with TLS on "https"; each
connection gets a thread of its own, which does the TLS handshake too, so a
slow or silent client holds up nobody else.

What a hostile client meets (RFC 9112): 400 and the end of the connection
for a body whose length is ambiguous, the door to "request smuggling"
(Handler.body_length); 408 and the end for a request head that trickles in
("slowloris", HeadClock); 503 for one connection too many (Server.refuse).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
import os
import random
import re
import shutil
import socket
import ssl
import sys
import threading
import time
import zlib
from email.utils import formatdate, parsedate_to_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..limits import OPTIONS, ConnectionLimit
from ..files import png
from ..service import Option, Service, listen
from ..wire import fault_hooks
from ..wire.transcripts import HTTPMasker, open_transcript

#: Limits, as httpbin has them, so that no request can make the server do much.
MAX_BODY = 10 * 1024 * 1024  # larger request bodies get 413
MAX_DELAY = 10.0  # seconds, for /delay/N
MAX_BYTES = 100 * 1024  # for /bytes/N
MAX_STREAM = 100  # lines, for /stream/N
#: A chunk-size line: 1 to 16 hex digits (no sign, no "0x"; more are refused, not parsed), maybe extensions.
CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")

#: Content-Type by file extension for the static site: a fixed table, not mimetypes (its answers vary by machine).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".json": "application/json", ".xml": "application/xml",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".ico": "image/x-icon",
    ".svg": "image/svg+xml",
}

#: Control characters as \\xNN, for logging what clients sent.
CONTROL_CHARACTERS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}

ANY = None  # a route that answers every method
GET = ("GET",)
GET_POST = ("GET", "POST")
BODY = ("args", "data", "files", "form", "headers", "json")
#: The routes that answer with parts of the request: name -> (what the index page says, the parts).
ECHOES = {
    "get": ("The query arguments, headers, origin and URL of the request, as JSON.",
            ("args", "headers", "origin", "url")),
    "body": ("The request and its body: data, files, form and json, as JSON.", (*BODY, "origin", "url")),
    "anything": ("Everything about the request, whatever its method.", (*BODY, "method", "origin", "url")),
    "headers": ("The request headers.", ("headers",)),
    "ip": ("The client's address.", ("origin",)),
    "user_agent": ("The User-Agent header.", ("user-agent",)),
    "cookies": ("The cookies the client sent.", ("cookies",)),
}


class BodyError(Exception):
    """The request body cannot be read: reply with this status and close."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


class HeadClock(io.RawIOBase):
    """The connection's bytes, read with a deadline for each request head.

    http.server reads through a buffered file; this is the raw layer under
    it. Between requests a read may wait the idle timeout; once the first
    byte of a request arrived, the rest of its head must arrive within the
    head timeout, however the client spaces its bytes.
    """

    def __init__(self, sock: socket.socket, idle_timeout: float, head_timeout: float):
        super().__init__()
        self.sock, self.idle_timeout, self.head_timeout = sock, idle_timeout, head_timeout
        self.in_head = self.head_started = self.timed_out = False
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def start_head(self) -> None:
        self.in_head, self.head_started, self.timed_out, self.deadline = True, False, False, None

    def end_head(self) -> None:
        self.in_head, self.deadline = False, None
        self.sock.settimeout(self.idle_timeout)

    def readinto(self, buffer) -> int:
        try:
            if self.deadline is not None:
                if (remaining := self.deadline - time.monotonic()) <= 0:
                    raise TimeoutError("request head too slow")
                self.sock.settimeout(min(remaining, self.idle_timeout))
            count = self.sock.recv_into(buffer)
        except TimeoutError:
            self.timed_out = True
            raise
        if self.in_head and count and self.deadline is None:
            self.head_started = True
            self.deadline = time.monotonic() + self.head_timeout
        return count


CONTENT_LENGTH = re.compile(rb"\r\nContent-Length: *(\d+)\r\n", re.IGNORECASE)


class CountingWriter:
    """The connection's writer, counting what is written (for the transcript's "[body: N bytes]")."""

    def __init__(self, writer):
        self.writer, self.sent = writer, 0

    def write(self, data) -> int:
        self.sent += len(data)
        return self.writer.write(data)

    def __getattr__(self, name):
        return getattr(self.writer, name)


class Handler(BaseHTTPRequestHandler):
    """One connection: http.server parses each request, dispatch() answers it."""

    protocol_version = "HTTP/1.1"  # keep-alive: every reply says how long it is
    server_version = "course-http/1.0"
    default_request_version = "HTTP/1.0"  # garbage gets its 400 in HTTP/1.0, not in 0.9 (which has no status line)
    disable_nagle_algorithm = True  # headers and body leave at once, no delayed-ACK stall

    #: (path pattern, methods or ANY, route method name, example for the index page).
    #: The first pattern that matches the whole (decoded) path wins.
    ROUTES = [
        (r"/", GET, "index", "/"),
        (r"/get", GET, "get", "/get?course=python"),
        (r"/post", ("POST",), "body", None),
        (r"/put", ("PUT",), "body", None),
        (r"/patch", ("PATCH",), "body", None),
        (r"/delete", ("DELETE",), "body", None),
        (r"/anything(?:/.*)?", ANY, "anything", "/anything/whatever"),
        (r"/headers", GET, "headers", "/headers"),
        (r"/ip", GET, "ip", "/ip"),
        (r"/user-agent", GET, "user_agent", "/user-agent"),
        (r"/status/([0-9]{1,9})", ANY, "status", "/status/418"),
        (r"/redirect/([0-9]{1,9})", GET, "redirect", "/redirect/3"),
        (r"/relative-redirect/([0-9]{1,9})", GET, "relative_redirect", "/relative-redirect/3"),
        (r"/absolute-redirect/([0-9]{1,9})", GET, "absolute_redirect", "/absolute-redirect/3"),
        (r"/redirect-to", ANY, "redirect_to", "/redirect-to?url=/get&status_code=307"),
        (r"/cookies", GET, "cookies", "/cookies"),
        (r"/cookies/set", GET, "cookies_set", "/cookies/set?flavour=oatmeal"),
        (r"/cookies/set/([^/]+)/([^/]*)", GET, "cookies_set_one", "/cookies/set/flavour/ginger"),
        (r"/cookies/delete", GET, "cookies_delete", "/cookies/delete?flavour"),
        (r"/basic-auth/([^/]+)/([^/]+)", GET, "basic_auth", "/basic-auth/alice/alice-pw"),
        (r"/bearer", GET, "bearer", None),
        (r"/delay/([0-9]{1,9}(?:\.[0-9]{1,9})?)", ANY, "delay", "/delay/1"),
        (r"/bytes/([0-9]{1,9})", GET, "bytes", "/bytes/16?seed=42"),
        (r"/stream/([0-9]{1,9})", GET, "stream", "/stream/3"),
        (r"/response-headers", GET_POST, "response_headers", "/response-headers?X-Course=python"),
        (r"/base64/(.*)", GET, "base64", "/base64/SGVsbG8sIHdvcmxkIQ=="),
        (r"/json", GET, "json", "/json"),
        (r"/html", GET, "html", "/html"),
        (r"/xml", GET, "xml", "/xml"),
        (r"/uuid", GET, "uuid", "/uuid"),
        (r"/gzip", GET, "gzip", "/gzip"),
        (r"/deflate", GET, "deflate", "/deflate"),
        (r"/encoding/utf8", GET, "utf8", "/encoding/utf8"),
        (r"/robots.txt", GET, "robots", "/robots.txt"),
        (r"/deny", GET, "deny", "/deny"),
        (r"/site(/.*)?", GET, "site", "/site/"),
        (r"/oauth2/token", ("POST",), "oauth_token", None),  # provider profiles' OAuth2 (wire/oauth.py)
    ]

    # ------------------------------------------------------------------
    # The request cycle

    def setup(self) -> None:
        self.timeout = self.server.service.option("idle_timeout")  # StreamRequestHandler applies it to the socket
        super().setup()
        self.watch_streams()

    def watch_streams(self) -> None:
        """Reading through the head clock (408 to a slow head); the transcript, and writing counted for it."""
        self.rfile.close()
        self.clock = HeadClock(self.connection, self.timeout, self.server.service.option("head_timeout"))
        self.rfile = io.BufferedReader(self.clock)
        self.transcript = open_transcript(self.server.service, self.client_address, self.server.ssl_context is not None,
                                          HTTPMasker())
        self.wfile = CountingWriter(self.wfile)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.transcript.close()

    def handle_one_request(self) -> None:
        """One request; a head that started but did not arrive in time gets 408 and the end."""
        self.clock.start_head()
        super().handle_one_request()  # on a timeout it logs, sets close_connection and returns
        if self.clock.timed_out and self.clock.in_head and self.clock.head_started:
            self.send_bare(408, "Request Timeout")
        if self.wfile.sent and getattr(self, "counting", True):  # the transcript tells a body's size, never its bytes
            self.transcript.summary("S", f"[body: {self.wfile.sent} bytes]", self.wfile.sent)
            self.wfile.sent = 0

    def parse_request(self) -> bool:
        ok = super().parse_request()  # the request line and headers are read (or refused) now
        self.clock.end_head()
        headers = getattr(self, "headers", None) if ok else None  # HOOK: the request's head in
        self.transcript.client(self.raw_requestline + b"".join(
            f"{name}: {value}\r\n".encode("utf-8", "replace") for name, value in (headers or {}).items()))
        return ok

    def flush_headers(self) -> None:
        """HOOK: the status line and headers out (the body is counted by CountingWriter)."""
        head = b"".join(getattr(self, "_headers_buffer", None) or ())
        length = CONTENT_LENGTH.search(head) if head and self.command != "HEAD" else None
        if head:
            self.transcript.server(head, flush=length is None)
        if length is not None and int(length.group(1)):  # told before it is sent: the client reads all at once
            self.transcript.summary("S", f"[body: {int(length.group(1))} bytes]", int(length.group(1)))
            self.transcript.flush()
        super().flush_headers()
        self.wfile.sent = 0
        self.counting = length is None  # a body of unknown length is counted as it goes (and told after)

    def send_bare(self, status: int, reason: str) -> None:
        """A reply to a request that was never read whole: status, no body, and the connection ends."""
        self.close_connection = True
        self.transcript.server(f"HTTP/1.1 {status} {reason}")
        with contextlib.suppress(OSError):
            self.wfile.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                             .encode("ascii"))

    def dispatch(self) -> None:
        """Read the body, find the route, call it."""
        if self.path.startswith(("http://", "https://")):  # absolute form, as sent to a proxy
            parts = urlsplit(self.path)
            raw_path, self.query = parts.path or "/", parts.query
        else:
            raw_path, _, self.query = self.path.partition("?")
        self.args = multidict(parse_qsl(self.query, keep_blank_values=True))
        try:
            self.body = self.read_body()
            if self.body:
                self.transcript.summary("C", f"[body: {len(self.body)} bytes]", len(self.body))
        except BodyError as exc:
            self.refuse_body(exc)
            return
        path = unquote(raw_path)
        for pattern, methods, name, _ in self.ROUTES:
            if (match := re.fullmatch(pattern, path)) is None:  # re caches each pattern after its first use
                continue
            allowed = allowed_methods(methods)
            if self.command == "OPTIONS":
                self.reply(200, b"", None, [("Allow", ", ".join(allowed))])
            elif self.command not in allowed:
                self.reply_error(405, "Method Not Allowed", [("Allow", ", ".join(allowed))])
            else:
                self.call_route(name, match.groups())
            return
        self.reply_error(404, "Not Found")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = dispatch  # other methods: 501

    def call_route(self, name: str, arguments: tuple) -> None:
        """Run one route; a bug in it costs this request a 500, never the server."""
        self.response_started = False
        try:
            if name in DOCUMENTS:  # always the same document: no method of its own
                self.reply(200, DOCUMENTS[name][2], DOCUMENTS[name][1])
            elif name in ECHOES:  # parts of the request, as JSON
                self.reply_json(self.request_dict(*ECHOES[name][1]))
            else:
                getattr(self, "route_" + name)(*arguments)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            raise  # the client went away: nobody to answer
        except Exception:
            self.server.log.exception("route %s failed on %r", name, self.requestline)
            self.close_connection = True
            if not self.response_started:
                self.reply_error(500, "Internal Server Error", [("Connection", "close")])

    def send_response(self, code: int, message: str | None = None) -> None:
        self.response_started = True
        super().send_response(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        # A CR or LF from the request (a folded Host or Origin header) must never start a new header line.
        super().send_header(keyword, str(value).replace("\r", " ").replace("\n", " "))

    def handle_expect_100(self) -> bool:
        """Refuse a bad or oversized body before the client sends it (Expect: 100-continue)."""
        try:
            self.body_length()
        except BodyError as exc:
            self.refuse_body(exc)
            return False
        return super().handle_expect_100()

    def refuse_body(self, error: BodyError) -> None:
        self.close_connection = True  # the rest of the stream cannot be trusted
        self.reply_error(error.status, str(error), [("Connection", "close")])

    def body_length(self) -> int | None:
        """The body's length from the headers, None for a chunked body; BodyError when it is ambiguous.

        RFC 9112 §6.3: with Transfer-Encoding and Content-Length together, a
        Transfer-Encoding whose last coding is not chunked, or Content-Lengths
        that disagree, the body's end is unknown and the server must answer
        400 and close. Only the exact, single "chunked" is accepted: a
        variant ("chunked " with a space, "xchunked", a repeated header) is
        read one way here and maybe another by a proxy in front.
        """
        if self.headers.get_payload():  # a header line without "name:" (a space before the colon, ...)
            raise BodyError(400, "Malformed header line")
        codings = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if codings:
            if lengths:
                raise BodyError(400, "Both Transfer-Encoding and Content-Length")
            if len(codings) != 1 or codings[0].lower() != "chunked":
                raise BodyError(400, "Unsupported Transfer-Encoding")
            return None
        values = {value.strip() for header in lengths for value in header.split(",")}
        if not values:
            return 0
        value = values.pop()
        if values or not (value.isascii() and value.isdigit()):  # two different lengths, or not a number
            raise BodyError(400, "Bad Content-Length")
        size = int(value)
        if size > MAX_BODY:
            raise BodyError(413, "Request body too large")
        return size

    def read_body(self) -> bytes:
        """The request body: Content-Length bytes, or chunks until a zero-size one."""
        if (size := self.body_length()) is None:
            return self.read_chunked()
        body = self.rfile.read(size)
        if len(body) < size:
            raise BodyError(400, "Incomplete request body")
        return body

    def read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            match = CHUNK_SIZE_LINE.fullmatch(self.rfile.readline(1024))
            if match is None:  # "-1", "0x10", not hex, too long, no line end
                raise BodyError(400, "Bad chunk size")
            size = int(match.group(1), 16)
            if size == 0:
                break
            if len(body) + size > MAX_BODY:
                raise BodyError(413, "Request body too large")
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BodyError(400, "Bad chunk")
            body += chunk
        for _ in range(100):  # trailer fields, which nobody needs: skip to the empty line
            if self.rfile.readline(65537) in (b"\r\n", b"\n", b""):
                return bytes(body)
        raise BodyError(400, "Too many trailer fields")

    def reply(self, status: int, body: bytes | str = b"", content_type: str | None = "application/json",
              headers: list[tuple[str, str]] = ()) -> None:
        """Send one complete response: status line, headers, body."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if status not in (204, 304):  # these two never have a body (RFC 9110)
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
        self.send_header("Access-Control-Allow-Credentials", "true")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def reply_json(self, data, status: int = 200, headers: list[tuple[str, str]] = ()) -> None:
        self.reply(status, json.dumps(data, indent=2, ensure_ascii=False) + "\n", "application/json", headers)

    def reply_error(self, status: int, message: str, headers: list[tuple[str, str]] = ()) -> None:
        """A short HTML error page; unlike send_error it keeps the connection open."""
        page = f"<!DOCTYPE html>\n<title>{status} {message}</title>\n<h1>{status} {message}</h1>\n"
        self.reply(status, page, "text/html; charset=utf-8", headers)

    def redirect(self, location: str, status: int = 302, headers: list[tuple[str, str]] = ()) -> None:
        self.reply(status, b"", "text/html; charset=utf-8", [("Location", location), *headers])

    def version_string(self) -> str:
        return self.server_version  # the Server header, without Python's version

    def log_message(self, format: str, *args) -> None:
        # To the log file, not stderr; control characters escaped, so that no client writes escape codes there.
        self.server.log.info("%s %s", self.address_string(), (format % args).translate(CONTROL_CHARACTERS))

    # ------------------------------------------------------------------
    # What the request looked like, in httpbin's words

    def headers_dict(self) -> dict:
        """The request headers with httpbin's Title-Case names; repeated ones joined by commas."""
        result: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.title()
            result[key] = f"{result[key]},{value}" if key in result else value
        return result

    def base_url(self) -> str:
        if not (host := self.headers.get("Host")):
            address, port = self.server.server_address[:2]
            host = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        return f"{self.server.scheme}://{host}"

    def url(self) -> str:
        return self.path if self.path.startswith(("http://", "https://")) else self.base_url() + self.path

    def request_dict(self, *keys: str) -> dict:
        """The parts of the request that httpbin answers with (args, data, headers, ...), in the order asked."""
        everything = {"args": self.args, "headers": self.headers_dict(), "origin": self.client_address[0],
                      "url": self.url(), "method": self.command, "user-agent": self.headers.get("User-Agent"),
                      "cookies": self.cookies()}
        if {"data", "files", "form", "json"} & set(keys):
            everything.update(self.body_fields())
        return {key: everything[key] for key in keys}

    def body_fields(self) -> dict:
        """data, files, form and json, the way httpbin reads a body."""
        content_type = self.headers.get_content_type()
        form, files, data = {}, {}, ""
        if content_type == "application/x-www-form-urlencoded":
            form = multidict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        elif content_type == "multipart/form-data":
            form, files = parse_multipart(self.headers["Content-Type"], self.body)
        else:
            data = text_or_data_url(self.body)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return {"data": data, "files": files, "form": form, "json": parsed}

    # ------------------------------------------------------------------
    # The routes of neither ECHOES nor DOCUMENTS: one method each

    def route_index(self) -> None:
        """This page: every endpoint, with an example."""
        rows = []
        for pattern, methods, name, example in self.ROUTES:
            fixed = DOCUMENTS.get(name) or ECHOES.get(name)  # a table's row, or the route method's docstring
            doc = fixed[0] if fixed else getattr(Handler, "route_" + name).__doc__
            link = f'<a href="{example}">{escape(example, quote=False)}</a>' if example else ""
            verbs = "any" if methods is ANY else ", ".join(methods)
            rows.append(f"<tr><td><code>{escape(pattern, quote=False)}</code></td><td>{verbs}</td>"
                        f"<td>{escape(doc.splitlines()[0], quote=False)}</td><td>{link}</td></tr>")
        self.reply(200, INDEX_PAGE.replace("{rows}", "\n".join(rows)), "text/html; charset=utf-8")

    def route_status(self, code: str) -> None:
        """A reply with this status code (redirects point to /redirect/1, 401 asks for a password)."""
        status = int(code)
        if not 200 <= status <= 599:
            self.reply_error(400, "Invalid status code")
        elif status in (301, 302, 303, 305, 307, 308):
            self.redirect("/redirect/1", status)
        elif status in (401, 407):
            header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
            self.reply(status, b"", None, [(header, 'Basic realm="Fake Realm"')])
        elif status == 418:
            self.reply(418, "I'm a teapot: I cannot brew coffee (RFC 2324).\n", "text/plain; charset=utf-8")
        else:
            self.reply(status, b"", "text/html; charset=utf-8")

    def route_redirect(self, n: str, kind: str = "") -> None:
        """Redirect N times (relative Locations; ?absolute=true for absolute ones), then /get."""
        kind = kind or ("absolute" if str(self.args.get("absolute", "")).lower() == "true" else "relative")
        if int(n) < 1:
            self.reply_error(400, "The number of redirects must be at least 1")
            return
        prefix = self.base_url() if kind == "absolute" else ""
        self.redirect(prefix + (f"/{kind}-redirect/{int(n) - 1}" if int(n) > 1 else "/get"))

    def route_relative_redirect(self, n: str) -> None:
        """Redirect N times with relative Locations, then /get."""
        self.route_redirect(n, "relative")

    def route_absolute_redirect(self, n: str) -> None:
        """Redirect N times with absolute Locations, then /get."""
        self.route_redirect(n, "absolute")

    def route_redirect_to(self) -> None:
        """Redirect to ?url= with ?status_code= (a 3xx; 302 by default)."""
        url = self.args.get("url")
        if not isinstance(url, str) or not url:
            self.reply_error(400, "Missing url argument")
            return
        code = self.args.get("status_code", "302")
        status = int(code) if isinstance(code, str) and code.isdigit() and 300 <= int(code) < 400 else 302
        self.redirect(quote(url, safe=":/?#[]@!$&'()*+,;=%~"), status)  # quoting also stops header injection

    def route_cookies_set(self) -> None:
        """Set each query argument as a cookie, then redirect to /cookies."""
        self.set_cookies(parse_qsl(self.query, keep_blank_values=True))

    def route_cookies_set_one(self, name: str, value: str) -> None:
        """Set one cookie, then redirect to /cookies."""
        self.set_cookies([(name, value)])

    def route_cookies_delete(self) -> None:
        """Expire each cookie named in the query, then redirect to /cookies."""
        self.set_cookies(parse_qsl(self.query, keep_blank_values=True), expire=True)

    def set_cookies(self, pairs, expire: bool = False) -> None:
        """Set-Cookie for each pair whose name is a token (the value %-escaped where a cookie cannot hold it)."""
        safe = "!#$%&'()*+-./:<=>?@[]^_`{|}~"  # what a cookie value may hold as it is
        expired = "; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"
        self.redirect("/cookies", headers=[
            ("Set-Cookie", f"{name}={expired}" if expire else f"{name}={quote(value, safe=safe)}; Path=/")
            for name, value in pairs if is_token(name)])

    def cookies(self) -> dict:
        pairs = (pair.strip().partition("=") for header in self.headers.get_all("Cookie", [])
                 for pair in header.split(";"))
        return {name: value for name, sep, value in pairs if sep and name}

    def route_basic_auth(self, user: str, password: str) -> None:
        """200 if the request carries Basic credentials user:password, else 401 asking for them."""
        if basic_credentials(self.headers.get("Authorization", "")) == (user, password):
            self.reply_json({"authenticated": True, "user": user})
        else:
            self.reply(401, b"", None, [("WWW-Authenticate", 'Basic realm="Fake Realm"')])

    def route_bearer(self) -> None:
        """200 if the request carries an Authorization: Bearer token, else 401."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            self.reply_json({"authenticated": True, "token": token.strip()})
        else:
            self.reply(401, b"", None, [("WWW-Authenticate", "Bearer")])

    def route_delay(self, seconds: str) -> None:
        """Wait N seconds (at most 10), then answer like /anything."""
        self.server.stopping.wait(min(float(seconds), MAX_DELAY))  # cut short when the server stops
        self.reply_json(self.request_dict("args", "data", "files", "form", "headers", "origin", "url"))

    def route_bytes(self, n: str) -> None:
        """N random bytes (at most 100 KiB); the same ones every time with ?seed=."""
        size = min(int(n), MAX_BYTES)
        seed = self.args.get("seed")  # a str seed is as repeatable as a number
        data = random.Random(seed).randbytes(size) if isinstance(seed, str) else os.urandom(size)
        self.reply(200, data, "application/octet-stream")

    def route_stream(self, n: str) -> None:
        """N lines of JSON (at most 100), sent in chunks (Transfer-Encoding: chunked)."""
        base = self.request_dict("args", "headers", "origin", "url")
        lines = [json.dumps({**base, "id": i}) + "\n" for i in range(min(int(n), MAX_STREAM))]
        if self.request_version != "HTTP/1.1":  # chunks are HTTP/1.1: send it whole to older clients
            self.reply(200, "".join(lines), "application/json")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        for line in lines:  # each chunk: its size in hex, CRLF, the data, CRLF
            data = line.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")  # the last chunk is empty

    def route_response_headers(self) -> None:
        """Reply with the query arguments as response headers (and as JSON)."""
        pairs = parse_qsl(self.query, keep_blank_values=True)
        if any(not is_token(name) or any(c in value for c in "\r\n\0") for name, value in pairs):
            self.reply_error(400, "Bad header name or value")
            return
        self.reply_json(multidict(pairs), headers=pairs)

    def route_base64(self, value: str) -> None:
        """Decode the URL-safe base64 in the path and send it back as text."""
        try:
            decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            self.reply_error(400, "Incorrect base64 data")
            return
        self.reply(200, decoded, "text/html; charset=utf-8")

    def route_uuid(self) -> None:
        """A new random UUID (version 4)."""
        import uuid
        self.reply_json({"uuid": str(uuid.uuid4())})

    def route_gzip(self) -> None:
        """JSON compressed with gzip (Content-Encoding: gzip)."""
        import gzip
        data = {"gzipped": True, **self.request_dict("headers", "method", "origin")}
        body = gzip.compress(json.dumps(data, indent=2).encode(), mtime=0)
        self.reply(200, body, "application/json", [("Content-Encoding", "gzip")])

    def route_deflate(self) -> None:
        """JSON compressed with zlib (Content-Encoding: deflate)."""
        data = {"deflated": True, **self.request_dict("headers", "method", "origin")}
        self.reply(200, zlib.compress(json.dumps(data, indent=2).encode()), "application/json",
                   [("Content-Encoding", "deflate")])

    def route_oauth_token(self) -> None:
        """The OAuth2 token endpoint of the provider profiles: a refresh token in, an access token out."""
        from ..wire import oauth

        state_dir = self.server.service.ctx.data_dir.parent  # the OAuth2 signing key is there (wire/oauth.py)
        status, reply = oauth.token_endpoint(state_dir, self.body)
        self.reply_json(reply, status, [("Cache-Control", "no-store")])  # RFC 6749 5.1

    def route_site(self, rest: str | None) -> None:
        """The static site: files from the data folder's site/."""
        if not rest:
            self.redirect("/site/", 301)
            return
        target = safe_path(self.server.service.data_dir / "site", rest)
        if target is not None and target.is_dir():
            if not rest.endswith("/"):  # relative links inside need the slash
                self.redirect(quote("/site" + rest) + "/", 301)
                return
            target = target / "index.html"
        if target is None or not target.is_file():
            self.reply_error(404, "Not Found")
            return
        mtime = target.stat().st_mtime
        headers, unchanged = [("Last-Modified", formatdate(mtime, usegmt=True))], False
        with contextlib.suppress(TypeError, ValueError, IndexError):  # no If-Modified-Since, or not a date
            unchanged = parsedate_to_datetime(self.headers.get("If-Modified-Since", "")).timestamp() >= int(mtime)
        if unchanged:
            self.reply(304, b"", None, headers)
            return
        content_type = CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
        self.reply(200, target.read_bytes(), content_type, headers)


# ----------------------------------------------------------------------
# Helpers the routes share


def allowed_methods(methods: tuple[str, ...] | None) -> tuple[str, ...]:
    """What a route answers: its methods, HEAD wherever GET is, and OPTIONS everywhere."""
    if methods is ANY:
        return ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    return methods + ("HEAD",) * ("GET" in methods) + ("OPTIONS",)


def multidict(pairs) -> dict:
    """httpbin's way with repeated keys: one value stays a string, several become a list."""
    lists: dict[str, list] = {}
    for key, value in pairs:
        lists.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in lists.items()}


def text_or_data_url(data: bytes, content_type: str = "application/octet-stream") -> str:
    """Bytes as text when they are UTF-8, else as a base64 data: URL (what httpbin does)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def parse_multipart(content_type: str, body: bytes) -> tuple[dict, dict]:
    """(form, files) from a multipart/form-data body: a MIME message without headers, for the email package."""
    from email import message_from_bytes, policy

    message = message_from_bytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body,
                                 policy=policy.HTTP)
    form, files = [], []
    if not message.is_multipart():
        return {}, {}
    for part in message.iter_parts():
        if (name := part.get_param("name", header="content-disposition")) is None:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files.append((name, text_or_data_url(payload, part.get_content_type())))
        else:
            form.append((name, payload.decode(part.get_content_charset() or "utf-8", "replace")))
    return multidict(form), multidict(files)


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header or cookie name (RFC 9110 token)


def is_token(name: str) -> bool:
    return bool(_TOKEN.fullmatch(name))


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(user, password) from 'Basic <base64 of user:password>', or None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return None
    return (user, password) if sep else None


def safe_path(root: Path, rest: str) -> Path | None:
    """The file under root that the decoded path `rest` names, or None if it would leave root."""
    parts = [part for part in rest.split("/") if part]
    if any(part in (".", "..") or "\\" in part or ":" in part or "\0" in part for part in parts):
        return None  # no climbing, no Windows separators or drive letters
    target = root.joinpath(*parts).resolve()
    return target if target.is_relative_to(root.resolve()) else None  # also catches links that point outside


# ----------------------------------------------------------------------
# The servers


class Server(ThreadingHTTPServer):
    """One listener, each connection in a thread of its own; with an SSL context, HTTPS (handshake in that thread)."""

    daemon_threads = True

    def __init__(self, sock: socket.socket, scheme: str, service: "HTTPService",
                 ssl_context: ssl.SSLContext | None = None):
        super().__init__(sock.getsockname()[:2], Handler, bind_and_activate=False)
        self.socket.close()  # the constructor made a socket; use the one listen() bound instead
        self.socket = sock
        self.server_address = sock.getsockname()
        self.scheme, self.ssl_context = scheme, ssl_context
        self.log, self.service = service.log, service
        self.limit = ConnectionLimit.of(service)
        self.refused, self.next_refusal_log = 0, 0.0  # for the log line about refused connections
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address) -> None:
        """Give the connection a thread, if the connection limit allows one more."""
        if not self.limit.admit(client_address[0]):
            self.refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.limit.release(client_address[0])
            raise

    def refuse(self, request: socket.socket) -> None:
        """One connection too many: 503 (plain HTTP; a TLS client would need a handshake) and close."""
        request.setblocking(False)  # never wait for this client in the accept thread
        with contextlib.suppress(OSError):
            request.recv(65536)  # what the client sent already, so that closing does not reset
        with contextlib.suppress(OSError):
            if self.ssl_context is None:
                request.send(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        self.refused += 1
        if time.monotonic() >= self.next_refusal_log:  # one line per 10 s, however many are refused
            self.log.warning("refused %d connection(s) beyond the limits (%d open; %d in all, %d per address)",
                             self.refused, self.limit.count, self.limit.total, self.limit.per_address)
            self.refused, self.next_refusal_log = 0, time.monotonic() + 10
        self.shutdown_request(request)

    def process_request_thread(self, request: socket.socket, client_address) -> None:
        """The connection's thread: TLS handshake (for HTTPS), then requests until it closes."""
        self._track(request, True)
        try:
            if self.stopping.is_set():  # accepted just as the server stopped
                self.shutdown_request(request)
                return
            if self.ssl_context is not None:
                plain, request = request, self._handshake(request, client_address)
                self._track(plain, False)
                if request is None:
                    return
                self._track(request, True)
            super().process_request_thread(request, client_address)
        finally:
            self._track(request, False)
            self.limit.release(client_address[0])

    def _handshake(self, sock: socket.socket, client_address) -> ssl.SSLSocket | None:
        sock.settimeout(self.service.option("handshake_timeout"))
        try:
            return self.ssl_context.wrap_socket(sock, server_side=True)
        except (OSError, ValueError) as exc:  # a plain-text client, a bad certificate check, a timeout
            self.log.info("TLS handshake with %s failed: %s", client_address[0], exc)
            sock.close()
            return None

    def shutdown_request(self, request: socket.socket) -> None:
        if isinstance(request, ssl.SSLSocket):
            with contextlib.suppress(OSError, ValueError):  # say goodbye in TLS (close_notify): a clean end
                request.settimeout(1.0)
                request.unwrap()
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        """Log (socketserver would print to stderr); a vanished client is not an error."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            self.log.info("connection from %s ended: %s", client_address[0], exc)
        else:
            self.log.exception("error while serving %s", client_address[0])

    def _track(self, sock, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(sock)

    def abort_connections(self) -> None:
        """Cut every open connection, so that stopping does not wait for idle clients."""
        with self._lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the TCP socket under any TLS layer


class HTTPService(Service):
    """httpbin-style endpoints and a static site, over HTTP and HTTPS."""

    name = "http"
    listeners = ("http", "https")
    options = {"idle_timeout": Option(float, 60.0, "seconds a keep-alive connection may stay silent"),
               "handshake_timeout": Option(float, 10.0, "seconds a TLS handshake may take"),
               "head_timeout": Option(float, 20.0, "seconds from a request's first byte to its blank line (else 408)"),
               **OPTIONS}

    @classmethod
    def seed(cls, data_dir: Path) -> None:
        """Copy the site's pages and draw its picture."""
        site, pages = data_dir / "site", Path(__file__).parent.parent / "seed" / "http" / "site"
        shutil.copytree(pages, site, copy_function=shutil.copyfile, dirs_exist_ok=True)  # copyfile: fresh mtimes
        (site / "logo.png").write_bytes(png(64, 64, lambda x, y: (x * 255 // 64, y * 255 // 64, 160), level=-1))

    async def start(self) -> None:
        with contextlib.ExitStack() as undo:  # if a step fails, the sockets bound so far are closed again
            plain = undo.enter_context(listen(self.ctx, "http"))
            secure = undo.enter_context(listen(self.ctx, "https"))
            tls = fault_hooks.watch_tls(self.ctx.server_ssl_context(), "http")  # bad certificates on demand
            self.servers = [Server(plain, "http", self), Server(secure, "https", self, tls)]
            undo.pop_all()
        self.threads = [threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                         name=f"{server.scheme}-server", daemon=True)
                        for server in self.servers]
        for thread in self.threads:
            thread.start()

    async def stop(self) -> None:
        for server in self.servers:
            server.stopping.set()  # ends /delay waits
        # shutdown() waits for serve_forever to notice (one poll interval): both at once.
        await asyncio.gather(*(asyncio.to_thread(server.shutdown) for server in self.servers))
        for server in self.servers:
            server.server_close()  # the listening socket
            server.abort_connections()
        for thread in self.threads:
            thread.join(timeout=2)

    def extra_info(self) -> dict:
        shown = f"[{self.ctx.host}]" if ":" in self.ctx.host else self.ctx.host
        return {"url": f"http://{shown}:{self.ports['http']}/", "https_url": f"https://{shown}:{self.ports['https']}/",
                "basic_auth_example": "/basic-auth/alice/alice-pw", "site": "/site/"}


# ----------------------------------------------------------------------
# Fixed content

INDEX_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>The course's HTTP server</title></head>
<body>
<h1>The course's HTTP server</h1>
<p>Endpoints that answer like <a href="https://httpbin.org/">httpbin</a>, for the web chapter's examples,
and a small <a href="/site/">static site</a>. Most replies are JSON describing your request.</p>
<table>
<tr><th>path</th><th>methods</th><th>what it does</th><th>try it</th></tr>
{rows}
</table>
</body>
</html>
"""

#: The routes that always send the same document: name -> (what the index page says, Content-Type, body).
DOCUMENTS = {
    "json": ("A sample JSON document.", "application/json", json.dumps({
        "slideshow": {
            "author": "The course team",
            "date": "first lesson",
            "title": "Talking to servers",
            "slides": [
                {"title": "Sockets first", "type": "all"},
                {"title": "What a protocol is", "type": "all",
                 "items": ["A request, a reply", "Status codes tell what happened", "Headers describe the body"]},
            ],
        }
    }, indent=2, ensure_ascii=False) + "\n"),  # as reply_json sends it
    "html": ("A sample HTML page.", "text/html; charset=utf-8", """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>A sample page</title></head>
<body>
  <h1>A sample page</h1>
  <p>This page is here to be fetched and taken apart. It has a title, a heading,
     two paragraphs and <a href="/site/">a link to the course's little site</a>.</p>
  <p>An HTTP reply is a status line, some headers, an empty line and a body: this page is the body.</p>
</body>
</html>
"""),
    "xml": ("A sample XML document.", "application/xml", """<?xml version="1.0" encoding="utf-8"?>
<!-- A sample document: parse it with xml.etree.ElementTree. -->
<slideshow title="Talking to servers" date="first lesson" author="The course team">
  <slide type="all">
    <title>Sockets first</title>
  </slide>
  <slide type="all">
    <title>What a protocol is</title>
    <item>A request, a reply</item>
    <item>Status codes tell what happened</item>
    <item>Headers describe the body</item>
  </slide>
</slideshow>
"""),
    "utf8": ("A UTF-8 page with text in many scripts.", "text/html; charset=utf-8", """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>UTF-8 sample</title></head>
<body>
  <h1>UTF-8 sample</h1>
  <ul>
    <li>Français : « Ça déménage ! »</li>
    <li>Deutsch: Grüße aus Köln, Straße</li>
    <li>Ελληνικά: Καλημέρα κόσμε</li>
    <li>Русский: Привет, мир</li>
    <li>日本語: こんにちは世界</li>
    <li>中文: 你好，世界</li>
    <li>العربية: مرحبا بالعالم</li>
    <li>עברית: שלום עולם</li>
    <li>हिन्दी: नमस्ते दुनिया</li>
    <li>Maths: ∀x ∈ ℝ, x² ≥ 0; ∑ ½ⁿ = 1</li>
    <li>Emoji: 🐍 🌍 ✉️</li>
  </ul>
</body>
</html>
"""),
    "robots": ("The rules for web robots (urllib.robotparser reads it).", "text/plain; charset=utf-8",
               "User-agent: *\nDisallow: /deny\n"),
    "deny": ("The page that robots.txt forbids.", "text/plain; charset=utf-8",
             "Robots should not be here: /robots.txt disallows /deny.\n"),
}
