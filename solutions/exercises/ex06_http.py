"""Solutions to the exercises of notebooks/06_http.ipynb."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import mimetypes
import secrets
import http.client
import http.cookiejar
import ssl
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser
from xmlrpc.server import SimpleXMLRPCServer


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


def fetch_json(url: str, timeout: float = 10):
    """Exercise 6: the JSON at url, asking for gzip and decompressing only a reply that says it is gzipped."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        body = reply.read()
        if reply.headers.get("Content-Encoding", "identity").strip().lower() == "gzip":
            body = gzip.decompress(body)
    return json.loads(body)


def download(url: str, path, chunk_size: int = 65536, timeout: float = 10) -> tuple[int, str]:
    """Exercise 7: stream url's body into path, chunk_size bytes at most at a time; (bytes, sha256 hex)."""
    digest, written = hashlib.sha256(), 0
    with urllib.request.urlopen(url, timeout=timeout) as reply, open(path, "wb") as file:
        while chunk := reply.read(chunk_size):
            digest.update(chunk)
            file.write(chunk)
            written += len(chunk)
    return written, digest.hexdigest()


def upload_file(url: str, path, fields: dict[str, str] | None = None, timeout: float = 10):
    """Exercise 8: POST the file as multipart/form-data (field "file") with text fields; the JSON reply."""
    path = Path(path)
    boundary = "ex06-" + secrets.token_hex(16)
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
             for name, value in (fields or {}).items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                 f"Content-Type: {content_type}\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.load(reply)


_robots: dict[str, RobotFileParser] = {}


def polite_get(url: str, agent: str = "course-crawler", timeout: float = 10) -> bytes:
    """Exercise 9: GET url as agent, unless the site's robots.txt (read once per site) forbids it."""
    parts = urlsplit(url)
    site = f"{parts.scheme}://{parts.netloc}"
    if site not in _robots:
        robots = RobotFileParser(site + "/robots.txt")
        robots.read()
        _robots[site] = robots
    if not _robots[site].can_fetch(agent, url):
        raise PermissionError(f"{site}/robots.txt forbids {url} to {agent}")
    request = urllib.request.Request(url, headers={"User-Agent": agent})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return reply.read()


def start_calculator() -> tuple[SimpleXMLRPCServer, str]:
    """Exercise 10: an XML-RPC server with add, multiply and system.listMethods, in a thread; (server, url)."""
    server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False)
    server.register_function(lambda a, b: a + b, "add")
    server.register_function(lambda a, b: a * b, "multiply")
    server.register_introspection_functions()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
