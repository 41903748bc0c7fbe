"""The class server's side of the server process: what changes when `serve --class` runs.

serve.py calls, in this order:

1. ClassSet.load(state_dir): the roster (class.json) and the passwords file;
2. install(data_dir), after the course's usual seed: the roster's accounts
   become every service's accounts (config.ACCOUNTS, the one login table),
   each student gets a Maildir and an FTP home (copies of alice's seeded
   lesson data, so every chapter finds what it expects) and the class's news
   group is created; a student added to the roster later gets theirs at the
   next start, and nobody else's data is touched;
3. public_info(): what the handle publishes has no passwords;
4. publish(): the handle document and the CA certificate go to the HTTP
   service's site (/site/class/), where the students' notebooks fetch them.

The protocols call back into it at one point each (see throttle(),
MailHandler below, check_post(), ftp_allow()): per-account rate limits, and
mail and articles attributed to the account that is logged in.
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import email.utils
import json
import logging
import os
import shutil
from pathlib import Path

from .. import config
from ..files import write_atomically
from . import passwords, ratelimit, setup

log = logging.getLogger("local_servers.classroom")

#: The lesson data each student gets a copy of: the seeded account alice's.
TEMPLATE_ACCOUNT = "alice"
#: Where the students' notebooks find the class's handle and CA (under the HTTP service's /site/).
SITE_FOLDER = "class"
HANDLE_FILE, CA_FILE = "handle.json", "ca.pem"
#: Commands never refused, so that a throttled client can still leave cleanly.
ALWAYS = {"QUIT", "LOGOUT"}


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)


class ClassSet:
    """One class: its students, their passwords, its news group and its rate limits."""

    def __init__(self, document: dict, secrets: dict[str, str]):
        self.name: str = document["name"]
        self.group: str = document["group"]
        self.students: dict[str, str] = {s["login"]: s["name"] for s in document["students"]}
        missing = [login for login in self.students if login not in secrets]
        if missing:
            raise ValueError(f"the passwords file has no password for {len(missing)} student(s); "
                             "run `up --class ROSTER.csv` again")
        self._passwords = {login: secrets[login] for login in self.students}
        self.limits = ratelimit.RateLimits(document["rate"], document["burst"])
        per_second = document.get("transfer_mb", ratelimit.TRANSFER_MB) * 1_000_000
        self.transfers = ratelimit.RateLimits(per_second, 2 * per_second)

    @classmethod
    def load(cls, state_dir: Path) -> "ClassSet":
        return cls(setup.load(state_dir), passwords.load(state_dir))

    def address(self, login: str) -> str:
        return f"{login}@{config.MAIL_DOMAIN}"

    def summary(self) -> dict:
        """The handle's "server_set": which set this is (no secrets)."""
        return {"kind": "class", "name": self.name, "group": self.group, "students": len(self.students),
                "domain": config.MAIL_DOMAIN}

    # -- start-up ----------------------------------------------------------------

    def install(self, data_dir: Path) -> None:
        """The roster's accounts on every service, and each student's data (see the module's docstring)."""
        config.ACCOUNTS.clear()
        config.ACCOUNTS.update(self._passwords)
        from ..mail import mailstore

        mailstore.USERS = tuple(self._passwords)  # read once at import, before the roster was known
        data_dir = Path(data_dir)
        mail, ftp_homes, news = data_dir / "mail", data_dir / "ftp" / "home", data_dir / "nntp"
        for login in self.students:
            if mail.is_dir():  # message files are never written in place: links are safe, and fast
                self._copy(mail / TEMPLATE_ACCOUNT, mail / login, link=True)
            if ftp_homes.is_dir() and self._copy(ftp_homes / TEMPLATE_ACCOUNT, ftp_homes / login):
                welcome = ftp_homes / login / "welcome.txt"
                if welcome.is_file():  # the seed's greeting names the account
                    text = welcome.read_text(encoding="utf-8")
                    welcome.write_text(text.replace(f"Hello {TEMPLATE_ACCOUNT}!", f"Hello {login}!", 1),
                                       encoding="utf-8", newline="\n")
        if news.is_dir():
            from ..news.newsstore import NewsStore

            store = NewsStore(news)
            if self.group not in store.groups:
                store.create_group(self.group, f"the {self.name} class's discussion (post here)")

    @staticmethod
    def _copy(template: Path, target: Path, link: bool = False) -> bool:
        """A student's own copy of the lesson data, made once (a new student gets theirs at the next start).

        link: hard links instead of copies, for Maildirs, whose files are only ever created whole,
        renamed (flags) and removed; never for FTP homes, where a STOR may rewrite a file in place.
        """
        if target.exists():
            return False
        tmp = target.with_name(f".{target.name}.new")
        shutil.rmtree(tmp, ignore_errors=True)
        if template.is_dir():
            shutil.copytree(template, tmp, ignore=shutil.ignore_patterns(".imap*"),
                            copy_function=_link_or_copy if link else shutil.copy2)
        else:
            tmp.mkdir(parents=True)
        tmp.rename(target)
        return True

    def public_info(self, info):
        """A service's handle entry without the passwords (FTP keeps "anonymous")."""
        if not info.accounts:
            return info
        accounts = {"anonymous": ""} if "anonymous" in info.accounts else {}
        # class_logins: the students' own accounts log in here (remote.py adds the student's).
        return dataclasses.replace(info, accounts=accounts, extra={**info.extra, "class_logins": True})

    def publish(self, document: dict, site_dir: Path, ca_file: Path) -> None:
        """The handle (no pid, no paths, no passwords) and the CA, where the HTTP service serves them."""
        public = {key: value for key, value in document.items() if key not in ("pid", "state_dir", "log_file")}
        public["ca_file"] = None
        for service in public["services"].values():
            service["ca_file"] = None
        folder = Path(site_dir) / SITE_FOLDER
        write_atomically(folder / HANDLE_FILE, json.dumps(public, indent=1))
        write_atomically(folder / CA_FILE, Path(ca_file).read_bytes())

    # -- the protocols' hooks ------------------------------------------------------

    def throttle(self, session, verb: str) -> bytes | None:
        """Line protocols (POP3, IMAP, NNTP): None, or the protocol's "slow down" reply for this account."""
        service = session.service.name
        user = getattr(session, "user", None)
        if service == "pop3" and session.state != "TRANSACTION":
            user = None  # POP3 knows the name from USER before PASS checks it
        if user is None or verb.upper() in ALWAYS or self.limits.allow(service, user):
            return None
        log.warning("%s: rate limit for %s", service, user)
        if service == "imap":
            tag = session.line_start.split(b" ", 1)[0].decode("ascii", "replace") or "*"
            return f"{tag} NO [LIMIT] Too many commands from {user}; slow down and try again\r\n".encode()
        if service == "pop3":
            return f"-ERR [SYS/TEMP] Too many commands from {user}; slow down and try again\r\n".encode()
        return f"403 Too many commands from {user}; slow down and try again\r\n".encode()

    def ftp_allow(self, user: str) -> bool:
        return self.limits.allow("ftp", user)

    def ftp_dtp_handler(self, base: type) -> type:
        """FTP data connections that pause when their student's transfer bucket is in debt.

        Uploads and downloads of one student share one bucket; anonymous transfers (read-only,
        shared by everyone) are bounded by the connection limits instead.
        """
        limits = self.transfers

        class ClassDTPHandler(base):
            _paused = False
            _pause_timer = None

            def use_sendfile(self):
                return False  # sendfile() would move bytes without passing send()

            def _charge(self, count: int) -> None:
                user = self.cmd_channel.username
                if count <= 0 or not user or user == "anonymous" or self._paused or self._closed:
                    return
                wait = limits.debit("ftp", user, count)
                if wait > 0:  # as pyftpdlib's ThrottledDTPHandler: off the loop for a while
                    self._paused = True
                    self.del_channel()
                    self._pause_timer = self.ioloop.call_later(wait, self._resume, _errback=self.handle_error)

            def _resume(self) -> None:
                self._paused = False
                if not self._closed:
                    self.add_channel(events=self.ioloop.READ if self.receive else self.ioloop.WRITE)

            def recv(self, buffer_size):
                chunk = super().recv(buffer_size)
                self._charge(len(chunk))
                return chunk

            def send(self, data):
                sent = super().send(data)
                self._charge(sent)
                return sent

            def _send_mapped(self):
                before = self._sent_mapped
                super()._send_mapped()
                self._charge(self._sent_mapped - before)

            def close(self):
                if self._pause_timer is not None and not self._pause_timer.cancelled:
                    self._pause_timer.cancel()
                super().close()

        return ClassDTPHandler

    def check_post(self, user: str | None, article: bytes) -> str | None:
        """NNTP: why an article may not be posted as `user` (its From must be theirs), or None."""
        if user is None:
            return "log in first (AUTHINFO USER)"
        return self._not_theirs(user, article, "From")

    def _not_theirs(self, user: str, message: bytes, header: str) -> str | None:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(message)
        addresses = [addr.lower() for _, addr in email.utils.getaddresses(headers.get_all(header, []))]
        if not addresses or any(addr != self.address(user) for addr in addresses):
            return f"the {header} header must be your own address <{self.address(user)}>"
        return None

    def mail_handler(self, base: type, mail_dir: Path, log_: logging.Logger):
        """SMTP: the course's MailHandler, with the sender checked against the logged-in account."""
        classroom = self

        class ClassMailHandler(base):
            async def handle_MAIL(self, server, session, envelope, address: str, mail_options) -> str:
                user = session.auth_data if session.authenticated else None
                if user is None:
                    return "530 5.7.0 Authentication required"
                if not classroom.limits.allow("smtp", user):
                    log.warning("smtp: rate limit for %s", user)
                    return f"451 4.7.1 Too many messages from {user}; slow down and try again"
                if (address or "").lower() != classroom.address(user):
                    return f"553 5.7.1 <{address}>: the sender must be your own address <{classroom.address(user)}>"
                envelope.mail_from = address
                envelope.mail_options.extend(mail_options)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope) -> str:
                reason = classroom._not_theirs(session.auth_data, envelope.original_content, "From")
                if reason is not None:
                    return f"550 5.7.1 Not stored: {reason}"
                return await super().handle_DATA(server, session, envelope)

        return ClassMailHandler(mail_dir, log_)
