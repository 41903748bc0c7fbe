"""The course's IMAP4rev1 server (RFC 3501 with IDLE, UIDPLUS, MOVE, UNSELECT, LITERAL+, NAMESPACE).

Read it in this order:

- syntax.py  how commands are taken apart and strings are written back;
- mutf7.py   mailbox names: stored in modified UTF-7, UTF-8 for a session with UTF8=ACCEPT;
- server.py  the session: the command table and one cmd_<name> method per command;
- store.py   mailboxes, UIDs and flags on top of the shared Maildir store;
- mime.py    ENVELOPE, BODYSTRUCTURE and BODY[section] from a message's octets;
- search.py  SEARCH keys as tests on messages.

Why our own server and not pymap: docs/decisions/0002-own-imap-server.md.
"""

from .server import IMAPService

__all__ = ["IMAPService"]
