"""The inspector's HTTP side: routes, who is asking, and the headers that keep mail's HTML inert.

Every request is checked in this order:

1. the Host header must name this machine (a page elsewhere cannot reach the
   inspector through a DNS name that it points at 127.0.0.1: "DNS rebinding");
2. the credentials (access.py): the token (in the URL once, then a cookie; or
   "Authorization: Bearer"), or an account's password (HTTP Basic). None: 401;
   wrong ones: 403. A URL with ?token= is answered by setting the cookie and
   redirecting to the same page without it, so the token does not stay in the
   address bar or the history;
3. a POST (reset, clear faults) needs the token's holder and the form's CSRF value.

Each reply carries a Content-Security-Policy that allows only the inspector's own
script and style (no inline script, no frames), so nothing a message contains
can run in the page even if it were not escaped.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from .. import config
from ..files import read_json
from . import access, pages, stores, wire_parts

log = logging.getLogger("local_servers.inspector")

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

#: Messages per mailbox page, threads per news page, sessions listed.
PER_PAGE = 50
THREADS_PER_PAGE = 30
SESSIONS_SHOWN = 200
#: Connections served at once: a browser opens up to six per tab; a runaway script gets no more.
MAX_CONNECTIONS = 32
#: The largest form a POST may send (a reset or a fault id).
MAX_FORM = 4096

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

#: The services a reset may name (those with seeded data), in the order the overview offers them.
RESETTABLE = ("mail", "ftp", "nntp", "http")
#: A reset of "mail" resets the one store SMTP, POP3 and IMAP share (serve.SHARED_DATA).
RESET_AS = {"mail": "imap"}


class Inspector:
    """What every request needs: the state directory, the token, the data folders, the news index."""

    def __init__(self, state_dir: Path, data_dir: Path, token: str):
        self.state_dir, self.data_dir, self.token = Path(state_dir), Path(data_dir), token
        self.csrf = access.csrf_value(token)
        self.news = stores.NewsIndex(self.data_dir / "nntp")
        self.port = 0

    @property
    def services(self) -> list[str]:
        """The services this process runs, as its state file says (written once all of them listen)."""
        return list(read_json(config.StateDir(self.state_dir).state_file).get("services", []))

    def reset(self, service: str) -> None:
        """Ask `python -m local_servers reset` to restore a service's data, in a process of its own.

        The reset stops this very process and starts a new one on the same ports (control.reset):
        the seed code runs in the server process, as at every start. The reply is sent first.
        """
        name = RESET_AS.get(service, service)
        command = [sys.executable, "-m", "local_servers", "--state-dir", str(self.state_dir), "reset", name]
        kwargs = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" else {"start_new_session": True}
        with open(config.StateDir(self.state_dir).log_file, "ab") as log_file:
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                             close_fds=True, **kwargs)
        log.info("reset of %s requested from the inspector", name)


class Server(ThreadingHTTPServer):
    """One thread per connection, like the HTTP service; at most MAX_CONNECTIONS at once (more are closed)."""

    daemon_threads = True

    def server_activate(self) -> None:
        """The socket listens already (service.listen): only the connection slots are made here."""
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class Handler(BaseHTTPRequestHandler):
    """One connection to the inspector. `app` is set on a subclass per running inspector."""

    app: Inspector
    server_version = "course-inspector"
    protocol_version = "HTTP/1.1"
    timeout = 30  # a silent connection gives its thread back after this many seconds

    # -- plumbing ----------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # The head and the body leave in two writes: without this the body waits for the client's
        # delayed ACK (40 ms on Linux) on a keep-alive connection.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - http.server's name
        log.debug("%s " + format, self.address_string(), *args)

    def send(self, status: int, body: str | bytes, content_type: str = "text/html; charset=utf-8",
             headers: dict | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        for name, value in {**SECURITY_HEADERS, "Content-Type": content_type, "Content-Length": str(len(data)),
                            **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def page(self, title: str, body: str, current: str, status: int = 200) -> None:
        viewer = self.viewer
        note = "token: everything" if viewer.user is None else f"signed in as {viewer.user}: own mail only"
        self.send(status, pages.layout(title, body, current=current, status=self.status_fragment(), viewer_note=note))

    def status_fragment(self) -> str:
        return pages.status_line(wire_parts.profile(self.app.state_dir), self._faults())

    def _faults(self):
        try:
            return wire_parts.faults(self.app.state_dir)
        except Exception:  # a fault table being rewritten must not break every page
            log.exception("reading the faults failed")
            return []

    def fail(self, status: int, text: str, headers: dict | None = None) -> None:
        self.send(status, f"<!DOCTYPE html><title>{status}</title><p>{pages.esc(text)}</p>\n", headers=headers)

    # -- requests ----------------------------------------------------------------------------

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.handle_request(post=False)

    def do_POST(self):
        self.handle_request(post=True)

    def handle_request(self, post: bool) -> None:
        if post:
            self.close_connection = True  # a refused POST leaves its body unread: never parse it as a request
        url = urlsplit(self.path)
        try:
            self.query = {k: v[-1] for k, v in parse_qs(url.query, max_num_fields=20).items()}
        except ValueError:
            self.fail(400, "too many query parameters")
            return
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host not in config.LOOPBACK_HOSTS:
            self.fail(403, "the inspector answers only to localhost / 127.0.0.1 in the address")
            return
        if url.path.startswith("/static/"):
            self.static(url.path[len("/static/"):])
            return
        viewer = access.from_request(self.app.token, self.headers, self.query.get("token"), self.app.port)
        if viewer is None:
            self.fail(401, "Open the address that `.venv/bin/python -m local_servers inspect` (or `course.py status`) "
                           "prints, or sign in with an account's name and password.",
                      headers={"WWW-Authenticate": 'Basic realm="course inspector", charset="UTF-8"'})
            return
        if viewer is False:
            self.fail(403, "wrong token or password")
            return
        self.viewer = viewer
        if "token" in self.query:  # keep it in a cookie, not in the address bar
            rest = {k: v for k, v in self.query.items() if k != "token"}
            cookie = f"{access.cookie_name(self.app.port)}={self.app.token}; Path=/; HttpOnly; SameSite=Strict"
            self.send(303, "", headers={"Location": url.path + ("?" + urlencode(rest) if rest else ""),
                                        "Set-Cookie": cookie})
            return
        segments = [unquote(s) for s in url.path.split("/") if s]
        try:
            if post:
                self.post(segments)
            else:
                self.get(segments)
        except Exception:
            log.exception("inspector error on %s", self.path)
            self.fail(500, "the inspector failed on this page; see the server log")

    def static(self, name: str) -> None:
        path = STATIC / name
        if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
            self.fail(404, "no such file")
            return
        self.send(200, path.read_bytes(), STATIC_TYPES[path.suffix], headers={"Cache-Control": "max-age=60"})

    def get(self, segments: list[str]) -> None:
        first, rest = (segments[0], segments[1:]) if segments else ("", [])
        route = {"": self.view_overview, "mail": self.view_mail, "ftp": self.view_ftp, "news": self.view_news,
                 "sessions": self.view_sessions, "faults": self.view_faults, "status": self.view_status,
                 "ping": self.view_ping}.get(first)
        if route is None:
            self.fail(404, "no such page")
            return
        route(rest)

    def page_number(self) -> int:
        try:
            return max(0, min(int(self.query.get("page", "0")), 10**6))
        except ValueError:
            return 0

    # -- views -------------------------------------------------------------------------------

    def view_ping(self, rest) -> None:
        self.send(200, json.dumps({"ok": True, "pid": os.getpid()}), "application/json")

    def view_status(self, rest) -> None:
        self.send(200, self.status_fragment())

    def view_overview(self, rest) -> None:
        app, viewer = self.app, self.viewer
        boxes = stores.mailboxes(app.data_dir / "mail", viewer.user)
        counts = {"mailboxes": f"{len(boxes)} ({sum(b.count for b in boxes)} messages)"}
        entries, _ = stores.ftp_tree(app.data_dir / "ftp", viewer.user)
        counts["FTP files"] = str(sum(1 for e in entries if not e.is_dir))
        groups = app.news.groups()  # news is public: every viewer sees it
        counts["news groups"] = f"{len(groups)} ({sum(len(g.articles) for g in groups.values())} articles)"
        found = wire_parts.sessions(app.state_dir, last=SESSIONS_SHOWN, user=viewer.user)
        if found is not None:
            counts["sessions (recent)"] = f"{len(found)} ({sum(1 for s in found if s.ended is None)} live)"
        faults = self._faults()
        if faults is not None:
            counts["active faults"] = str(len(faults))
        profile = wire_parts.profile(app.state_dir)
        if profile is not False:
            counts["provider profile"] = profile or "none"
        resets = [name for name in RESETTABLE if RESET_AS.get(name, name) in app.services]
        self.page("Overview", pages.overview(counts, resets, app.csrf if viewer.can_change else None), "/")

    def view_mail(self, rest: list[str]) -> None:
        mail_dir = self.app.data_dir / "mail"
        if not rest:
            self.page("Mail", pages.mail_index(stores.mailboxes(mail_dir, self.viewer.user)), "/mail")
            return
        if len(rest) not in (2, 3) or not self.viewer.may_see(rest[0]):
            self.fail(404, "no such mailbox")
            return
        user, folder = rest[0], rest[1]
        box = stores.box_path(mail_dir, user, folder)
        if box is None:
            self.fail(404, "no such mailbox")
            return
        if len(rest) == 2:
            page = self.page_number()
            total, summaries = stores.message_page(box, page, PER_PAGE)
            self.page(f"{user} · {folder}", pages.mailbox(user, folder, total, summaries, page, PER_PAGE), "/mail")
            return
        found = stores.read_message(box, rest[2])
        if found is None:
            self.fail(404, "no such message (deleted or moved?)")
            return
        raw, full_size = found
        message, parts = stores.mime_tree(raw)
        headers = [(name, str(value), stores.decode_header(value))
                   for name, value in message.items()[:stores.MAX_HEADERS]]
        subject = stores.decode_header(message.get("Subject")) or "(no subject)"
        text = raw.decode("utf-8", "replace")
        cut = stores.parseable(raw)[1] or len(raw) < full_size
        self.page(subject, pages.message(headers, parts, text, full_size, len(raw), cut), "/mail")

    def view_ftp(self, rest) -> None:
        entries, cut = stores.ftp_tree(self.app.data_dir / "ftp", self.viewer.user)
        self.page("FTP files", pages.ftp(entries, cut), "/ftp")

    def view_news(self, rest: list[str]) -> None:
        groups = self.app.news.groups()
        if not rest:
            self.page("News", pages.news_index(sorted(groups.values(), key=lambda g: g.name)), "/news")
            return
        group = groups.get(rest[0])
        if group is None or len(rest) > 2:
            self.fail(404, "no such group")
            return
        if len(rest) == 1:
            threads = stores.threads(group)
            page = self.page_number()
            pages_count = (len(threads) + THREADS_PER_PAGE - 1) // THREADS_PER_PAGE
            chosen = threads[page * THREADS_PER_PAGE:(page + 1) * THREADS_PER_PAGE]
            self.page(group.name, pages.news_group(group, chosen, page, pages_count), "/news")
            return
        article = group.articles.get(int(rest[1])) if rest[1].isdigit() else None
        if article is None:
            self.fail(404, "no such article")
            return
        try:
            with open(article.path, "rb") as f:
                raw = f.read(stores.MAX_MESSAGE)
        except OSError:
            self.fail(404, "the article's file is gone")
            return
        self.page(article.subject or "(no subject)", pages.article(stores.article_text(raw)), "/news")

    def view_sessions(self, rest: list[str]) -> None:
        app, user = self.app, self.viewer.user
        fragment = self.query.get("fragment") == "1"
        if not rest:
            service = self.query.get("service") or None
            found = wire_parts.sessions(app.state_dir, last=SESSIONS_SHOWN, user=user, service=service)
            table = pages.missing("Transcripts", "transcripts.py") if found is None else pages.sessions_table(found)
            if fragment:
                self.send(200, table)
            else:
                body = table if found is None else pages.sessions(table, app.services, service)
                self.page("Sessions", body, "/sessions")
            return
        session = wire_parts.session(app.state_dir, rest[0], user=user) if len(rest) == 1 else None
        if session is None:
            self.fail(404, "no such session (sessions are kept for a while, then dropped)")
            return
        table = pages.transcript_table(session)
        if fragment:
            self.send(200, table)
        else:
            self.page(f"Session {session.id}", pages.transcript(str(session.id), table, session.ended is None), "/sessions")

    def view_faults(self, rest) -> None:
        faults = self._faults()
        csrf = self.app.csrf if self.viewer.can_change else None
        table = pages.missing("Faults", "faults.py") if faults is None else pages.faults_table(faults, csrf)
        if self.query.get("fragment") == "1":
            self.send(200, table)
        else:
            self.page("Faults", table if faults is None else pages.faults(table, csrf, bool(faults)), "/faults")

    # -- changes -----------------------------------------------------------------------------

    def read_form(self) -> dict[str, str] | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if not 0 <= length <= MAX_FORM:
            return None
        body = self.rfile.read(length).decode("utf-8", "replace")
        return {k: v[-1] for k, v in parse_qs(body, max_num_fields=10).items()}

    def post(self, segments: list[str]) -> None:
        form = self.read_form()
        if form is None:
            self.close_connection = True
            self.fail(413, "the form is too large")
            return
        if not self.viewer.can_change:
            self.fail(403, "resets and faults need the inspector's token (an account's password only reads)")
            return
        origin = self.headers.get("Origin")
        if origin not in (None, "null") and urlsplit(origin).hostname not in config.LOOPBACK_HOSTS:
            self.fail(403, "a form from another site")
            return
        if not hmac.compare_digest(form.get("csrf", "").encode(), self.app.csrf.encode()):
            self.fail(403, "the form's CSRF value is missing or wrong: reload the page and try again")
            return
        if segments == ["reset"]:
            service = form.get("service", "")
            if service not in RESETTABLE or RESET_AS.get(service, service) not in self.app.services:
                self.fail(400, f"cannot reset {service!r}: choose one of {', '.join(RESETTABLE)}")
                return
            self.app.reset(service)
            self.close_connection = True
            self.page(f"Resetting {service}", pages.resetting(service, os.getpid()), "/", status=202)
            return
        if segments == ["faults", "clear"]:
            if not wire_parts.clear_faults(self.app.state_dir, form.get("id")):
                self.fail(404, "fault injection is not part of this build")
                return
            self.send(303, "", headers={"Location": "/faults"})
            return
        self.fail(404, "no such action")


def make_server(sock, app: Inspector) -> Server:
    """The HTTP server on an already bound, listening socket."""
    handler = type("InspectorHandler", (Handler,), {"app": app})
    server = Server(sock.getsockname()[:2], handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.server_address = sock.getsockname()
    server.server_activate()  # the socket listens already: this only makes the connection slots
    app.port = sock.getsockname()[1]
    return server
