"""Your answers to the exercises of notebooks/06_http.ipynb and 06b_http_more.ipynb (chapter 6).

Write each function here (replace the `raise NotImplementedError`), try it
in the chapter's notebook, then check it from a notebook cell:

    from grader import check
    check("ex06")

which grades this file (in workspace/labs/ when the course made you that
copy, else in labs/) like a lab: a table of checks with a hint for each one
that failed. The checks give your functions servers of their own, so use
the host and port they get. The reference answers are in
solutions/exercises/ex06_http.py (try first!).
"""

from __future__ import annotations

import functools  # noqa: F401
import gzip  # noqa: F401
import hashlib  # noqa: F401
import json  # noqa: F401
import mimetypes  # noqa: F401
import secrets  # noqa: F401
import http.client  # noqa: F401
import http.cookiejar  # noqa: F401
import ssl  # noqa: F401
import threading  # noqa: F401
import urllib.error  # noqa: F401
import urllib.request  # noqa: F401
from html.parser import HTMLParser  # noqa: F401
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer  # noqa: F401
from pathlib import Path  # noqa: F401
from urllib.parse import urljoin, urlsplit  # noqa: F401
from urllib.robotparser import RobotFileParser  # noqa: F401
from xmlrpc.server import SimpleXMLRPCServer  # noqa: F401


def status_of(url: str, context: ssl.SSLContext | None = None, timeout: float = 5) -> int | None:
    """Exercise 1: the final status of a GET (after redirects), error statuses too; None without a reply."""
    raise NotImplementedError("TODO: exercise 1")


def site_links(page_url: str, timeout: float = 10) -> list[str]:
    """Exercise 2: the absolute URLs of a page's <a href> links, in order."""
    raise NotImplementedError("TODO: exercise 2")


def serve_folder(folder) -> ThreadingHTTPServer:
    """Exercise 3: serve a folder on 127.0.0.1, any free port, in a background thread; return the server."""
    raise NotImplementedError("TODO: exercise 3")


def logged_in_opener(base_url: str, user: str, password: str,
                     context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    """Exercise 4: an opener that answers Basic authentication for base_url and keeps cookies."""
    raise NotImplementedError("TODO: exercise 4")


def certificate_names(host: str, port: int, cafile: str, timeout: float = 10) -> list[str]:
    """Exercise 5: the subjectAltName values of an HTTPS server's certificate, verified with cafile."""
    raise NotImplementedError("TODO: exercise 5")


def fetch_json(url: str, timeout: float = 10):
    """Exercise 6: the JSON at url, asking for gzip and decompressing only a reply that says it is gzipped."""
    raise NotImplementedError("TODO: exercise 6")


def download(url: str, path, chunk_size: int = 65536, timeout: float = 10) -> tuple[int, str]:
    """Exercise 7: stream url's body into path, chunk_size bytes at most at a time; (bytes, sha256 hex)."""
    raise NotImplementedError("TODO: exercise 7")


def upload_file(url: str, path, fields: dict[str, str] | None = None, timeout: float = 10):
    """Exercise 8: POST the file as multipart/form-data (field "file") with text fields; the JSON reply."""
    raise NotImplementedError("TODO: exercise 8")


def polite_get(url: str, agent: str = "course-crawler", timeout: float = 10) -> bytes:
    """Exercise 9: GET url as agent, unless the site's robots.txt (read once per site) forbids it."""
    raise NotImplementedError("TODO: exercise 9")


def start_calculator() -> tuple[SimpleXMLRPCServer, str]:
    """Exercise 10: an XML-RPC server with add, multiply and system.listMethods, in a thread; (server, url)."""
    raise NotImplementedError("TODO: exercise 10")
