"""The handle a notebook, a lab or a test gets: where every server is.

It is read from the state file that the server process writes once every service is ready (`python -m local_servers
status --json` prints the same document). The schema, version 1, is stable; new keys may be added:

    {
      "schema": 1,
      "pid": 4242,                       # the server process
      "host": "127.0.0.1",
      "state_dir": "/home/me/.local/state/python-internet-course",
      "log_file": ".../server.log",
      "ca_file": ".../tls/ca.pem",       # verify TLS with this
      "started_at": "2026-11-21T22:40:00+00:00",
      "server_set": {"kind": "private"}, # which set: "private" (this user's own) or "class" (a class
                                         # server: + "name", "group", "students", "domain", and in a
                                         # student's handle "url" and "user", the account in use)
      "services": {
        "ftp": {
          "host": "127.0.0.1",
          "port": 10021,                 # the plain (or STARTTLS-capable) port
          "tls_ports": {},               # implicit-TLS ports by name, e.g. {"https": 10443}
          "starttls": true,              # the plain port upgrades to TLS (AUTH TLS, STARTTLS, STLS)
          "udp_port": null,              # for services that also answer over UDP
          "accounts": {"alice": "alice-pw", ...},
          "ca_file": ".../tls/ca.pem",
          "extra": {}                    # anything service-specific (e.g. the FTP public folder)
        },
        ...
      }
    }
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass, field, fields
from pathlib import Path

SCHEMA_VERSION = 1

TOOLS = ("inspector",)  #: services that are tools, not protocols: left out of table() (`inspect` prints them)


@dataclass(frozen=True)
class ServiceInfo:
    """One service: its address, its TLS variants and who may log in."""

    name: str
    host: str
    port: int
    tls_ports: dict = field(default_factory=dict)
    starttls: bool = False
    udp_port: int | None = None
    accounts: dict = field(default_factory=dict)
    ca_file: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port), ready for socket.create_connection and friends."""
        return (self.host, self.port)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that verifies the server against the course's CA."""
        return ssl.create_default_context(cafile=self.ca_file)

    @classmethod
    def from_dict(cls, name: str, data: dict) -> "ServiceInfo":
        optional = {item.name for item in fields(cls)} - {"name", "host", "port"}  # keys a later version adds: skipped
        return cls(name=name, host=data["host"], port=data["port"],
                   **{key: value for key, value in data.items() if key in optional})

    def __getitem__(self, key: str):
        """info["port"] as in the state file, as well as info.port."""
        return self.to_dict()[key]

    def to_dict(self) -> dict:
        return {item.name: getattr(self, item.name) for item in fields(self) if item.name != "name"}


def _tls_column(svc: ServiceInfo) -> str:
    """The tables' TLS column: "STARTTLS, smtps :10465", or "-"."""
    return ", ".join(["STARTTLS"] * svc.starttls + [f"{name} :{port}" for name, port in svc.tls_ports.items()]) or "-"


@dataclass(frozen=True)
class Handle:
    """Every running service, by name: handle.ftp.port, handle["http"].tls_ports["https"]."""

    pid: int
    host: str
    state_dir: Path
    log_file: Path
    ca_file: str
    started_at: str
    services: dict[str, ServiceInfo]
    server_set: dict = field(default_factory=lambda: {"kind": "private"})

    def __getattr__(self, name: str) -> ServiceInfo:
        services = self.__dict__.get("services", {})
        if name in services:
            return services[name]
        raise AttributeError(f"no service {name!r}; the running services are: {', '.join(services)}")

    def __getitem__(self, name: str) -> ServiceInfo:
        return self.services[name]

    @property
    def login(self) -> str:
        """The account a lesson logs in as: the student's own on a class server, else the course's alice."""
        return self.server_set.get("user") or "alice"

    def __repr__(self) -> str:
        # No pid and no paths: a notebook shows the same text on every run and machine.
        if self.server_set.get("kind") == "class":
            who = f" as {self.server_set['user']}" if self.server_set.get("user") else ""
            return f"<class servers {self.server_set.get('name')!r} on {self.host}{who}: {', '.join(self.services)}>"
        return f"<local servers on {self.host}: {', '.join(self.services)}>"

    ssl_context = ServiceInfo.ssl_context  # the same client context: it trusts the course's CA

    def table(self) -> str:
        """A table for people: service, address, TLS variants, accounts (no paths, so it never varies)."""
        rows = [("service", "address", "TLS", "accounts")]
        for name, svc in self._protocols().items():
            address = f"{svc.host}:{svc.port}" + (f" (+udp :{svc.udp_port})" if svc.udp_port else "")
            accounts = ", ".join(f"{user}/{pw}" if pw else user for user, pw in svc.accounts.items()) or "-"
            rows.append((name, address, _tls_column(svc), accounts))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows]
        lines.insert(1, "-" * max(len(line) for line in lines))
        if self.server_set.get("kind") == "class":  # whose servers these are, above the table
            lines.insert(0, repr(self))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """How a notebook shows the handle: the same table, as HTML (account names only, no UDP port)."""
        import html
        rows = [(name, f"{svc.host}:{svc.port}", _tls_column(svc), ", ".join(svc.accounts) or "-")
                for name, svc in self._protocols().items()]
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
        return f"<table><tr><th>service</th><th>address</th><th>TLS</th><th>accounts</th></tr>{cells}</table>"

    def _protocols(self) -> dict[str, ServiceInfo]:
        """The services the chapters talk to: the tables leave out the inspector (a page, not a protocol)."""
        return {name: svc for name, svc in self.services.items() if name not in TOOLS}

    def to_dict(self) -> dict:
        return {"schema": SCHEMA_VERSION, "pid": self.pid, "host": self.host,
                "state_dir": str(self.state_dir), "log_file": str(self.log_file), "ca_file": self.ca_file,
                "started_at": self.started_at, "server_set": dict(self.server_set),
                "services": {name: svc.to_dict() for name, svc in self.services.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "Handle":
        if data.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"state file schema {data.get('schema')!r} is not {SCHEMA_VERSION}")
        return cls(pid=data["pid"], host=data["host"], state_dir=Path(data["state_dir"]),
                   log_file=Path(data["log_file"]), ca_file=data["ca_file"], started_at=data["started_at"],
                   services={name: ServiceInfo.from_dict(name, svc) for name, svc in data["services"].items()},
                   server_set=dict(data.get("server_set") or {"kind": "private"}))

    def profile(self, name: str | None) -> "Handle":
        """Make the mail servers behave like a provider: "gmail", "qq", "163", "outlook"; None: the course's own.

        Switching RESEEDS THE MAIL STORE, like ``python -m local_servers reset smtp``: every
        account's mail and folders are replaced by the seeded ones (with the provider's folder
        names and mail); what was sent, moved or deleted since is gone. App passwords stay.
        The servers restart on the same ports: use the handle this returns from now on.
        """
        from . import control
        from .wire import profiles

        profiles.select(self.state_dir, name)
        return control.reset(self.state_dir, ["smtp"]) or self

    def app_password(self, user: str) -> str:
        """Issue an app password (a provider's "authorization code", 授权码) for an account: shown once."""
        from .wire import profiles

        return profiles.issue_app_password(self.state_dir, user)

    def oauth_client(self, user: str) -> dict:
        """What an OAuth2 program has after the user's consent: the token endpoint, its client id and
        secret, and a refresh token for the account (POST them to token_url for an access token)."""
        from .wire import oauth

        http = self.services["http"]
        return {"token_url": f"http://{http.host}:{http.port}{oauth.TOKEN_PATH}", "client_id": oauth.CLIENT_ID,
                "client_secret": oauth.CLIENT_SECRET, "refresh_token": oauth.refresh_token(self.state_dir, user)}

    def fault(self, service: str, kind: str = "reply", **options):
        """Make a server misbehave: servers.fault("smtp", "reply", code=451, stage="RCPT", count=1).

        kind: reply (code=, text=), greylist (delay=), delay (delay=), drop
        (after_bytes=), silent, cert (cert="expired" or "wrong-host"); scope with
        stage= (an SMTP stage or a command, "connect" for the greeting) and
        account=; limit with count= (hits) or seconds=. Returns the Fault; it
        lasts until cleared: prefer the context manager faults().
        """
        from .wire import faults

        return faults.add(self.state_dir, service, kind, **options)

    @contextlib.contextmanager
    def faults(self, service: str, kind: str = "reply", **options):
        """``with servers.faults("pop3", "drop", stage="RETR", after_bytes=100) as fault:`` ... cleared on exit.

        The same arguments as fault(); the fault is removed when the block ends, also when it ends with an exception.
        """
        from .wire import faults

        fault = faults.add(self.state_dir, service, kind, **options)
        try:
            yield fault
        finally:
            faults.clear(self.state_dir, fault.id)

    def transcripts(self, service: str | None = None, last: int | None = None, user: str | None = None):
        """The recorded sessions, oldest first (live ones too): print them, or show them in a notebook.

        ``servers.transcripts("smtp", last=1)`` is the dialogue of the last SMTP connection: C: what the client sent, S:
        what the server answered, passwords masked (local_servers/wire/transcripts.py).
        """
        from .wire.transcripts import sessions

        return sessions(self.state_dir, service=service, last=last, user=user)

    @property
    def inspector_url(self) -> str | None:
        """The inspector's address with its token (None if it does not run): open it in a browser."""
        from .inspector.access import read_token

        info = self.services.get("inspector")
        token = read_token(self.state_dir) if info is not None else None
        return f"http://{info.host}:{info.port}/?token={token}" if token else None
