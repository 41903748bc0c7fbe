"""What the three mail services (SMTP, POP3, IMAP) have in common.

They share one store (the "mail" data folder, seeded once by mailstore.seed),
the course's accounts, and one shape of entry in the state file: a plain
port that upgrades with STARTTLS/STLS and an implicit-TLS twin.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .. import config
from . import mailstore
from ..handle import ServiceInfo
from ..service import Service
from ..wire import profile_mail, profiles


class MailService(Service):
    """Base class: set `name` and `listeners = (plain, implicit_tls)`, and bind them with listen()."""

    data_name = "mail"
    starttls = uses_accounts = True

    @classmethod
    def seed(cls, data_dir) -> None:
        mailstore.seed(data_dir)
        _seed_profile(data_dir)

    def info(self) -> ServiceInfo:
        info = super().info()
        return dataclasses.replace(info, extra={"domain": config.MAIL_DOMAIN, **info.extra})


def _seed_profile(data_dir) -> None:
    """A provider profile's folders and mail (wire/profiles.py).

    data_dir is a folder in <state dir>/data (serve.seed_missing seeds beside the final folder).
    """
    if (profile := profiles.active(Path(data_dir).parent.parent)) is not None:
        profile_mail.seed(data_dir, profile)
