"""The course's bundled servers: echo, time, FTP, HTTP, SMTP, POP3, IMAP and NNTP.

In a notebook:

    import local_servers
    servers = local_servers.ensure_running()
    servers.ftp.address        # ('127.0.0.1', 10021)
    servers.ca_file            # verify TLS against the course's own CA

On the command line: python -m local_servers up | status [--json] | down | reset | logs

Where things are:

- here, the process machinery: cli (the commands), control (start, find, stop from a client), serve (the
  server process), service (the contract every service keeps), config, handle (the state file), files, tls, limits;
- engine/ the line engine; one folder per protocol family: mail/ (SMTP, POP3, imap/), news/, ftp/, http/, sockets/
  (echo and time); seed/ the FTP and HTTP services' files; classroom/ a class server (`up --class`).
"""

# Names are imported on first use, so that the server process (which imports
# this package too) starts without loading what only clients need.
_EXPORTS = {
    "ensure_running": "control", "find": "control", "start": "control", "stop": "control",
    "reset": "control", "StartError": "control",
    "Handle": "handle", "ServiceInfo": "handle",
    "PortInUseError": "service",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'local_servers' has no attribute {name!r}")
