"""The inspector: a web page that shows what the course's servers hold and what they said.

Mailboxes with their messages (headers, MIME tree, raw source), the FTP tree,
the news groups and their threads, the sessions' transcripts, the active
faults and provider profile. It is one more service of the server process
(serve.SERVICES["inspector"]), always on loopback, behind a random token kept
in the state directory (`python -m local_servers inspect` prints its URL).

- access.py   the token, its file, and who may see and change what;
- stores.py   reading the services' data folders (read-only, bounded);
- pages.py    the HTML of every view (everything escaped: mail is hostile input);
- web.py      the HTTP handler: routes, authentication, CSRF, headers;
- service.py  the Service that runs it in a thread of its own.
"""
