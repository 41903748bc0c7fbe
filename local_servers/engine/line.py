"""One connection engine for the line protocols POP3, NNTP and IMAP (decision 0005 tells its design).

LineSession is the transport side: lines of at most ``max_line`` octets, IMAP's literals, NNTP's
dot-terminated blocks, idle timers, back-pressure, STARTTLS, half-close, a registry of connections. A
protocol subclass is a command table (name -> Command) and one method per command, ``cmd_<NAME>(arg)``,
returning its whole reply (one write: a delayed ACK between two costs 40 ms), or an awaitable for work
that grows with stored data; no further command is taken until it is done, so replies stay in order.

HOOK: transcripts and fault injection plug in at ``received()`` (everything in) and ``send()`` (every reply out).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import re
from dataclasses import dataclass, field
from functools import cached_property

from . import half_close
from ..limits import OPTIONS, ConnectionLimit
from ..service import Option, Service, close_servers, listen
from ..wire import fault_hooks
from ..wire.transcripts import SILENT, open_transcript

#: Stop reading from a client whose unprocessed input grows beyond this.
READ_BUFFER_HIGH = 256 * 1024

#: The worker threads of in_thread(): a few, since the work is mostly reading files.
THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="engine")
#: Octets no command line may hold (a tab may separate words).
CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class Command:
    """One row of a protocol's command table."""

    syntax: str  # the arguments as help shows them ("" if none)
    summary: str
    grammar: str = ""  # a regular expression the whole argument must match
    states: tuple = ()  # the session states it is valid in (empty: every state)
    needs_group: bool = False  # NNTP: 412 unless a group is selected (or a message-id is given)

    @cached_property
    def regex(self) -> re.Pattern:
        return re.compile(self.grammar, re.IGNORECASE | re.DOTALL)


def dot_stuff(data: bytes) -> bytes:
    """Reply data (CRLF lines) as sent: each line's leading "." doubled, lest it read as the end, then the final "."."""
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


@dataclass
class Registry:
    """The open connections of one service, bounded in total and per client address."""

    limit: ConnectionLimit
    sessions: set[LineSession] = field(default_factory=set)

    def admit(self, session: "LineSession") -> bool:
        """Count a new connection in, or answer the protocol's "too many connections" and close it."""
        if not self.limit.admit(session.address):
            session.close(session.error("busy"))
            return False
        self.sessions.add(session)
        return True

    def leave(self, session: "LineSession") -> None:
        if session in self.sessions:
            self.sessions.discard(session)
            self.limit.release(session.address)


class LineSession(asyncio.Protocol):
    """One client connection of a line protocol. Subclasses set the class attributes and cmd_ methods."""

    commands: dict[str, Command] = {}
    max_line = 512  # octets with the CRLF
    encoding = "utf-8"  # what a command line must decode as
    state = ""  # matched against Command.states
    transcript = SILENT  # the connection's dialogue (wire/transcripts.py), from connection_made on

    def __init__(self, service: "LineService", tls: bool):
        self.service, self.tls = service, tls
        self.log = service.log
        self.buf = bytearray()
        self.pos = 0  # start of the unread input in buf
        self.transport: asyncio.Transport | None = None
        self.address = self.peer = None
        self.skipping = False  # inside the tail of an overlong line
        self.paused = False  # the client does not read our replies: take no more commands
        self.busy = False  # an awaitable reply, a STARTTLS or a shutdown is under way
        self.eof = False  # the client will send nothing more
        self.reading_paused = False
        self.block: tuple | None = None  # see read_block()
        self.command_parts: list[bytes] = []  # a command with literals, until its last line
        self.literal_left = 0
        self.last_active = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Future | None = None  # the last awaitable reply or TLS upgrade (a Task needs a reference)
        self.line_waiter = self.drain_waiter = None  # the futures read_line() and drain() wait on
        self.line_start = b""  # the first octets of the command being read (an error reply may need its tag)
        self.held = 0  # octets of the command read so far, when a literal is announced

    # -- what a protocol supplies ---------------------------------------------

    def greeting(self) -> bytes:
        raise NotImplementedError

    def error(self, kind: str, **details) -> bytes:
        """The protocol's reply to an engine-level error `kind` (details: verb, syntax, limit): too_long, not_text,
        empty, unknown, state, syntax, internal, busy, idle, literal and literal_closing (IMAP: a literal too big)."""
        raise NotImplementedError

    def check(self, verb: str, command: Command, arg: str) -> bytes | None:
        """A protocol's own precondition beyond the table (e.g. NNTP's 412); an error reply or None."""
        return None

    def literal(self, line: bytes) -> int | None:
        """IMAP: n for a line ending in {n} or {n+}, else None. The engine sends continuation() for {n},
        reads n octets verbatim into the same command, and dispatches the command when it is whole."""
        return None

    def max_literal(self) -> int:
        """The largest literal the session takes now (``held``: octets of the command read so far)."""
        return 0

    def continuation(self) -> bytes:
        return b"+ Ready for literal data\r\n"

    def closed(self) -> None:
        """The connection is gone: release what the session holds."""

    def split(self, text: str) -> tuple[str, str]:
        """A command line as (verb, argument)."""
        verb, _, arg = text.partition(" ")
        return verb, arg

    # -- asyncio's side ---------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        self.address = self.peer[0] if self.peer else None
        self.transcript = open_transcript(self.service, self.peer, self.tls)
        if not self.service.registry.admit(self):  # one too many: the busy reply went out
            self.transport = None
            return
        loop = asyncio.get_running_loop()
        self.last_active = loop.time()
        self.timer = loop.call_later(self.service.idle_timeout, self._idle_check)
        if not fault_hooks.line_connect(self):  # a fault may answer, delay or withhold the greeting
            self.send(self.greeting())

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.process()
        if len(self.buf) - self.pos > self._read_high() and not self.reading_paused and self.transport:
            self.reading_paused = True
            self.transport.pause_reading()

    def eof_received(self):
        """A TCP FIN or a TLS close_notify (half_close.py): answer what was sent, then close."""
        self.eof = True
        self.process()
        return True  # keep our side open until the replies are out

    def connection_lost(self, exc) -> None:
        self.service.registry.leave(self)
        self.transcript.close()
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None
        _wake(self.line_waiter)
        _wake(self.drain_waiter)
        self.closed()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        _wake(self.drain_waiter)
        self.process()

    # -- the engine ---------------------------------------------------------------

    def process(self) -> None:
        """Handle every complete line in the buffer that may be handled now."""
        while self.transport is not None and not self.transport.is_closing():
            if (self.busy and self.line_waiter is None) or self.paused:
                return
            if self.literal_left or self.block is not None:  # octets counted, or up to a lone "."
                if not (self._take_literal() if self.literal_left else self._take_block()):
                    break
                continue
            end = self.buf.find(b"\n", self.pos)
            if end < 0:
                if len(self.buf) - self.pos > self.max_line:  # no line end in sight: drop it, answer at its end
                    if not self.skipping:
                        self.line_start = bytes(self.buf[self.pos:self.pos + 200])
                    self.skipping, self.pos = True, len(self.buf)
                break
            line = bytes(self.buf[self.pos:end + 1])
            self.pos = end + 1
            if self.skipping or len(line) > self.max_line:
                if not self.skipping:
                    self.line_start = line[:200]
                self.skipping = False
                self.command_parts.clear()
                self.send(self.error("too_long", limit=self.max_line))
                continue
            self.last_active = asyncio.get_running_loop().time()
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            if self.line_waiter is not None:  # a command method reads this line itself
                self.received(line)
                _wake(self.line_waiter, line)
                self.line_waiter = None
                continue
            self._line(line)
        self._compact()
        if self.eof:
            self._end_after_half_close()

    def _end_after_half_close(self) -> None:
        """After the client's last octets (eof_received): once no whole line is left, a read_line() gets
        None, and the session closes as soon as it owes no reply."""
        if self.buf.find(b"\n", self.pos) < 0:
            _wake(self.line_waiter)
            self.line_waiter = None
            if self.transport is not None and not self.busy and not self.transport.is_closing():
                self.transport.close()  # every reply owed before the FIN is written

    def _read_high(self) -> int:
        """Unprocessed input beyond which reading pauses (a block is held whole, up to its limit)."""
        return READ_BUFFER_HIGH + (self.block[0] if self.block is not None else 0)

    def _compact(self) -> None:
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0
        if self.reading_paused and len(self.buf) < self._read_high() and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()

    def _take_literal(self) -> bool:
        chunk = bytes(self.buf[self.pos:self.pos + self.literal_left])
        self.pos += len(chunk)
        self.literal_left -= len(chunk)
        self.command_parts.append(chunk)
        if chunk:  # nothing of the literal has arrived yet: nothing was received
            self.received(chunk)
        return self.literal_left == 0

    def _line(self, line: bytes) -> None:
        self.received(line)
        if not self.command_parts:
            self.line_start = line[:200]
        if CONTROL.search(line):  # a command line is text; only a literal may carry any octet
            self.command_parts.clear()
            self.send(self.error("not_text"))
            return
        if (size := self.literal(line)) is not None:
            self.held = sum(map(len, self.command_parts)) + len(line)
            limit = self.max_literal()
            if size > limit:
                self.command_parts.clear()
                if line.endswith(b"+}"):  # the octets are on their way: refuse them and hang up (RFC 7888 4)
                    self.close(self.error("literal_closing", limit=limit))
                else:  # the client waits for the go-ahead: refuse and go on
                    self.send(self.error("literal", limit=limit))
                return
            self.command_parts.append(line + b"\r\n")
            self.literal_left = size
            if not line.endswith(b"+}"):
                self.send(self.continuation())
            return
        if self.command_parts:
            line = b"".join(self.command_parts) + line
            self.command_parts.clear()
        self.dispatch(line)

    def received(self, line: bytes) -> None:
        """HOOK: every command line (and literal) in. Transcripts and fault injection go here."""
        self.transcript.client(line)

    def send(self, reply: bytes | str | None) -> None:
        """HOOK: every reply out, whole, in one write. Transcripts and fault injection go here."""
        reply = fault_hooks.line_send(self, reply)  # a fault may withhold it, or cut the connection in it
        if reply and self.transport is not None and not self.transport.is_closing():
            self.transcript.server(reply)
            self.transport.write(reply.encode("utf-8") if isinstance(reply, str) else reply)

    def dispatch(self, line: bytes) -> None:
        """Check a command line against the table and run its cmd_<NAME> method."""
        try:
            text = line.decode(self.encoding)
        except UnicodeDecodeError:
            self.send(self.error("not_text"))
            return
        verb, arg = self.split(text)
        verb = verb.upper()
        command = self.commands.get(verb)
        if not verb:
            refusal = self.error("empty")
        elif command is None:
            refusal = self.error("unknown", verb=verb[:40])
        elif command.states and self.state not in command.states:
            refusal = self.error("state", verb=verb)
        elif command.regex.fullmatch(arg) is None:
            refusal = self.error("syntax", verb=verb, syntax=command.syntax)
        else:
            refusal = self.check(verb, command, arg)
        if refusal is None:
            self.run(verb, getattr(self, f"cmd_{verb.replace('.', '_')}"), arg)
        else:
            self.send(refusal)

    def run(self, verb: str, method, *args) -> None:
        """Run a command method and send its reply, now or (an awaitable) when it is done."""
        if (method := self.intercepted(verb, method)) is None:
            return
        try:
            reply = method(*args)
            if inspect.iscoroutine(reply):
                reply = self._start(reply)
        except Exception:  # a bug must cost this command, never the session or the server
            self.log.exception("%s failed for %s", verb, self.peer)
            self.send(self.error("internal", verb=verb))
            return
        if inspect.isawaitable(reply):
            self.busy = True
            self.task = asyncio.ensure_future(reply)
            self.task.add_done_callback(lambda task: self._finished(task, verb))
        else:
            self.send(reply)

    def intercepted(self, verb: str, method):
        """The method to run, or None if a class server's rate limit (classroom/) or a fault answered instead."""
        classroom = self.service.ctx.classroom
        if classroom is not None and (refusal := classroom.throttle(self, verb)) is not None:
            self.send(refusal)
            return None
        return fault_hooks.line_command(self, verb, method)  # a fault may also delay the method

    def _start(self, coroutine):
        """Run a coroutine reply up to its first wait: its reply if it ends before one (most IMAP commands
        never wait: no Task for them), else an awaitable for the rest."""
        try:
            waits_for = coroutine.send(None)
        except StopIteration as done:
            return done.value
        return self._go_on(coroutine, waits_for)

    @staticmethod
    async def _go_on(coroutine, waits_for):
        """The rest of a coroutine _start() began, on the loop (what a Task would do)."""
        try:
            while True:  # a bare yield (None) gives the loop one turn; a future is waited for
                await (asyncio.sleep(0) if waits_for is None else asyncio.wait({waits_for}))
                waits_for = coroutine.send(None)
        except StopIteration as done:
            return done.value
        finally:
            coroutine.close()

    def in_thread(self, function, *args):
        """function(*args) in a worker thread, as an awaitable reply."""
        return asyncio.wrap_future(THREADS.submit(function, *args))

    def _finished(self, task: asyncio.Future, verb: str) -> None:
        self.busy = False
        if task.cancelled():
            return
        if task.exception() is not None:
            self.log.error("%s failed for %s", verb, self.peer, exc_info=task.exception())
            self.send(self.error("internal", verb=verb))
        else:
            self.send(task.result())
        self.process()

    # -- services for command methods ---------------------------------------------

    def read_line(self) -> asyncio.Future:
        """The client's next line (without its line end), for a command that reads on (IMAP's IDLE,
        AUTHENTICATE); None if the connection ends first. Waiting for it counts as idle."""
        waiter = self.line_waiter = asyncio.get_running_loop().create_future()
        self.process()  # the line may be buffered already
        return waiter

    async def drain(self) -> None:
        """Wait while the client does not read our replies (a command that sends in pieces)."""
        if self.paused and self.transport is not None:
            self.drain_waiter = asyncio.get_running_loop().create_future()
            await self.drain_waiter
            self.drain_waiter = None

    def read_block(self, limit: int, done) -> None:
        """Read dot-terminated lines (NNTP POST), then send done(the data dot-unstuffed, CRLF; None if over limit),
        taken whole, not line by line: a 1 MB POST is a few searches and replaces, not 13,000 turns of a loop."""
        self.block = (limit, done, False, True)  # (limit, done, too big, nothing consumed yet)

    def _take_block(self) -> bool:
        """Consume the block if its end (a line holding only ".") is in the buffer; else keep a bounded tail."""
        limit, done, too_big, fresh = self.block
        self.last_active = asyncio.get_running_loop().time()
        if fresh and (self.buf.startswith(b".\r\n", self.pos) or self.buf.startswith(b".\n", self.pos)):
            end = self.pos - 1  # an empty block
        else:
            ends = [i for i in (self.buf.find(b"\n.\r\n", self.pos), self.buf.find(b"\n.\n", self.pos)) if i >= 0]
            if not ends:
                if len(self.buf) - self.pos > limit + 8:  # too big already: keep only what may hold the end
                    self.block = (limit, done, True, False)
                    self.pos = len(self.buf) - 4
                return False
            end = min(ends)
        data = bytes(self.buf[self.pos:end + 1])  # through the "\n" that ends the last line
        self.pos = self.buf.index(b"\n", end + 1) + 1
        self.received(data + b".\r\n")
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        data = (data[1:] if data.startswith(b".") else data).replace(b"\r\n.", b"\r\n")
        self.block = None
        self.send(done(None if too_big or len(data) > limit else data))
        return True

    def start_tls(self, reply: bytes | str) -> None:
        """Send `reply` (the go-ahead), drop the plaintext after the command, and upgrade."""
        self.send(reply)
        self.busy = True
        self.buf, self.pos = bytearray(), 0
        self.transport.pause_reading()  # the next bytes are the TLS handshake, not commands
        self.task = asyncio.ensure_future(self._upgrade())

    async def _upgrade(self) -> None:
        try:
            self.transport = await half_close.start_tls(self.transport, self, self.service.ssl_context)
        except (OSError, asyncio.TimeoutError) as exc:  # ssl.SSLError and ConnectionError are OSErrors
            self.log.info("TLS handshake with %s failed: %s", self.peer, exc)
            self.close()
            return
        if self.transport is None:
            return
        self.tls, self.busy, self.reading_paused = True, False, False
        self.transcript.secure()
        self.process()  # commands that arrived during the handshake

    def close(self, reply: bytes | str | None = None) -> None:
        """Send a last reply and close (close() writes what is buffered first)."""
        self.send(reply)
        if self.transport is not None:
            self.transport.close()

    def _idle_check(self) -> None:
        if self.transport is None:
            return
        loop = asyncio.get_running_loop()
        left = self.last_active + self.service.idle_timeout - loop.time()
        if left > 0.05 or (self.busy and self.line_waiter is None):
            self.timer = loop.call_later(max(left, 0.05), self._idle_check)
            return
        self.close(self.error("idle"))


class LineService(Service):
    """A service whose listeners are a plain port (with STARTTLS) and its implicit-TLS twin."""

    session: type[LineSession]
    options = {"idle_timeout": Option(float, 600.0, "seconds of silence before a session is closed"), **OPTIONS}

    async def start(self) -> None:
        self.idle_timeout = self.option("idle_timeout")
        self.registry = Registry(ConnectionLimit.of(self))
        self.ssl_context = fault_hooks.watch_tls(self.ctx.server_ssl_context(), self.name)
        self.opened()
        loop = asyncio.get_running_loop()
        plain, secure = self.listeners
        plain_sock = listen(self.ctx, plain)
        try:
            tls_sock = listen(self.ctx, secure)
        except OSError:
            plain_sock.close()
            raise
        self.servers = [
            await loop.create_server(lambda: self.session(self, tls=False), sock=plain_sock),
            await loop.create_server(half_close.tls_protocol_factory(
                loop, lambda: self.session(self, tls=True), self.ssl_context), sock=tls_sock),
        ]

    def opened(self) -> None:
        """Load what the sessions need (a store), before the first connection."""

    async def stop(self) -> None:
        """End the open connections, refuse new ones in the same turn of the loop, and wait a bounded time."""
        for session in list(self.registry.sessions):
            if session.transport is not None:
                session.transport.abort()
        await close_servers(self.servers)


def raise_fd_limit() -> int:
    """Raise the open-file soft limit to the hard limit; return the new soft limit. Every service shares the
    process's descriptors: at the usual 1,024, idle connections to one would leave the others no socket."""
    try:
        import resource
    except ImportError:  # Windows: no such limit on sockets
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):  # macOS caps it below RLIM_INFINITY
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
    return soft


def _wake(waiter: asyncio.Future | None, result=None) -> None:
    """Answer a waiting read_line() or drain(), if one waits."""
    if waiter is not None and not waiter.done():
        waiter.set_result(result)
