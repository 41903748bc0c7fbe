"""Your answers to the exercises of notebooks/07_real_providers.ipynb (the appendix: real providers).

Write each function here (replace the `raise NotImplementedError`), try it
in the appendix's notebook against a profile (servers.profile("gmail")...),
then check it from a notebook cell:

    from grader import check
    check("ex07")

which grades this file (in workspace/labs/ when the course made you that
copy, else in labs/) like a lab: a table of checks with a hint for each one
that failed. The checks switch their servers to each provider's profile
themselves, so use the host, port and secrets they give. The reference
answers are in solutions/exercises/ex07_real_providers.py (try first!).
"""

from __future__ import annotations

import imaplib  # noqa: F401
import json  # noqa: F401
import smtplib  # noqa: F401
import ssl  # noqa: F401
import urllib.parse  # noqa: F401
import urllib.request  # noqa: F401
from email.message import EmailMessage  # noqa: F401


def send_with_app_password(host: str, port: int, ca_file: str, address: str, app_password: str,
                           msg: EmailMessage, timeout: float = 10.0) -> dict:
    """Exercise 1: send msg over SMTPS (the provider's port 465), logged in with an app password.

    Returns send_message()'s dict of refused recipients; a refused login
    raises smtplib.SMTPAuthenticationError, as smtplib reports it.
    """
    raise NotImplementedError("TODO: exercise 1")


def access_token(oauth_client: dict, timeout: float = 10.0) -> str:
    """Exercise 2, first half: trade the refresh token for an access token at the token endpoint."""
    raise NotImplementedError("TODO: exercise 2")


def inbox_size_xoauth2(host: str, port: int, ca_file: str, address: str, oauth_client: dict,
                       timeout: float = 10.0) -> int:
    """Exercise 2: log in to IMAPS with XOAUTH2 (a fresh access token); how many messages INBOX holds."""
    raise NotImplementedError("TODO: exercise 2")


def inbox_size_with_id(host: str, port: int, ca_file: str, user: str, password: str,
                       timeout: float = 10.0) -> int:
    """Exercise 3: log in to IMAPS, say who the client is with ID (RFC 2971), then SELECT INBOX.

    163 refuses SELECT until the client has sent ID; other servers do not
    mind it. Returns how many messages INBOX holds; changes no flag.
    """
    raise NotImplementedError("TODO: exercise 3")
