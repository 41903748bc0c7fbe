"""What a fault does on the wire: the calls each server makes at its hook points.

faults.py decides *whether* a fault hits (the table); this module makes it
happen in each kind of server, so that every server's own code changes by a
line or two:

- the line engine (POP3, IMAP, NNTP): line_connect() before the greeting,
  line_command() in LineSession.intercepted() (which run() calls), line_send() in LineSession.send();
- SMTP on aiosmtpd: smtp_stage() before the reply to connect, MAIL, RCPT,
  DATA and the end of data, smtp_incoming() for the bytes of DATA;
- FTP on pyftpdlib (its own thread): ftp_connect(), ftp_command(), and
  CutProducer for a download that stops part-way;
- TLS: watch_tls() gives a server context an SNI callback that swaps in a
  context with a bad certificate while a cert fault is in force, so new
  handshakes (implicit TLS and STARTTLS alike) fail verification and no
  listener restarts (watch_ftp_tls(): the same for FTPS's pyOpenSSL context).

Every hook starts with ``faults.TABLE is None`` (no table in this process:
nothing to do) or one dictionary look-up when the table is empty, so a
server without faults pays next to nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import ssl

from . import faults

#: The greylisting reply (RFC 6647 4.2: a temporary failure, 451 4.7.1 as Postgrey and others send).
GREYLISTED = "451 4.7.1 Greylisted: please try again later"


class _State:
    """What a fault left on one connection: say nothing more, or close after so many octets."""

    silent = False
    cut: int | None = None


def _state(connection) -> _State:
    state = connection.__dict__.get("fault_state")
    if state is None:
        state = connection.fault_state = _State()
    return state


# -- the line engine: POP3, IMAP, NNTP ------------------------------------------------


def _line_reply(session, fault: faults.Fault) -> bytes:
    service = session.service.name
    if service == "imap":  # a tagged reply, to the command's tag
        tag = session.line_start.split(b" ", 1)[0].decode("ascii", "replace") or "*"
        return f"{tag} {fault.reply(service)}\r\n".encode()
    return f"{fault.reply(service)}\r\n".encode()


def line_connect(session) -> bool:
    """HOOK (LineSession.connection_made): True when a fault took over the greeting."""
    table = faults.TABLE
    if table is None:
        return False
    table.refresh(force=True)
    service = session.service.name
    fault = table.find(service, "connect")
    if fault is None:
        return False
    table.fire(fault, service, session, session.peer, "at the greeting")
    if fault.kind == "reply":
        session.close(_line_reply(session, fault))
    elif fault.kind == "silent":
        _state(session).silent = True
    elif fault.kind == "delay":
        asyncio.get_running_loop().call_later(fault.delay, session.send, session.greeting())
    elif fault.kind == "drop":
        _state(session).cut = fault.after_bytes
        return False
    return True


def line_command(session, verb: str, method):
    """HOOK (LineSession.run): the method to run (perhaps delayed), or None when a fault answered instead."""
    table = faults.TABLE
    if table is None:
        return method
    state = session.__dict__.get("fault_state")
    if state is not None and state.silent:
        return None
    service = session.service.name
    if table.quiet(service):
        return method
    fault = table.find(service, verb, getattr(session, "user", None) or ())
    if fault is None:
        return method
    table.fire(fault, service, session, session.peer, f"at {verb}")
    if fault.kind == "reply":
        reply = _line_reply(session, fault)
        if service == "nntp" and verb == "POST" and fault.code == "441":
            return _refuse_block(session, method, reply)  # 441 answers the article (RFC 3977 6.3.1)
        if fault.closes(service):
            session.close(reply)
        else:
            session.send(reply)
        return None
    if fault.kind == "silent":
        _state(session).silent = True
        return None
    if fault.kind == "drop":
        _state(session).cut = fault.after_bytes
        return method
    return _delayed(method, fault.delay)


def _delayed(method, seconds: float):
    async def later(*args):
        await asyncio.sleep(seconds)
        reply = method(*args)
        return (await reply) if inspect.isawaitable(reply) else reply
    return later


def _refuse_block(session, method, reply: bytes):
    """Run the command (it asks for a block, e.g. NNTP's article), then answer the block with `reply`."""
    def refusing(*args):
        result = method(*args)
        if session.block is not None:
            limit, _done, too_big, fresh = session.block
            session.block = (limit, lambda data: reply, too_big, fresh)
        return result
    return refusing


def line_send(session, reply):
    """HOOK (LineSession.send): the reply to write, or None (said nothing, or wrote part of it and closed)."""
    state = session.__dict__.get("fault_state")
    if state is None or not reply:
        return reply
    if state.silent:
        return None
    if state.cut is None:
        return reply
    data = reply.encode("utf-8") if isinstance(reply, str) else reply
    if len(data) < state.cut:
        state.cut -= len(data)
        return data
    if session.transport is not None and not session.transport.is_closing():
        session.transport.write(data[:state.cut])
        transcript = getattr(session, "transcript", None)
        if transcript is not None:  # what did go out, before the cut
            transcript.server(data[:state.cut])
        session.transport.close()
    state.cut = 0
    return None


# -- SMTP (aiosmtpd) -------------------------------------------------------------------

_ADDRESS = re.compile(r"<([^>]*)>")


def _smtp_users(server, stage: str, arg: str) -> set:
    """The accounts a stage concerns: the logged-in user, the sender, the recipient(s)."""
    from ..mail import mailstore

    names = set()
    auth = getattr(server.session, "auth_data", None) if server.session is not None else None
    if isinstance(auth, str):
        names.add(auth)
    envelope = server.envelope
    addresses = [envelope.mail_from or ""] if envelope is not None else []
    if stage in ("MAIL", "RCPT"):
        match = _ADDRESS.search(arg or "")
        addresses.append(match.group(1) if match else "")
    elif envelope is not None:
        addresses += envelope.rcpt_tos
    names.update(filter(None, (mailstore.local_user(a) for a in addresses if a)))
    return names


async def smtp_stage(server, stage: str, arg: str = "") -> str | None:
    """HOOK (CourseSMTP): before `stage` is answered: None to go on, or the reply to send instead.

    A reply that closes the session (421) closes it once written.
    """
    table = faults.TABLE
    if table is None:
        return None
    if stage == "connect":
        table.refresh(force=True)
    if table.quiet("smtp"):  # before working out whom the stage concerns
        return None
    fault = table.find("smtp", stage, _smtp_users(server, stage, arg) if stage != "connect" else ())
    if fault is None:
        return None
    peer = server.session.peer if server.session is not None else None
    if fault.kind == "greylist":
        match = _ADDRESS.search(arg or "")
        triple = ((peer or ("?",))[0], (server.envelope.mail_from or "").lower(),
                  (match.group(1) if match else arg).lower())
        if not table.greylisted(fault, triple):
            return None
        table.fire(fault, "smtp", server, peer, f"{triple[1]} -> {triple[2]}")
        return GREYLISTED
    table.fire(fault, "smtp", server, peer, f"at {stage}")
    if fault.kind == "reply":
        if fault.closes("smtp") or stage == "connect":
            server.loop.call_soon(_close, server)  # after the reply is written
        return fault.reply("smtp")
    if fault.kind == "delay":
        await asyncio.sleep(fault.delay)
    elif fault.kind == "silent":
        await asyncio.Event().wait()  # until the connection goes (aiosmtpd cancels us)
    elif fault.kind == "drop":
        server.fault_cut = fault.after_bytes
    return None


def _close(server) -> None:
    if server.transport is not None:
        server.transport.close()


def smtp_incoming(server, data: bytes) -> bool:
    """HOOK (CourseSMTP.data_received): True when the connection was cut (mid-DATA) instead."""
    cut = server.__dict__.get("fault_cut")
    if cut is None:
        return False
    if len(data) < cut:
        server.fault_cut = cut - len(data)
        return False
    server.fault_cut = None
    if server.transport is not None:
        server.transport.abort()
    return True


# -- FTP (pyftpdlib, in the FTP server's thread) -------------------------------------------------


def _ftp_reply(handler, fault: faults.Fault) -> None:
    handler.respond(fault.reply("ftp"))
    if fault.closes("ftp"):
        handler.close_when_done()


def ftp_connect(handler, go_on) -> bool:
    """HOOK (CourseFTPHandler.handle): True when a fault took over the banner (go_on() sends it later)."""
    table = faults.TABLE
    if table is None:
        return False
    table.refresh(force=True)
    fault = table.find("ftp", "connect")
    if fault is None:
        return False
    table.fire(fault, "ftp", handler, (handler.remote_ip, handler.remote_port), "at the banner")
    if fault.kind == "reply":
        handler.respond(fault.reply("ftp"))
        handler.close_when_done()
    elif fault.kind == "silent":
        handler.fault_silent = True
    elif fault.kind == "delay":
        handler.ioloop.call_later(fault.delay, go_on)
    else:
        return False
    return True


def ftp_command(handler, cmd: str, go_on) -> bool:
    """HOOK (CourseFTPHandler.pre_process_command): True when a fault answered (or will: go_on())."""
    table = faults.TABLE
    if table is None:
        return False
    if handler.__dict__.get("fault_silent"):
        return True
    fault = table.find("ftp", cmd, handler.username or ())
    if fault is None:
        return False
    table.fire(fault, "ftp", handler, (handler.remote_ip, handler.remote_port), f"at {cmd}")
    if fault.kind == "reply":
        _ftp_reply(handler, fault)
    elif fault.kind == "silent":
        handler.fault_silent = True
    elif fault.kind == "delay":
        handler.ioloop.call_later(fault.delay, go_on)
    else:  # drop: the next download stops after so many octets
        handler.fault_cut = fault.after_bytes
        return False
    return True


def ftp_cut(handler) -> int | None:
    """The octets the download starting now may send (a drop fault fired on its command), or None."""
    return handler.__dict__.pop("fault_cut", None)


class CutProducer:
    """A download producer that stops after `limit` octets (the data connection then closes: 426)."""

    def __init__(self, producer, limit: int):
        self.producer, self.left = producer, limit
        self.file = getattr(producer, "file", None)

    def more(self) -> bytes:
        if self.left <= 0:
            return b""
        data = self.producer.more()[:self.left]
        self.left -= len(data)
        return data


# -- TLS: a certificate that fails verification ---------------------------------------------------


def watch_tls(context: ssl.SSLContext, service: str) -> ssl.SSLContext:
    """HOOK (where a service makes its server context): bad certificates for new handshakes, on demand."""
    def choose(ssl_object, server_name, original):
        table = faults.TABLE
        if table is None:
            return None
        table.refresh(force=True)
        fault = table.find(service, "tls")
        if fault is not None:
            ssl_object.context = bad_context(table, fault.cert)
            table.fire(fault, service, None, server_name, "in the TLS handshake")
        return None

    context.sni_callback = choose
    return context


def watch_ftp_tls(context, make_context):
    """watch_tls() for pyOpenSSL's context (FTPS): make_context(cert_file, key_file) builds the bad one."""
    def choose(connection):
        table = faults.TABLE
        if table is None:
            return
        table.refresh(force=True)
        fault = table.find("ftp", "tls")
        if fault is not None:
            from ..tls import bad_certificate

            connection.set_context(make_context(*map(str, bad_certificate(table.state_dir / "tls", fault.cert))))
            table.fire(fault, "ftp", None, connection.get_servername(), "in the TLS handshake")

    context.set_tlsext_servername_callback(choose)
    return context


def bad_context(table: faults.Table, kind: str) -> ssl.SSLContext:
    """A server context presenting the `kind` certificate (made, and signed by the course CA, on first use)."""
    context = table.bad_contexts.get(kind)
    if context is None:
        from ..tls import bad_certificate

        cert_file, key_file = bad_certificate(table.state_dir / "tls", kind)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_file, key_file)
        table.bad_contexts[kind] = context
    return context
