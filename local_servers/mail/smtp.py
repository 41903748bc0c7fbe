"""SMTP (RFC 5321) with STARTTLS (RFC 3207) and AUTH, plus SMTP over implicit TLS.

aiosmtpd speaks the protocol: its SMTP class is an asyncio protocol with one ``smtp_<VERB>`` method per command,
and it calls a *handler* object at the points where a mail server decides something. Ours, MailHandler, decides

- at RCPT TO: is this a recipient we deliver to? (an unknown user at example.test gets 550; any other domain is
  accepted and captured);
- at DATA: store one copy per envelope recipient, then answer 250. Delivery goes by the envelope (RCPT TO), never
  by the To: header, which is how Bcc works.

Nothing ever leaves the machine: mail for other domains lands in the catch-all Maildir (mailstore.CATCHALL), so the
course can show it.

Two listeners: "smtp" (plain, offers STARTTLS; AUTH PLAIN/LOGIN once TLS is on, as aiosmtpd requires) and "smtps"
(TLS from the first byte, the chapter's SMTP_SSL example). On loopback anyone may send without AUTH, like the
chapter's first examples; on a public address AUTH is required.

What a careless or hostile client meets: 501 for a CR, LF or NUL in a HELO/EHLO name or a MAIL/RCPT address
(copied into the stored Received and Return-Path headers, a lone CR would start a header of the client's making);
every reply even when it half-closes after its last commands (a TCP FIN, or TLS close_notify: half_close.py);
"421" beyond the connection limit (limits.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging
import re
import time
import warnings
from email.utils import formatdate

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword, TLSSetupException

from .. import config
from ..engine import half_close
from . import mailstore
from ..limits import OPTIONS, ConnectionLimit
from .mail_service import MailService
from ..service import close_servers, listen
from ..wire import fault_hooks, oauth, profiles
from ..wire.transcripts import MAX_TEXT, SILENT, open_transcript

#: Largest message accepted (RFC 1870 SIZE); bigger ones get 552.
MAX_MESSAGE_SIZE = 10 * 1024 * 1024
HOSTNAME = f"mail.{config.MAIL_DOMAIN}"
#: The greeting's text after the host name: fixed, so lessons can show it whole (aiosmtpd's has its version).
IDENT = "ESMTP Python internet course"


#: Two aiosmtpd warnings that are not ours to fix: its own use of Session.login_data on every
#: AUTH, and "AUTH without TLS" on the implicit-TLS listener, where TLS is always on.
NOISE = ("login_data is deprecated", "auth_required == True but auth_require_tls == False")


def _not_noise(record: logging.LogRecord) -> bool:
    """The mail.log filter: False for the NOISE warnings."""
    return not any(text in record.getMessage() for text in NOISE)


LINE_BREAKERS = re.compile("[\r\n\0]")


def _guarded(command, stage: str = "", plain_text: bool = True):
    """aiosmtpd's `command`, but an injected fault at `stage` (wire/fault_hooks.py) may answer, delay or cut it
    first; if plain_text, an argument with a CR, LF or NUL gets 501 (a lone CR gets past aiosmtpd's line reader)."""
    @functools.wraps(command)  # also copies the syntax that HELP shows
    async def guarded(self, arg):
        refusal = await fault_hooks.smtp_stage(self, stage, arg) if stage else None
        if refusal is None and plain_text and arg and LINE_BREAKERS.search(arg):
            refusal = "501 5.5.2 Syntax error: control character in argument"
        if refusal is None:
            await command(self, arg)
        else:
            await self.push(refusal)
    return guarded


class _InputEndsSession(asyncio.StreamReader):
    """The command reader: the end of the client's input ends the session like a lost connection.

    aiosmtpd ends a session on a lost connection by the CancelledError it gets while reading; at the end of input
    (after eof_received, below) the reader raises IncompleteReadError instead, which aiosmtpd would answer with
    "500" and read again, for ever.
    """

    transcript = SILENT
    data_lines = -1  # inside DATA: the lines of the message read so far (one event in the transcript)
    data_size = 0  # ... their size
    data_start: list[bytes] = []  # ... the first of them, up to MAX_TEXT bytes: what the transcript shows

    async def readuntil(self, separator=b"\n"):
        try:
            line = await super().readuntil(separator)
        except asyncio.IncompleteReadError:
            raise asyncio.CancelledError("the client closed its half of the connection") from None
        if self.data_lines < 0:
            self.transcript.client(line)  # HOOK: every line in (transcripts)
            return line
        if self.data_size < MAX_TEXT:  # a message is one event, told when its last line is in
            self.data_start.append(line)
        self.data_lines, self.data_size = self.data_lines + 1, self.data_size + len(line)
        if line == b".\r\n":
            self.transcript.client(b"".join(self.data_start), size=self.data_size)
            self.data_lines, self.data_size, self.data_start = -1, 0, []
        return line


class CourseSMTP(SMTP):
    """aiosmtpd's protocol, with the course's limits and answers to the end of input."""

    def __init__(self, handler, limit: ConnectionLimit, state_dir, service=None, **kwargs):
        super().__init__(handler, **kwargs)
        self.limit, self.service = limit, service
        self.admitted_from: str | None = None  # the address counted in the limit
        self.transcript = SILENT
        self.reply_more = False  # the last reply line pushed was "NNN-": the next one continues it
        self._stream_reader.__class__ = _InputEndsSession
        # One protocol object per connection: the provider profile (wire/profiles.py) it follows,
        # and AUTH XOAUTH2/OAUTHBEARER offered only when the profile has OAuth2.
        self.state_dir = state_dir
        self.profile = profiles.active(state_dir)
        oauth2 = {name: self._auth_methods.pop(name) for name in ("XOAUTH2", "OAUTHBEARER")}
        if self.profile is not None and self.profile.oauth:
            self._auth_methods.update(oauth2)
        if self.profile is not None:  # a provider relays nothing for a client that did not log in
            self._auth_required = True

    def connection_made(self, transport) -> None:
        if self._original_transport is None and self.admitted_from is None and not self._admit(transport):
            return  # a new connection (not STARTTLS's) beyond the limit
        super().connection_made(transport)

    def _admit(self, transport) -> bool:
        """Open the transcript and count the connection; one too many gets 421 and the end."""
        peer = transport.get_extra_info("peername") or ("unknown",)
        if self.service is not None:
            self.transcript = self._stream_reader.transcript = open_transcript(
                self.service, peer, transport.get_extra_info("ssl_object") is not None)
        if not self.limit.admit(peer[0]):
            busy = f"421 4.7.0 {HOSTNAME} Too many connections, try again later\r\n"
            self.transcript.server(busy)
            self.transcript.close()
            transport.write(busy.encode())
            transport.close()
            return False
        self.admitted_from = peer[0]
        return True

    async def _handle_client(self) -> None:
        if (refusal := await fault_hooks.smtp_stage(self, "connect")) is not None:  # a fault instead of the greeting
            await self.push(refusal)
            return
        await super()._handle_client()

    def data_received(self, data: bytes) -> None:
        if not fault_hooks.smtp_incoming(self, data):  # a fault may cut the connection mid-DATA
            super().data_received(data)

    def connection_lost(self, error) -> None:
        if self.admitted_from is None:
            return  # refused in connection_made: aiosmtpd never saw it
        self.limit.release(self.admitted_from)
        self.admitted_from = None
        self.transcript.close()
        super().connection_lost(error)

    def eof_received(self) -> bool:
        """The client will send nothing more: answer what it sent, then close (see _InputEndsSession).

        (aiosmtpd would drop the commands still unanswered.) True keeps our sending half of a plain TCP connection
        open; TLS ignores the value.
        """
        self._reader.feed_eof()
        return not self._over_ssl and (self.session is None or self.session.ssl is None)

    @functools.wraps(SMTP.smtp_STARTTLS, assigned=())  # its syntax and "only with a TLS context", our doc
    async def smtp_STARTTLS(self, arg: str):
        """aiosmtpd's STARTTLS, with the TLS layer that lets the client half-close (half_close.py)."""
        if arg or not self.tls_context:
            return await super().smtp_STARTTLS(arg)
        await self.push("220 Ready to start TLS")
        waiter = self.loop.create_future()
        self._tls_protocol = half_close.HalfCloseSSLProtocol(self.loop, self, self.tls_context, waiter,
                                                             server_side=True)
        self._original_transport = self.transport
        self._original_transport.set_protocol(self._tls_protocol)
        self.transport = self._tls_protocol._app_transport
        self._tls_protocol.connection_made(self._original_transport)
        try:
            await waiter
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise TLSSetupException() from error
        self.transcript.secure()

    async def push(self, status):
        """HOOK: every reply line out (a multi-line reply is one event of the transcript)."""
        line = status.encode("utf-8", "surrogateescape") if isinstance(status, str) else status
        more_follows = line[3:4] == b"-"
        self.transcript.server(line, more=self.reply_more, flush=not more_follows, last=line.startswith(b"221 "))
        self.reply_more = more_follows
        if line.startswith(b"354"):
            self._reader.data_lines, self._reader.data_size, self._reader.data_start = 0, 0, []
        await super().push(status)

    async def auth_XOAUTH2(self, _, args: list[str]) -> AuthResult:
        return await self.oauth2("XOAUTH2", args)

    async def auth_OAUTHBEARER(self, _, args: list[str]) -> AuthResult:
        return await self.oauth2("OAUTHBEARER", args)

    async def oauth2(self, mechanism: str, args: list[str]) -> AuthResult:
        """AUTH XOAUTH2 / OAUTHBEARER (RFC 7628) with an access token from the course's endpoint (wire/oauth.py).

        A bad or expired token: Gmail sends the error as a 334 challenge (base64 JSON), the client answers (an empty
        line), then 535; others answer 535 at once.
        """
        if len(args) == 1:
            response = await self.challenge_auth("")
            if response is MISSING:
                return AuthResult(success=False, handled=True)  # challenge_auth answered
        else:
            try:
                response = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await self.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        parsed = oauth.parse_sasl(mechanism, response)
        if parsed is not None and oauth.check_access_token(self.state_dir, parsed[1], parsed[0]) == "ok":
            return AuthResult(success=True, auth_data=oauth.account(parsed[0]))
        if self.profile.oauth_challenge and await self.challenge_auth(oauth.ERROR_JSON) is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=self.profile.reply("smtp", profiles.FAILED))

    smtp_HELO = _guarded(SMTP.smtp_HELO)
    smtp_EHLO = _guarded(SMTP.smtp_EHLO)
    smtp_MAIL = _guarded(SMTP.smtp_MAIL, "MAIL")
    smtp_RCPT = _guarded(SMTP.smtp_RCPT, "RCPT")
    smtp_DATA = _guarded(SMTP.smtp_DATA, "DATA", plain_text=False)

    def _getaddr(self, arg: str):
        """MAIL FROM/RCPT TO address and parameters, with a fast path for "<user@domain> ...".

        aiosmtpd's RFC 5322 parser takes 77 µs, a sixth of the server's time per message: the plain form almost
        every client sends is read with a regular expression, anything else ("<>", quotes, routes, non-ASCII) by it.
        """
        match = _PLAIN_ADDRESS.match(arg or "")
        if match is None or "(" in match.group(2):  # a comment: let the full parser drop it
            return super()._getaddr(arg)
        return match.group(1), match.group(2)


_PLAIN_ADDRESS = re.compile(r"\s*<([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                            r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>\s*(.*)\Z", re.S)


class MailHandler:
    """aiosmtpd's extension points: decide on each recipient, store each message."""

    def __init__(self, mail_dir, log: logging.Logger):
        self.mail_dir, self.log = mail_dir, log

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        user = mailstore.local_user(address)
        if user is not None and user not in mailstore.USERS:
            return f"550 5.1.1 <{address}>: no such user here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        """Store the message for every recipient; answer 250 only once it is on disk."""
        if (refusal := await fault_hooks.smtp_stage(server, "EOD")) is not None:  # a fault answers the data instead
            return refusal
        data = envelope.original_content
        when = time.time()
        local = sorted({mailstore.local_user(r) for r in envelope.rcpt_tos} - {None})
        outside = [r for r in envelope.rcpt_tos if mailstore.local_user(r) is None]
        try:
            for user in local:
                trace = self.trace(server, session, envelope, f"{user}@{config.MAIL_DOMAIN}", when)
                mailstore.deliver(self.mail_dir, user, trace + data, when)
            if outside:  # one copy for all of them, saying who they were
                header = f"X-Envelope-To: {', '.join(outside)}\r\n".encode("utf-8", "surrogateescape")
                trace = self.trace(server, session, envelope, outside[0], when)
                mailstore.deliver(self.mail_dir, mailstore.CATCHALL, header + trace + data, when)  # kept, never sent
        except OSError:
            self.log.exception("could not store a message from %s", envelope.mail_from)
            return "451 4.3.0 Local error while storing the message; try again later"
        self.log.info("stored %d octets from <%s> for %s", len(data), envelope.mail_from, ", ".join(envelope.rcpt_tos))
        return f"250 2.0.0 OK: stored for {len(envelope.rcpt_tos)} recipient(s)"

    @staticmethod
    def trace(server, session, envelope, recipient: str, when: float) -> bytes:
        """The headers a real MTA adds: where the message came from, and the envelope sender."""
        peer = session.peer[0] if session.peer else "unknown"
        tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        # RFC 3848: ESMTP, plus S for TLS and A for an authenticated client; RFC 6531 §3.7.3:
        # UTF8SMTP instead of ESMTP when the client asked for SMTPUTF8 (UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA).
        kind = "UTF8SMTP" if envelope.smtp_utf8 else "ESMTP" if session.extended_smtp else "SMTP"
        protocol = kind + "S" * tls + "A" * bool(session.authenticated)
        received = (f"Received: from {session.host_name or 'unknown'} ([{peer}])\r\n"
                    f"\tby {HOSTNAME} with {protocol}\r\n"
                    f"\tfor <{recipient}>; {formatdate(when, localtime=True)}\r\n")
        return f"Return-Path: <{envelope.mail_from or ''}>\r\n{received}".encode("utf-8", "surrogateescape")


def check_password(server, session, envelope, mechanism: str, auth_data) -> AuthResult:
    """aiosmtpd's authenticator: the course's accounts, by user name or full address."""
    if isinstance(auth_data, LoginPassword):
        login = auth_data.login.decode("utf-8", "replace")
        user, verdict = profiles.check_login(server.profile, server.state_dir, mailstore.local_user(login) or login,
                                             auth_data.password.decode("utf-8", "replace"))
        if user is not None:
            server.transcript.login(user)
            return AuthResult(success=True, auth_data=user)
        if server.profile is not None:  # the provider's words (wire/profiles.py)
            return AuthResult(success=False, handled=False, message=server.profile.reply("smtp", verdict))
    # handled=False: aiosmtpd answers 535 itself (handled=True would leave the client waiting)
    return AuthResult(success=False, handled=False)


class SMTPService(MailService):
    """SMTP on "smtp" (STARTTLS) and "smtps" (implicit TLS), delivering into the mail store."""

    name = "smtp"
    listeners = ("smtp", "smtps")
    options = OPTIONS

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        mail_log = logging.getLogger("mail.log")  # aiosmtpd logs every command at INFO: too much
        mail_log.setLevel(logging.WARNING)
        mail_log.addFilter(_not_noise)  # once: logging skips a filter it has already
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        classroom = self.ctx.classroom  # a class server: AUTH always, and only as yourself (classroom/)
        handler = (classroom.mail_handler(MailHandler, self.data_dir, self.log) if classroom
                   else MailHandler(self.data_dir, self.log))
        tls = fault_hooks.watch_tls(self.ctx.server_ssl_context(), self.name)
        common = dict(hostname=HOSTNAME, ident=IDENT, data_size_limit=MAX_MESSAGE_SIZE, authenticator=check_password,
                      enable_SMTPUTF8=True,  # RFC 6531: non-ASCII addresses, as smtplib.send_message can send
                      auth_required=self.ctx.public or classroom is not None, loop=loop,
                      state_dir=self.ctx.data_dir.parent,
                      limit=ConnectionLimit.of(self), service=self)  # one count for both ports
        plain_sock, tls_sock = listen(self.ctx, "smtp"), listen(self.ctx, "smtps")
        # On the implicit-TLS port the connection is already encrypted: AUTH needs no STARTTLS.
        implicit_tls = functools.partial(CourseSMTP, handler, auth_require_tls=False, **common)
        smtps = await loop.create_server(half_close.tls_protocol_factory(loop, implicit_tls, tls), sock=tls_sock)
        self.servers = [
            await loop.create_server(lambda: CourseSMTP(handler, tls_context=tls, **common), sock=plain_sock), smtps]

    async def stop(self) -> None:
        await close_servers(self.servers)

    def extra_info(self) -> dict:
        return {"catchall_mailbox": str(mailstore.user_dir(self.data_dir, mailstore.CATCHALL)),
                "max_message_size": MAX_MESSAGE_SIZE, "auth_required": self.ctx.public or self.ctx.classroom is not None}
