"""Mail: SMTP in, POP3 and IMAP out, over one Maildir store.

- mailstore.py     the shared store (Maildir per account and folder) and its seed;
- mail_service.py  what the three services have in common (accounts, state-file entry);
- smtp.py          SMTP and submission (aiosmtpd), delivering into the store;
- pop3.py          POP3 on the line engine;
- imap/            IMAP4rev1 and its extensions on the line engine.
"""
