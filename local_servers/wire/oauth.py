"""OAuth2 for the mail servers, offline: a token endpoint, refresh tokens, access tokens, SASL XOAUTH2.

A real provider's flow (RFC 6749): once, in a browser, the user consents and
the program receives a long-lived *refresh token*; whenever it needs to log
in, the program POSTs the refresh token to the provider's *token endpoint*
and gets a short-lived *access token* (an hour), which it sends to the mail
server inside SASL XOAUTH2 or OAUTHBEARER (RFC 7628) instead of a password.

Here the browser step is a course command (``python -m local_servers
profile refresh-token alice``), the token endpoint is POST /oauth2/token on
the course's HTTP service, and the mail servers check the access tokens.
Both kinds of token are signed (HMAC-SHA256) with a secret kept in the state
directory (0600), so nothing else needs storing: a token says whose it is
and, for an access token, when it expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from urllib.parse import parse_qsl

from .. import config
from .profiles import is_account, wire_dir

SECRET_FILE = "oauth-secret"
#: The client a course program says it is (a real provider issues these in its developer console).
CLIENT_ID = "course-client.apps.example.test"
CLIENT_SECRET = "course-client-secret"
#: Access tokens live an hour, as Google's and Microsoft's do.
LIFETIME = 3600
SCOPE = "https://mail.example.test/"
TOKEN_PATH = "/oauth2/token"
#: Gmail's XOAUTH2 error challenge: base64 of this JSON (developers.google.com/gmail/imap/xoauth2-protocol).
ERROR_JSON = json.dumps({"status": "401", "schemes": "bearer", "scope": SCOPE}, separators=(",", ":"))


def _secret(state_dir: Path) -> bytes:
    """The signing key, made on first use (0600). Two processes making it at once agree on the first."""
    path = wire_dir(state_dir) / SECRET_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32).hex().encode())
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(state_dir: Path, kind: str, payload: dict) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(_secret(state_dir), f"{kind}.{body}".encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def _open(state_dir: Path, kind: str, token: str) -> dict | None:
    """The payload of a token this course signed, or None for anything else."""
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(_secret(state_dir), f"{kind}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        payload = json.loads(_unb64(body))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def refresh_token(state_dir: Path, user: str) -> str:
    """What the browser step would give a program: a refresh token for the account (it does not expire)."""
    name = user.lower()
    if not is_account(name):
        raise ValueError(f"no account {user!r}")
    return "1//" + _sign(state_dir, "refresh", {"sub": name})


def access_token(state_dir: Path, user: str, lifetime: float = LIFETIME) -> str:
    """An access token for the account, valid for lifetime seconds (negative: already expired, for tests)."""
    return "ya29." + _sign(state_dir, "access", {"sub": user.lower(), "exp": int(time.time() + lifetime)})


def account(user: str) -> str:
    """The account a SASL user names: "alice" or "alice@example.test" (any case)."""
    name = user.lower()
    local, at, domain = name.rpartition("@")
    return local if at and domain == config.MAIL_DOMAIN else name


def check_access_token(state_dir: Path, token: str, user: str) -> str:
    """"ok", "expired" or "invalid" (not ours, or another account's)."""
    if not token.startswith("ya29."):
        return "invalid"
    payload = _open(state_dir, "access", token[5:])
    if payload is None or payload.get("sub") != account(user):
        return "invalid"
    return "ok" if payload.get("exp", 0) > time.time() else "expired"


def token_endpoint(state_dir: Path, form_body: bytes) -> tuple[int, dict]:
    """POST /oauth2/token (RFC 6749 6, the refresh-token grant): (HTTP status, JSON reply)."""
    form = dict(parse_qsl(form_body.decode("utf-8", "replace"), keep_blank_values=True))
    if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
        return 401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}
    if form.get("grant_type") != "refresh_token":
        return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "
                     + form.get("grant_type", "")}
    token = form.get("refresh_token", "")
    payload = _open(state_dir, "refresh", token[3:]) if token.startswith("1//") else None
    if payload is None or not is_account(payload.get("sub", "")):
        return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
    return 200, {"access_token": access_token(state_dir, payload["sub"]), "expires_in": LIFETIME - 1,
                 "scope": SCOPE, "token_type": "Bearer"}


def parse_sasl(mechanism: str, data: bytes) -> tuple[str, str] | None:
    """(user, token) from a decoded XOAUTH2 or OAUTHBEARER client response, or None if malformed.

    XOAUTH2:     user=alice@example.test ^A auth=Bearer TOKEN ^A ^A
    OAUTHBEARER: n,a=alice@example.test, ^A host=... ^A port=... ^A auth=Bearer TOKEN ^A ^A   (RFC 7628 3.1)
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    user = ""
    if mechanism == "OAUTHBEARER":
        gs2, sep, text = text.partition("\x01")
        if not sep or not gs2.startswith(("n,", "y,")):
            return None
        user = next((part[2:] for part in gs2.split(",") if part.startswith("a=")), "")
    fields = dict(part.partition("=")[::2] for part in text.split("\x01") if part)
    user = fields.get("user", user)
    scheme, _, token = fields.get("auth", "").partition(" ")
    if not user or scheme.lower() != "bearer" or not token:
        return None
    return user, token
