"""A class server: one server set for a whole class, accounts from a roster.

`python -m local_servers up --class ROSTER.csv --host HOST` turns the usual
server set (alice, bob and carol on 127.0.0.1) into one a class shares:

- roster.py     reads and checks the roster (login, display name);
- passwords.py  the instructor's passwords file: strong random passwords, made once;
- cli.py        `up --class` and its options;
- setup.py      what `up --class` writes into the state directory (class.json);
- server.py     the server process's side: the roster's accounts on every
                service, each student's mail and FTP home, the class's news
                group, mail and articles attributed to the logged-in account;
- ratelimit.py  one token bucket per account and service, so that one
                student's loop cannot starve the class;
- remote.py     the notebooks' side: LOCAL_SERVERS_URL names a class server,
                ensure_running() returns its handle.

Why it is built this way: docs/decisions/0013-class-server.md.
"""
