"""News: NNTP (RFC 3977) on the line engine.

- newsstore.py  groups and articles on disk, overview data;
- newsseed.py   the groups and articles a fresh state directory starts with;
- nntp.py       the reader commands, POST, STARTTLS and AUTHINFO.
"""
