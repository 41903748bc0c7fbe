"""The course's bundled servers: echo, time, FTP, HTTP (and, as they land, mail and news).

In a notebook:

    import local_servers
    servers = local_servers.ensure_running()
    servers.ftp.address        # ('127.0.0.1', 10021)
    servers.ca_file            # verify TLS against the course's own CA

On the command line: python -m local_servers up | status [--json] | down | reset | logs
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
