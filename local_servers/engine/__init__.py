"""The connection machinery the protocols share (decision 0005): line.py's engine, half_close.py's TLS."""

from .line import THREADS, Command, LineService, LineSession, Registry, dot_stuff, raise_fd_limit

__all__ = ["THREADS", "Command", "LineService", "LineSession", "Registry", "dot_stuff", "raise_fd_limit"]
