"""FTP and explicit FTPS on pyftpdlib: the service (server.py) and the course's handlers (handlers.py)."""
