"""Provider profiles: the course's mail servers behaving like Gmail, QQ Mail, 163 Mail or Outlook.

Code that works against the course's servers often fails against a real
provider, always in the same few ways: the account's password is refused
(Gmail, QQ and 163 want an app password or "authorization code", 授权码;
Outlook wants OAuth2), 163 refuses SELECT until the client says who it is
(IMAP ID), logins need TLS, and the folders have the provider's names.
A profile makes those rules and the providers' reply texts happen here,
offline, so that a student meets them once before meeting them for real.
docs/providers.md gives each rule's source.

Where things are:

- the chosen profile is a file in the state directory (``wire/profile.json``);
  choosing one reseeds the mail store (see Handle.profile and the CLI), so
  the servers restart with the profile's folders and mail;
- app passwords live in ``wire/app-passwords.json`` (mode 0600, hashes only);
- OAuth2 tokens are signed with a secret in ``wire/oauth-secret`` (0600):
  wire/oauth.py issues and checks them;
- the servers ask this module at a few hook points: check_login() (which
  password is accepted, and which reply a refused one gets), reply(),
  and the Profile's flags (id_before_select, tls_only, oauth).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..files import read_json, write_atomically

#: The folder in the state directory that the wire helpers share (mode 0700).
WIRE = "wire"
PROFILE_FILE = "profile.json"
APP_PASSWORDS_FILE = "app-passwords.json"

#: What check_login says about a login attempt.
OK, REFUSED, FAILED = "ok", "refused", "failed"


@dataclass(frozen=True)
class Profile:
    """One provider's rules, and what it answers when they are broken.

    replies: (protocol, kind) -> the reply text, for kind "refused" (the
    account's real password where the provider wants something else) and
    "failed" (wrong credentials); protocol is "smtp", "imap" or "pop3".
    """

    name: str
    title: str
    hosts: dict  # the provider's real host names, for the lessons: {"smtp": "smtp.gmail.com", ...}
    ports: dict  # the provider's port -> the course listener that plays it
    app_passwords: bool  # the account's password is refused; an app password is accepted
    basic_auth: bool  # False: no password at all works (Outlook): OAuth2 only
    oauth: bool  # SMTP AUTH XOAUTH2/OAUTHBEARER and IMAP AUTHENTICATE XOAUTH2/OAUTHBEARER
    oauth_challenge: bool  # a bad token gets a base64 JSON challenge first, as Gmail sends
    id_before_select: bool  # IMAP SELECT/EXAMINE refused until the client sent ID (163)
    tls_only: bool  # passwords and tokens only over TLS (STARTTLS or the implicit-TLS port)
    folders: dict  # IMAP name (modified UTF-7) -> SPECIAL-USE attribute, as the provider lists them
    replies: dict = field(default_factory=dict)
    select_refused: str = ""

    def reply(self, protocol: str, kind: str) -> str:
        return self.replies[(protocol, kind)]

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "hosts": self.hosts, "ports": self.ports,
                "app_passwords": self.app_passwords, "basic_auth": self.basic_auth, "oauth": self.oauth,
                "id_before_select": self.id_before_select, "tls_only": self.tls_only,
                "folders": dict(self.folders)}


_COURSE_PORTS = {"465 (SMTP, implicit TLS)": "smtps", "587 (SMTP, STARTTLS)": "smtp",
                 "993 (IMAP, implicit TLS)": "imaps", "995 (POP3, implicit TLS)": "pop3s"}

_GMAIL_HELP = "https://support.google.com/mail/?p="
_QQ_HELP = "http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1001256"

PROFILES: dict[str, Profile] = {
    "gmail": Profile(
        name="gmail", title="Gmail",
        hosts={"smtp": "smtp.gmail.com", "imap": "imap.gmail.com", "pop3": "pop.gmail.com"},
        ports=_COURSE_PORTS, app_passwords=True, basic_auth=True, oauth=True, oauth_challenge=True,
        id_before_select=False, tls_only=True,
        folders={"[Gmail]/All Mail": "\\All", "[Gmail]/Drafts": "\\Drafts", "[Gmail]/Important": "\\Important",
                 "[Gmail]/Sent Mail": "\\Sent", "[Gmail]/Spam": "\\Junk", "[Gmail]/Starred": "\\Flagged",
                 "[Gmail]/Trash": "\\Trash"},
        replies={
            ("smtp", "refused"): f"534-5.7.9 Application-specific password required. Learn more at\r\n"
                                 f"534 5.7.9  {_GMAIL_HELP}InvalidSecondFactor (course)",
            ("smtp", "failed"): f"535-5.7.8 Username and Password not accepted. Learn more at\r\n"
                                f"535 5.7.8  {_GMAIL_HELP}BadCredentials (course)",
            ("imap", "refused"): "[ALERT] Application-specific password required: "
                                 "https://support.google.com/accounts/answer/185833 (Failure)",
            ("imap", "failed"): "[AUTHENTICATIONFAILED] Invalid credentials (Failure)",
            ("pop3", "refused"): "[AUTH] Application-specific password required: "
                                 "https://support.google.com/accounts/answer/185833",
            ("pop3", "failed"): "[AUTH] Username and password not accepted.",
        }),
    "qq": Profile(
        name="qq", title="QQ Mail",
        hosts={"smtp": "smtp.qq.com", "imap": "imap.qq.com", "pop3": "pop.qq.com"},
        ports=_COURSE_PORTS, app_passwords=True, basic_auth=True, oauth=False, oauth_challenge=False,
        id_before_select=False, tls_only=True,
        folders={"Sent Messages": "\\Sent", "Drafts": "\\Drafts", "Deleted Messages": "\\Trash", "Junk": "\\Junk"},
        replies={
            ("smtp", "refused"): f"535 Login Fail. Please enter your authorization code to login. "
                                 f"More information in {_QQ_HELP}",
            ("smtp", "failed"): "535 Error: authentication failed",
            ("imap", "refused"): f"Login fail. Please enter your authorization code to login. "
                                 f"More information in {_QQ_HELP}",
            ("imap", "failed"): f"Login fail. Please enter your authorization code to login. "
                                f"More information in {_QQ_HELP}",
            ("pop3", "refused"): f"Login fail. Please enter your authorization code to login. "
                                 f"More information in {_QQ_HELP}",
            ("pop3", "failed"): f"Login fail. Please enter your authorization code to login. "
                                f"More information in {_QQ_HELP}",
        }),
    "163": Profile(
        name="163", title="NetEase 163 Mail",
        hosts={"smtp": "smtp.163.com", "imap": "imap.163.com", "pop3": "pop.163.com"},
        ports=_COURSE_PORTS, app_passwords=True, basic_auth=True, oauth=False, oauth_challenge=False,
        id_before_select=True, tls_only=True,
        folders={"&XfJT0ZAB-": "\\Sent", "&g0l6P3ux-": "\\Drafts", "&XfJSIJZk-": "\\Trash",
                 "&V4NXPpCuTvY-": "\\Junk"},  # 已发送 草稿箱 已删除 垃圾邮件
        select_refused="Unsafe Login. Please contact kefu@188.com for help",
        replies={
            ("smtp", "refused"): "535 Error: authentication failed",
            ("smtp", "failed"): "535 Error: authentication failed",
            ("imap", "refused"): "LOGIN Login error or password error",
            ("imap", "failed"): "LOGIN Login error or password error",
            ("pop3", "refused"): "authentication failed",
            ("pop3", "failed"): "authentication failed",
        }),
    "outlook": Profile(
        name="outlook", title="Outlook.com",
        hosts={"smtp": "smtp-mail.outlook.com", "imap": "outlook.office365.com", "pop3": "outlook.office365.com"},
        ports=_COURSE_PORTS, app_passwords=False, basic_auth=False, oauth=True, oauth_challenge=False,
        id_before_select=False, tls_only=True,
        folders={"Sent": "\\Sent", "Drafts": "\\Drafts", "Deleted": "\\Trash", "Junk": "\\Junk",
                 "Archive": "\\Archive"},
        replies={
            ("smtp", "refused"): "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. "
                                 "[course.example.test]",
            ("smtp", "failed"): "535 5.7.3 Authentication unsuccessful [course.example.test]",
            ("imap", "refused"): "LOGIN failed.",
            ("imap", "failed"): "AUTHENTICATE failed.",
            ("pop3", "refused"): "Logon failure: unknown user name or bad password.",
            ("pop3", "failed"): "Logon failure: unknown user name or bad password.",
        }),
}


def is_account(name: str) -> bool:
    """The one place profiles ask whether an account exists (config.ACCOUNTS: the course's accounts)."""
    return name in config.ACCOUNTS


def wire_dir(state_dir: Path) -> Path:
    """<state dir>/wire, made private (0700) on first use."""
    path = Path(state_dir) / WIRE
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


# -- which profile is on -------------------------------------------------------------------

_cache: dict[Path, tuple[int, str | None]] = {}


def current(state_dir: Path) -> str | None:
    """The name of the chosen profile, or None (the course's own behaviour).

    Read again only when the file changes (a stat per call), so servers may ask per connection.
    """
    path = Path(state_dir) / WIRE / PROFILE_FILE
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = _cache.get(path)
    if cached is None or cached[0] != stamp:
        name = read_json(path).get("profile")
        cached = _cache[path] = (stamp, name if name in PROFILES else None)
    return cached[1]


def active(state_dir: Path) -> Profile | None:
    """The chosen Profile, or None."""
    name = current(state_dir)
    return PROFILES[name] if name else None


def for_service(service) -> Profile | None:
    """The profile a running service follows (its state directory is the parent of the data folder)."""
    return active(service.ctx.data_dir.parent)


def select(state_dir: Path, name: str | None) -> None:
    """Write the choice (None: no profile). It takes effect for the servers' next connections;
    Handle.profile() also reseeds the mail store, which restarts them."""
    if name is not None and name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; the profiles are: {', '.join(PROFILES)}")
    write_atomically(wire_dir(state_dir) / PROFILE_FILE, json.dumps({"profile": name}) + "\n")


# -- app passwords ---------------------------------------------------------------------------

def _digest(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8", "surrogateescape")).hexdigest()


def _normalised(password: str) -> str:
    """Google shows an app password in four groups of four; typed with or without the spaces it works."""
    return password.replace(" ", "")


def issue_app_password(state_dir: Path, user: str) -> str:
    """A new app password (16 lowercase letters, shown as "abcd efgh ijkl mnop") for an account.

    Only its hash is kept (0600), like the providers that show it once. Earlier ones stay valid.
    """
    name = user.lower()
    if not is_account(name):
        raise ValueError(f"no account {user!r}")
    password = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(16))
    path = wire_dir(state_dir) / APP_PASSWORDS_FILE
    known = read_json(path)
    known.setdefault(name, []).append(_digest(password))
    write_atomically(path, json.dumps(known, indent=1) + "\n", mode=0o600)
    return " ".join(password[i:i + 4] for i in range(0, 16, 4))


def is_app_password(state_dir: Path, user: str, password: str) -> bool:
    digests = read_json(Path(state_dir) / WIRE / APP_PASSWORDS_FILE).get(user, [])
    offered = _digest(_normalised(password))
    return any(hmac.compare_digest(offered, known) for known in digests)


# -- the login rule ----------------------------------------------------------------------------

def check_login(profile: Profile | None, state_dir: Path, user: str, password: str) -> tuple[str | None, str]:
    """(account or None, OK | REFUSED | FAILED): config.check_login, as the profile's provider sees it.

    Without a profile it is the course's rule. With one, the account's own
    password is REFUSED (the provider's hint in the reply), an app password
    issued for the account is OK, and anything else FAILED. Outlook refuses
    every password: basic authentication is off, only OAuth2 works.
    """
    if profile is None:
        name = config.check_login(user, password)
        return name, OK if name else FAILED
    name = user.lower()
    if not profile.basic_auth:
        return None, REFUSED
    if is_account(name) and is_app_password(state_dir, name, password):
        return name, OK
    if config.check_login(user, password) is not None:
        return None, REFUSED
    return None, FAILED
