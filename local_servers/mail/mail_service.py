"""What the three mail services (SMTP, POP3, IMAP) have in common.

They share one store (the "mail" data folder, seeded once by mailstore.seed),
the course's accounts, and one shape of entry in the state file: a plain
port that upgrades with STARTTLS/STLS and an implicit-TLS twin.
"""

from __future__ import annotations

import dataclasses

from .. import config
from . import mailstore
from ..handle import ServiceInfo
from ..service import Service


class MailService(Service):
    """Base class: set `name` and `listeners = (plain, implicit_tls)`, and bind them with listen()."""

    data_name = "mail"
    starttls = uses_accounts = True

    @classmethod
    def seed(cls, data_dir) -> None:
        mailstore.seed(data_dir)

    def info(self) -> ServiceInfo:
        info = super().info()
        return dataclasses.replace(info, extra={"domain": config.MAIL_DOMAIN, **info.extra})
