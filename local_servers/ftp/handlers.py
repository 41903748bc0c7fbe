"""The FTP protocol engine: pyftpdlib's handlers with the course's rules.

pyftpdlib already speaks FTP the way RFC 959 describes it: one method per command (ftp_USER, ftp_RETR, ftp_STOR, ...)
listed in a command table (`proto_cmds`), a control connection that carries the commands and replies, and a separate
data connection for each listing or file. This module only changes what the course needs changed:

- uploads are atomic: STOR writes to a hidden temporary file beside the target and renames it into place only when the
  whole file arrived, so a client that drops mid-upload never leaves half a file under the real name (one that closes
  the data connection cleanly and keeps its session, as ftplib does when a notebook cell is interrupted, sent a complete
  file);
- STOU checks the user's right to write *before* it creates a file;
- an overlong command line gets one 500 reply; a transfer command with no data connection to use gets 425 instead of
  waiting forever;
- binary downloads send straight from a memory map of the file in large chunks, so RETR costs the server little CPU and
  runs close to what the loopback itself can carry;
- protected data connections speak TLS 1.2 (CourseDTPHandler.secure_connection says why);
- a path with a NUL byte gets 501 (pyftpdlib would end the session).

server.py imports it in the FTP thread only (its docstring says why).
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import re
import secrets
import shutil
import sys

from OpenSSL import SSL
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.handlers.ftps.data import TLS_DTPHandler
from pyftpdlib.log import logger
from pyftpdlib.utils import is_ssl_sock

from ..wire import fault_hooks
from ..wire.transcripts import SILENT, open_transcript

#: How long an upload waits, after its data connection closed cleanly, to see whether the control connection
#: closes too. In stream mode the end of the data connection *is* the end of the file, so the only sign of a
#: client that died mid-upload (its process killed: both connections close at once) is the control connection.
UPLOAD_SETTLE_SECONDS = 0.05

#: How much one send() (or sendfile()) call may hand to the kernel (pyftpdlib: 64 KiB). The call returns when
#: the socket buffer is full, so a large chunk costs nothing, while each trip through the event loop does: with
#: 4 MiB, 10 ms of CPU per 200 MiB RETR instead of 48 (bench/bench_ftp.py). A fixed SO_SNDBUF did not help.
SEND_CHUNK = 4 * 1024 * 1024

#: The longest command line accepted (RFC 959 sets no limit; paths make lines long).
MAX_LINE = 4096

#: The commands that need a data connection.
TRANSFER_COMMANDS = {"RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"}

#: The errors that mean "the peer reset the connection", not "it finished".
_RESET_ERRNOS = {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT}


def _reset_in_progress() -> bool:
    """True while pyftpdlib closes a reset data connection as an ordinary one (from its `except OSError`):
    the exception being handled is the only trace that the client did not finish cleanly."""
    exc = sys.exc_info()[1]
    if isinstance(exc, OSError):
        return exc.errno in _RESET_ERRNOS
    if isinstance(exc, SSL.SysCallError):
        return bool(exc.args) and exc.args[0] in _RESET_ERRNOS
    return False


class CourseDTPHandler(TLS_DTPHandler):
    """One data connection: a listing, a download or an upload."""

    ac_out_buffer_size = SEND_CHUNK  # the sendfile() chunk, when sendfile() is used
    # Class-level defaults: pyftpdlib may call close() from inside __init__.
    _eof_seen = False  # the client closed the data connection (an upload ended?)
    _upload_ok = False  # ... and its control connection outlived it: keep the file
    _mapped = _mmap = None  # a download's memory map (see push_with_producer)
    _sent_mapped = 0
    _fault_cut = False  # an injected fault stops this download part-way (wire/fault_hooks.py)

    def __init__(self, sock, cmd_channel):
        super().__init__(sock, cmd_channel)
        if not self.connected and not self._resp:  # the client was gone before the connection could be used
            cmd_channel.data_connection_failed()

    def secure_connection(self, ssl_context):
        """TLS 1.2 on data connections (the control connection: 1.2 or 1.3).

        A TLS 1.3 server sends session tickets after the handshake, which an uploading client never reads;
        when it closes (lftp: close_notify and close at once), its kernel answers them with a reset and drops
        the rest of the file: 426. TLS 1.2 sends its ticket inside the handshake, and pyOpenSSL cannot turn
        1.3's tickets off (SSL_CTX_set_num_tickets).
        """
        super().secure_connection(self.cmd_channel.data_ssl_context)

    # --- downloads: send from a memory map of the file

    def push_with_producer(self, producer):
        """Start a download: binary files on plain connections are sent from a memory map.

        Unlike pyftpdlib's sendfile(), send() from a map copies the pages once, in the kernel, right before the
        client reads them, while they are in the CPU cache: 15-35 % faster on loopback (bench/bench_ftp.py).
        Only the kernel reads the map: a file truncated from outside mid-download makes send() fail with
        EFAULT (426) instead of crashing the process; our own uploads rename a new file over the old one.
        """
        cut = fault_hooks.ftp_cut(self.cmd_channel)
        if cut is not None:  # send `cut` octets through the plain producer path, then close: 426
            self._fault_cut = True
            self.use_sendfile = lambda: False
            return super().push_with_producer(fault_hooks.CutProducer(producer, cut))
        self._mapped = self._map_file(producer)
        if self._mapped is None:
            return super().push_with_producer(producer)
        self._initialized = True
        self.modify_ioloop_events(self.ioloop.WRITE)
        self._wanted_io_events = self.ioloop.WRITE
        self.initiate_send = self._send_mapped  # what the loop calls each time the socket is writable
        return None

    def _map_file(self, producer):
        """A memoryview of the rest of the file, or None when this transfer cannot use one."""
        if is_ssl_sock(self.socket) or self.cmd_channel._current_type != "i" or not hasattr(self.file_obj, "fileno"):
            return None
        try:
            size = os.fstat(self.file_obj.fileno()).st_size
            start = producer.file.tell()
            if size - start < SEND_CHUNK // 4:
                return None  # small: not worth a mapping
            self._mmap = mmap.mmap(self.file_obj.fileno(), size, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        if hasattr(self._mmap, "madvise"):
            self._mmap.madvise(mmap.MADV_SEQUENTIAL)
        return memoryview(self._mmap)[start:]

    def _send_mapped(self):
        done = self._sent_mapped
        if done >= len(self._mapped):
            self.discard_buffers()
            self.handle_close()  # everything sent: 226
            return
        try:
            sent = self.socket.send(self._mapped[done:done + SEND_CHUNK])  # no copy in Python
        except BlockingIOError:
            return  # the socket buffer is full after all: wait for the next writable event
        except ConnectionError:
            self.handle_close()  # the client went away: 426
            return
        self._sent_mapped = done + sent
        self.tot_bytes_sent += sent

    def _unmap(self):
        if self._mapped is not None:
            self._mapped.release()
            self._mmap.close()
            self._mapped = self._mmap = None

    # --- closing: the end of a listing, a download or an upload

    def handle_close(self):
        if self._fault_cut and not self._closed:  # cut short on purpose: the client must hear 426
            self.transfer_finished = False
            self._resp = ("426 Connection closed; transfer aborted.", logger.info)
            self.close()
            return
        super().handle_close()

    def close(self):
        if self.receive and not self._closed:
            if self.transfer_finished and not self._eof_seen and not _reset_in_progress():
                # A clean end of an upload: wait a moment before keeping the file.
                self._eof_seen = True
                self.modify_ioloop_events(0)  # nothing more to read; do not spin on EOF
                self.call_later(UPLOAD_SETTLE_SECONDS, self._upload_settled)
                return
            if not self._upload_ok:
                # Reset, ABOR, timeout, or the session ended while settling: discard.
                self.transfer_finished = False
                if self._resp and self._resp[0].startswith("226"):
                    self._resp = ("426 Connection closed; transfer aborted.", logger.info)
        if not self._closed:
            self._note_transfer()
        super().close()
        if self._closed:
            self._unmap()

    def _note_transfer(self):
        """The data connection in the control connection's transcript: one note, not its bytes."""
        if (name := getattr(self.file_obj, "name", None)) is None:
            what = f"listing ({self.cmd or 'LIST'})"
        else:
            root = self.cmd_channel.fs.root  # the path as the client sees it (fs2ftp() costs 30 us)
            shown = name[len(root):] if name.startswith(root) else os.path.basename(name)
            shown = _TEMP_NAME.sub(r"\1", "/" + shown.replace(os.sep, "/").lstrip("/"))
            what = f"{'upload' if self.receive else 'download'} {shown}"
        done = "complete" if self.transfer_finished else "incomplete"
        self.cmd_channel.transcript.note(  # written with the reply that follows (226, 426) or at the close
            f"data connection: {what}, {self.get_transmitted_bytes()} bytes in {self.get_elapsed_time():.3f} s, "
            f"{'TLS' if is_ssl_sock(self.socket) else 'plain'}, {done}", flush=False)

    def _upload_settled(self):
        """The control connection is still there: the upload is complete."""
        self._upload_ok = True
        self.transfer_finished = True
        # Under its real name before the client reads 226 (pyftpdlib would rename it just after).
        self.file_obj.close()
        self.cmd_channel.on_file_received(self.file_obj.name)
        self._resp = ("226 Transfer complete.", logger.debug)
        self.close()


#: An upload's temporary name (see ftp_STOR) and the name it stands for.
_TEMP_NAME = re.compile(r"\.([^/]+)\.[0-9a-f]{8}\.part$")


class CourseFTPHandler(TLS_FTPHandler):
    """One FTP session (control connection), with AUTH TLS; server.py subclasses it with its settings."""

    dtp_handler = CourseDTPHandler
    classroom = None  # a class server's ClassSet (classroom/server.py): per-account rate limits
    service = None  # the FTPService (server.py), for the transcripts
    transcript = SILENT

    def __init__(self, conn, server, ioloop=None):
        self.transcript = self._open_transcript(conn)
        super().__init__(conn, server, ioloop)
        self._uploads: dict[str, str] = {}  # temporary file -> the name it gets when complete
        self._skipping_line = False  # inside an overlong command line, waiting for its CRLF

    def _open_transcript(self, conn):
        if self.service is None:
            return SILENT
        try:
            peer = conn.getpeername()
        except OSError:
            peer = None
        return open_transcript(self.service, peer)

    # --- command lines: one 500 reply for an overlong line, then carry on

    def collect_incoming_data(self, data):
        """Gather a command line; a line longer than MAX_LINE gets "500" once and is skipped
        (pyftpdlib would reply 500 for every 2 KiB of it, then run its tail as a command)."""
        if self._skipping_line:
            return
        self._in_buffer.append(data)
        self._in_buffer_len += len(data)
        if self._in_buffer_len > MAX_LINE:
            self.transcript.summary("C", f"[a command line of more than {MAX_LINE} bytes]", self._in_buffer_len)
            self._in_buffer, self._in_buffer_len = [], 0
            self._skipping_line = True
            self.respond_w_warning("500 Command line too long.")

    def found_terminator(self):
        if self._skipping_line:  # the end of the overlong line: the next line is a command again
            self._skipping_line = False
            self._in_buffer, self._in_buffer_len = [], 0
            return
        self.transcript.client(b"".join(self._in_buffer))  # HOOK: every command line in
        super().found_terminator()

    def push(self, data):
        """HOOK: every reply out (respond() and the multi-line replies of FEAT, HELP, STAT)."""
        self.transcript.server(data, last=data.startswith("221 ") and not self.data_channel)  # QUIT: end in one write
        super().push(data)

    def handle_ssl_established(self):
        self.transcript.secure()
        super().handle_ssl_established()

    def on_login(self, username):
        self.transcript.login(username)
        super().on_login(username)

    # --- OPTS UTF8 OFF: file names in GBK, the way many older Chinese servers send them

    def ftp_OPTS(self, line):
        """OPTS UTF8 ON|OFF: this session's file names in UTF-8 (RFC 2640, the default) or in GBK.

        Offline, students can only meet FTP(encoding="gbk") if the course's own server can send non-UTF-8 names. Names
        that GBK cannot encode become "?" (pyftpdlib's unicode_errors). Every other OPTS goes to pyftpdlib.
        """
        option, _, value = line.strip().upper().partition(" ")
        if option in ("UTF8", "UTF-8") and value in ("ON", "OFF"):
            self.encoding = "utf8" if value == "ON" else "gbk"
            self.respond("200 File names are now sent in " + ("UTF-8." if value == "ON" else "GBK."))
            return
        super().ftp_OPTS(line)

    def pre_process_command(self, line, cmd, arg):
        """501 for a NUL byte: no path may hold one, and pyftpdlib's path checks would end the session."""
        if "\0" in line:
            self.respond("501 Syntax error: NUL byte in command line.")
            return
        if self.classroom is not None and self.authenticated and cmd != "QUIT" \
                and not self.classroom.ftp_allow(self.username):  # a class server's per-account limit
            self.respond(f"421 Too many commands from {self.username}; slow down and log in again later.")
            self.close_when_done()
            return
        go_on = lambda: super(CourseFTPHandler, self).pre_process_command(line, cmd, arg)  # noqa: E731
        if not fault_hooks.ftp_command(self, cmd, go_on):  # an injected fault may answer instead
            go_on()

    def handle(self):
        """The banner, unless an injected fault answers, delays or withholds it."""
        if not fault_hooks.ftp_connect(self, super().handle):
            super().handle()

    # --- data connections

    def process_command(self, cmd, *args, **kwargs):
        if cmd in TRANSFER_COMMANDS and self.data_channel is None and not self._data_connection_pending():
            # pyftpdlib would answer 150 and wait for a connection that never comes.
            self.respond("425 Can't open data connection: send PASV or PORT first.")
            return
        super().process_command(cmd, *args, **kwargs)

    def _data_connection_pending(self) -> bool:
        """A PASV port waits for the client, or a PORT connection is under way."""
        return any(dispatcher is not None and not dispatcher._closed
                   for dispatcher in (self._dtp_acceptor, self._dtp_connector))

    def data_connection_failed(self):
        """The data connection died as it opened: 425, and drop the transfer waiting for it."""
        waiting = self._in_dtp_queue is not None or self._out_dtp_queue is not None
        if self._out_dtp_queue is not None and self._out_dtp_queue[2] is not None:
            self._out_dtp_queue[2].close()
        if self._in_dtp_queue is not None:
            self._in_dtp_queue[0].close()
            self.on_incomplete_file_received(self._in_dtp_queue[0].name)
        self._in_dtp_queue = self._out_dtp_queue = None
        if waiting:
            self.respond("425 Can't open data connection.")
        # Otherwise the next transfer command gets its 425 from process_command.

    def _on_dtp_connection(self):
        if self.data_channel is not None and self.data_channel._closed:
            self.data_channel = None  # it failed in its constructor (see data_connection_failed)
            return
        super()._on_dtp_connection()

    # --- uploads: write to a temporary name, rename when complete

    def ftp_STOR(self, file, mode="w"):
        """STOR (and APPE, REST+STOR): receive into a temporary file beside `file`."""
        folder, name = os.path.split(file)
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.part")
        if mode == "a" or self._restart_position:  # appending or resuming: start from a copy of the file
            try:
                if os.path.isfile(file):
                    shutil.copyfile(file, temp)
            except OSError as err:
                self.respond(f"550 {os.strerror(err.errno or errno.EIO)}.")
                return None
        if super().ftp_STOR(temp, mode) is None:  # refused (the reply is sent): leave nothing behind
            self._remove(temp)
            return None
        self._uploads[temp] = file
        return file

    def ftp_STOU(self, line):
        """STOU: store under a unique name, but only for users who may write here."""
        folder = os.path.dirname(self.fs.ftp2fs(line)) if line else self.fs.ftp2fs(self.fs.cwd)
        if not self.authorizer.has_perm(self.username, "w", folder):
            self.respond("550 Not enough privileges.")
            return None
        if (name := super().ftp_STOU(line)) is not None:
            path = os.path.join(folder, name)
            self._uploads[path] = path  # already under its final name: only removed if incomplete
        return name

    def log_transfer(self, cmd, filename, receive, completed, elapsed, bytes):
        # Log the name the client asked for, not the temporary one.
        super().log_transfer(cmd, self._uploads.get(filename, filename), receive, completed, elapsed, bytes)

    def on_file_received(self, file):
        if (final := self._uploads.pop(file, None)) is not None and final != file:
            try:
                os.replace(file, final)
            except OSError:
                self.log_exception(self)
                self._remove(file)

    def on_incomplete_file_received(self, file):
        if self._uploads.pop(file, None) is not None:
            self._remove(file)

    def close(self):
        super().close()
        self.transcript.close()
        # An upload that never got its data connection leaves its temporary file.
        for temp in list(getattr(self, "_uploads", ())):
            self._remove(temp)
        self._uploads = {}

    @staticmethod
    def _remove(path):
        with contextlib.suppress(OSError):
            os.remove(path)


def make_authorizer(public_root: str, homes: dict[str, tuple[str, str]]) -> DummyAuthorizer:
    """Anonymous: read-only, rooted at the public tree. Named users: their own home, writable."""
    authorizer = DummyAuthorizer()
    # e = change directory, l = list, r = retrieve; nothing that writes.
    authorizer.add_anonymous(public_root, perm="elr", msg_login="Anonymous access: read-only. See /pub.")
    for user, (password, home) in homes.items():
        # + a = append, d = delete, f = rename, m = make directory, w = store, M = chmod, T = set time
        authorizer.add_user(user, password, home, perm="elradfmwMT", msg_login=f"Welcome, {user}.")
    return authorizer


def make_ssl_context(cert_file: str, key_file: str, newest=None) -> SSL.Context:
    """The course certificate, TLS 1.2 up to `newest` (pyftpdlib uses pyOpenSSL, not the ssl module)."""
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    if newest is not None:
        context.set_max_proto_version(newest)
    context.set_options(SSL.OP_NO_COMPRESSION)
    context.use_certificate_chain_file(cert_file)
    context.use_privatekey_file(key_file)
    context.check_privatekey()
    return context
