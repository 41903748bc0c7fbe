"""The connection machinery the protocols share (decision 0005).

- line.py        the line engine: framing, literals, timers, STARTTLS, limits,
                 one dispatch over a command table (POP3, NNTP and IMAP run on it);
- half_close.py  TLS in which a client's close_notify ends only its half (every TLS listener).
"""

from .line import THREADS, Command, LineService, LineSession, Registry, dot_stuff, raise_fd_limit

__all__ = ["THREADS", "Command", "LineService", "LineSession", "Registry", "dot_stuff", "raise_fd_limit"]
