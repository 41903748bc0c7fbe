"""Mail: SMTP in, POP3 and IMAP out, over one Maildir store (each module's docstring says its part)."""
