"""The notebooks' side of a class server: LOCAL_SERVERS_URL names it, ensure_running() uses it.

    LOCAL_SERVERS_URL=http://class.example.edu:10080/   the class server's HTTP service
    LOCAL_SERVERS_ACCOUNT=login:password               the student's own account
        (or the file <state dir>/class-account holding that one line)

connect() fetches the class's handle document (no secrets) and its CA
certificate from the HTTP service (/site/class/), caches both in the user's
state directory (so a notebook still starts when the class server's HTTP
service is briefly away), and returns a Handle whose services carry the
student's own account and whose server_set says which set is in use.
Nothing is started on this machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from .. import config
from ..files import write_atomically
from ..handle import Handle

URL_ENV = "LOCAL_SERVERS_URL"
ACCOUNT_ENV = "LOCAL_SERVERS_ACCOUNT"
ACCOUNT_FILE = "class-account"
TIMEOUT = 10.0
WILDCARDS = ("0.0.0.0", "::", "")


class ClassServerError(RuntimeError):
    """The class server named by LOCAL_SERVERS_URL cannot be used (the message says why)."""


def configured_url() -> str | None:
    return os.environ.get(URL_ENV) or None


def account(state_dir: Path) -> tuple[str, str] | None:
    """The student's (login, password): LOCAL_SERVERS_ACCOUNT, else the class-account file, else None."""
    text = os.environ.get(ACCOUNT_ENV)
    if not text:
        try:
            text = (Path(state_dir) / ACCOUNT_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return None
    login, sep, password = text.partition(":")
    if not sep or not login:
        raise ClassServerError(f"{ACCOUNT_ENV} (or {ACCOUNT_FILE}) is 'login:password', not {text[:20]!r}...")
    return login.strip().lower(), password


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.read()


def cache_dir(state_dir: Path, url: str) -> Path:
    parts = urlsplit(url)
    name = "".join(c if c.isalnum() or c in "-." else "_" for c in parts.netloc) or "server"
    return Path(state_dir) / "class-servers" / name


def connect(url: str | None = None, state_dir: Path | None = None) -> Handle:
    """The class server's handle, with this student's account; ClassServerError if it cannot be had."""
    url = url or configured_url()
    if not url:
        raise ClassServerError(f"no class server: set {URL_ENV}")
    base = url if url.endswith("/") else url + "/"
    state_dir = Path(state_dir or config.state_dir())
    cache = cache_dir(state_dir, base)
    handle_file, ca_file = cache / "handle.json", cache / "ca.pem"
    try:
        document = json.loads(_fetch(urljoin(base, "site/class/handle.json")))
        ca = _fetch(urljoin(base, "site/class/ca.pem"))
    except (OSError, ValueError, urllib.error.URLError) as exc:
        if not (handle_file.exists() and ca_file.exists()):
            raise ClassServerError(f"cannot reach the class server {base} ({exc}); "
                                   f"check {URL_ENV} or ask your instructor") from None
        document = json.loads(handle_file.read_text(encoding="utf-8"))
    else:
        cache.mkdir(parents=True, exist_ok=True)
        if os.name == "posix":
            os.chmod(state_dir, 0o700)
        write_atomically(handle_file, json.dumps(document, indent=1))
        write_atomically(ca_file, ca)
    login = account(state_dir)
    if login is None:
        warnings.warn(f"no account for the class server {base}: set {ACCOUNT_ENV}=login:password (from your "
                      f"instructor) or write that line into {Path(state_dir) / ACCOUNT_FILE}; until then only "
                      "anonymous FTP and the services without accounts work", stacklevel=3)
    return _handle(document, base, cache, login)


def _handle(document: dict, url: str, cache: Path, login: tuple[str, str] | None) -> Handle:
    url_host = urlsplit(url).hostname or ""
    ca_file = str(cache / "ca.pem")
    document = {**document, "pid": 0, "state_dir": str(cache), "log_file": str(cache / "no-log-here"),
                "ca_file": ca_file}
    services = {}
    for name, service in document["services"].items():
        service = {**service, "ca_file": ca_file}
        if service.get("host") in WILDCARDS:
            service["host"] = url_host
        if login is not None and service.get("extra", {}).get("class_logins"):
            service["accounts"] = {**service.get("accounts", {}), login[0]: login[1]}
        services[name] = service
    document["services"] = services
    if document.get("host") in WILDCARDS:
        document["host"] = url_host
    document["server_set"] = {**document.get("server_set", {}), "url": url,
                              "user": login[0] if login else None}
    handle = Handle.from_dict(document)
    services = {name: dataclasses.replace(svc, accounts=ClassAccounts(svc.accounts, handle.server_set))
                for name, svc in handle.services.items()}
    return dataclasses.replace(handle, services=services)


class ClassAccounts(dict):
    """A service's accounts on a class server: asking for alice (as the chapters do) says whom to use."""

    def __init__(self, accounts: dict, server_set: dict):
        super().__init__(accounts)
        self.server_set = server_set

    def __missing__(self, login):
        you = self.server_set.get("user")
        raise KeyError(f"{login!r} has no account on the class server {self.server_set.get('name')!r}: "
                       + (f"you log in as {you!r} (servers.login)" if you else f"set {ACCOUNT_ENV}=login:password"))
