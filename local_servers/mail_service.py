"""What the three mail services (SMTP, POP3, IMAP) have in common.

They share one store (the "mail" data folder, seeded once by mailstore.seed),
the course's accounts, and one shape of entry in the state file: a plain
port that upgrades with STARTTLS/STLS and an implicit-TLS twin.
"""

from __future__ import annotations

from . import config, mailstore
from .service import Service


class MailService(Service):
    """Base class: set `name`, `listeners = (plain, implicit_tls)`, and self.port/self.tls_port in start()."""

    data_name = "mail"
    port = tls_port = 0

    @classmethod
    def seed(cls, data_dir) -> None:
        mailstore.seed(data_dir)

    def extra_info(self) -> dict:
        """Service-specific facts for the state file's "extra" (besides the mail domain)."""
        return {}

    def info(self) -> dict:
        return {"host": self.ctx.host, "port": self.port, "tls_ports": {self.listeners[1]: self.tls_port},
                "starttls": True, "udp_port": None, "accounts": dict(config.ACCOUNTS),
                "extra": {"domain": config.MAIL_DOMAIN, **self.extra_info()}}
