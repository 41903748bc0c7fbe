"""Who may look: the inspector's token, kept in the state directory, and the accounts' passwords.

The token is 32 random bytes (hex), made the first time the inspector starts and
kept in <state dir>/wire/inspector-token (folder 0700, file 0600), so it survives a
restart and only the user who owns the state directory can read it. It grants
everything: every view, resets and clearing faults. An account's password (HTTP
Basic, alice/alice-pw) grants that account's own mail and sessions, read-only: the
passwords are printed in every chapter, so they must not open more than the account
itself already can.

Forms that change something carry a CSRF value derived from the token (a page of
another site cannot read it), and the browser keeps the token in a cookie that is
HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .. import config

#: Where the token lives, under the state directory (the wire/ folder of decision 0009).
TOKEN_FILE = Path("wire") / "inspector-token"


def token_path(state_dir: Path) -> Path:
    return Path(state_dir) / TOKEN_FILE


def read_token(state_dir: Path) -> str | None:
    """The token, or None if the inspector never ran in this state directory."""
    try:
        token = token_path(state_dir).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def ensure_token(state_dir: Path) -> str:
    """The token, made (0600, in a 0700 folder) if there is none yet."""
    path = token_path(state_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path.parent, 0o700)
    token = read_token(state_dir)
    if token:
        return token
    token = secrets.token_hex(32)
    try:  # created exclusively: two starters never end up with two tokens
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token(state_dir) or token
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    return token


def csrf_value(token: str) -> str:
    """The value every form that changes something must send back (derived, so the token never is in a page)."""
    return hmac.new(token.encode(), b"inspector-csrf", hashlib.sha256).hexdigest()


def cookie_name(port: int) -> str:
    """Cookies ignore ports: each inspector (one per user and port) names its own."""
    return f"inspector-{port}"


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the token's holder sees and may reset everything; an account sees its own mail."""

    user: str | None  # None: the token's holder
    by_cookie: bool = False

    @property
    def can_change(self) -> bool:
        return self.user is None

    def may_see(self, account: str | None) -> bool:
        """Whether this viewer may see data that belongs to `account` (None: belongs to nobody)."""
        return self.user is None or account == self.user


def from_request(token: str, headers, query_token: str | None, port: int) -> Viewer | None | bool:
    """The viewer a request's credentials name; None if it brought none; False if they are wrong."""
    offered: list[tuple[str, str]] = []
    if query_token is not None:
        offered.append(("query", query_token))
    authorization = headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        offered.append(("bearer", value.strip()))
    cookie = _cookie(headers.get("Cookie", ""), cookie_name(port))
    if cookie is not None:
        offered.append(("cookie", cookie))
    for kind, candidate in offered:
        if hmac.compare_digest(candidate.encode("utf-8", "replace"), token.encode()):
            return Viewer(None, by_cookie=kind == "cookie")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        account = config.check_login(user, password)
        return Viewer(account) if account else False
    return False if offered else None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None
