"""Solutions to the exercises of notebooks/06_http.ipynb."""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import ssl
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin


def status_of(url: str, context: ssl.SSLContext | None = None, timeout: float = 5) -> int | None:
    """Exercise 1: the final status of a GET (after redirects), error statuses too; None without a reply."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as reply:
            return reply.status
    except urllib.error.HTTPError as err:  # a reply with an error status (catch it before URLError)
        err.close()
        return err.code
    except (urllib.error.URLError, OSError):  # refused, no such host, bad certificate, timed out
        return None


class _LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def site_links(page_url: str, timeout: float = 10) -> list[str]:
    """Exercise 2: the absolute URLs of a page's <a href> links, in order."""
    with urllib.request.urlopen(page_url, timeout=timeout) as reply:
        final_url = reply.url  # links are relative to where the page really is, after redirects
        html = reply.read().decode(reply.headers.get_content_charset() or "utf-8", "replace")
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    return [urljoin(final_url, link) for link in collector.links]


class _QuietFolderHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass  # print nothing


def serve_folder(folder) -> ThreadingHTTPServer:
    """Exercise 3: serve a folder on 127.0.0.1, any free port, in a background thread; return the server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFolderHandler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def logged_in_opener(base_url: str, user: str, password: str,
                     context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    """Exercise 4: an opener that answers Basic authentication for base_url and keeps cookies."""
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, base_url, user, password)
    handlers = [urllib.request.HTTPBasicAuthHandler(passwords),
                urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers)


def certificate_names(host: str, port: int, cafile: str, timeout: float = 10) -> list[str]:
    """Exercise 5: the subjectAltName values of an HTTPS server's certificate, verified with cafile."""
    context = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection(host, port, context=context, timeout=timeout)
    try:
        conn.connect()  # the TLS handshake: the certificate is checked here
        return [name for _kind, name in conn.sock.getpeercert().get("subjectAltName", ())]
    finally:
        conn.close()
