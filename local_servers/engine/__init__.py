"""The connection machinery the protocols share (decision 0005): line.py, the engine POP3, NNTP and
IMAP run on; half_close.py, the TLS in which a client's close_notify ends only its half (every TLS listener)."""

from .line import THREADS, Command, LineService, LineSession, Registry, dot_stuff, raise_fd_limit

__all__ = ["THREADS", "Command", "LineService", "LineSession", "Registry", "dot_stuff", "raise_fd_limit"]
