"""FTP and explicit FTPS on pyftpdlib.

- server.py    the service: the public tree, the accounts' homes, limits and TLS;
- handlers.py  the pyftpdlib handlers with the course's fixes.
"""
