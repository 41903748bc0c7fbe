"""The server process: every service of the course in one process.

`python -m local_servers up` starts this module in the background (`python -m local_servers serve` runs it in the
foreground). It

1. sends all logging to <state dir>/server.log, never to a terminal or a notebook;
2. makes the local CA and certificate if they are missing (tls.py);
3. seeds each service's data folder the first time (or after a reset);
4. starts every service and, once all of them listen, writes the state file (state.json) that clients read: that
   file appearing *is* "ready";
5. on SIGTERM or Ctrl-C stops them all and removes the state file.

If a port is taken it writes start-error.json with a clear message and exits with status 2 instead, so `up` can
say which port and what to do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import importlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

from . import config
from .config import StateDir
from .engine import raise_fd_limit
from .files import read_json, write_atomically
from .handle import Handle
from .service import Context, PortInUseError, Service, validate_options
from .tls import ensure_certificates
from .wire import faults

#: Every service, in start order, as "module:Class" so that only what runs is imported.
SERVICES: dict[str, str] = {
    "echo": "local_servers.sockets.server:EchoService",
    "time": "local_servers.sockets.server:TimeService",
    "ftp": "local_servers.ftp.server:FTPService",
    "http": "local_servers.http.server:HTTPService",
    "smtp": "local_servers.mail.smtp:SMTPService",
    "pop3": "local_servers.mail.pop3:POP3Service",
    "imap": "local_servers.mail.imap:IMAPService",
    "nntp": "local_servers.news.nntp:NNTPService",
    "inspector": "local_servers.inspector.service:InspectorService",
}

#: Data folders not named after their service (Service.data_name, said here too: `reset` imports no server).
SHARED_DATA = {"smtp": "mail", "pop3": "mail", "imap": "mail"}

# The state directory's file names (config.StateDir), as other modules know them.
STATE_FILE, DATA_DIR, TLS_DIR = StateDir.STATE, StateDir.DATA, StateDir.TLS

log = logging.getLogger("local_servers")


def service_class(name: str) -> type[Service]:
    module, _, cls = SERVICES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def data_names(names: list[str]) -> dict[str, str]:
    """Each data folder the named services use, with the first service that seeds it."""
    folders: dict[str, str] = {}
    for name in names:
        folders.setdefault(SHARED_DATA.get(name, name), name)
    return folders


def seed_missing(state_dir: Path, names: list[str]) -> None:
    """Seed each missing data folder of the named services beside it, then rename: never half a data set."""
    data_root = StateDir(state_dir).data
    data_root.mkdir(parents=True, exist_ok=True)
    for folder, name in data_names(names).items():
        if (data_root / folder).exists():
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder}-seed-", dir=data_root))
        try:
            service_class(name).seed(tmp)
            os.replace(tmp, data_root / folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def remove_data(state_dir: Path, names: list[str]) -> None:
    """Forget the named services' data (the next start seeds it afresh)."""
    for folder in data_names(names):
        shutil.rmtree(StateDir(state_dir).data / folder, ignore_errors=True)


def write_error(home: StateDir, launch_id: str, text: str) -> None:
    write_atomically(home.error_file, json.dumps({"pid": os.getpid(), "launch_id": launch_id, "error": text}, indent=2))


def configure_logging(state_dir: Path) -> None:
    """All logs, ours and the libraries', go to one file in the state directory."""
    logging.basicConfig(filename=StateDir(state_dir).log_file, encoding="utf-8", level=logging.INFO, force=True,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.captureWarnings(True)
    warnings.simplefilter("default")


async def run(state_dir: Path, host: str, ports: dict[str, int], *, public: bool,
              names: list[str], options: dict, started: float, launch_id: str, classroom: bool = False) -> int:
    """Start the services, publish the state file, serve until told to stop."""
    home = StateDir(state_dir)
    try:
        options = validate_options(options, [service_class(name) for name in names])
        if classroom:  # a class server: the roster's accounts (classroom/server.py)
            from .classroom.server import ClassSet
            classroom = ClassSet.load(state_dir)
    except (ValueError, OSError) as exc:
        log.error("could not start: %s", exc)
        write_error(home, launch_id, str(exc))
        return 2
    log.info("open-file limit: %d", raise_fd_limit())
    tls = ensure_certificates(home.tls, None if config.is_loopback(host) else host)
    seed_missing(state_dir, names)
    faults.start(state_dir)  # the fault table the services consult (a restart clears it)
    if classroom:
        classroom.install(home.data)
    ctx = Context(host=host, ports=ports, data_dir=home.data, tls=tls, public=public, options=options,
                  classroom=classroom or None)

    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()

    for sig in filter(None, (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGBREAK", None))):
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop_event.set))

    running: list[Service] = []
    try:
        for name in names:
            service = service_class(name)(ctx)
            await service.start()
            running.append(service)
    except (PortInUseError, OSError) as exc:
        log.error("could not start: %s", exc)
        write_error(home, launch_id, str(exc))
        for service in reversed(running):
            await service.stop()
        return 2

    handle = Handle(pid=os.getpid(), host=host, state_dir=state_dir, log_file=home.log_file, ca_file=str(tls.ca_file),
                    started_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    services={s.name: s.info() for s in running})
    if classroom:
        handle = _class_handle(classroom, handle, home.data, tls.ca_file)
    # launch_id lets the starter recognise the process it launched.
    write_atomically(home.state_file, json.dumps({**handle.to_dict(), "launch_id": launch_id}, indent=2))
    log.info("ready in %.0f ms: %s", (time.perf_counter() - started) * 1000,
             ", ".join(f"{name}:{svc.port}" for name, svc in handle.services.items()))

    await stop_event.wait()
    log.info("stopping")
    for service in reversed(running):
        try:
            await service.stop()
        except Exception:  # one service failing to stop must not keep the others running
            log.exception("error while stopping %s", service.name)
    if read_json(home.state_file).get("pid") == os.getpid():
        home.state_file.unlink(missing_ok=True)
    return 0


def _class_handle(classroom, handle: Handle, data: Path, ca_file: Path) -> Handle:
    """A class server's handle has no passwords; students fetch it and the CA from the HTTP service."""
    handle = dataclasses.replace(handle, server_set=classroom.summary(),
                                 services={n: classroom.public_info(i) for n, i in handle.services.items()})
    if "http" in handle.services:
        classroom.publish(handle.to_dict(), data / "http" / "site", ca_file)
    return handle


def main(state_dir: Path, host: str, ports: dict[str, int], *, public: bool = False,
         names: list[str] | None = None, options: dict | None = None, launch_id: str = "",
         classroom: bool = False) -> int:
    home = StateDir(state_dir)
    started = time.perf_counter()
    state_dir.mkdir(parents=True, exist_ok=True)
    home.error_file.unlink(missing_ok=True)
    configure_logging(state_dir)
    names = list(names or SERVICES)
    unknown = set(names) - set(SERVICES)
    if unknown:  # said in the error file too, or `up` would wait START_TIMEOUT for a process that has gone
        error = f"unknown service(s): {', '.join(sorted(unknown))}; known: {', '.join(SERVICES)}"
        print(error, file=sys.stderr)
        write_error(home, launch_id, error)
        return 2
    if sys.platform == "win32":
        # Some libraries need a selector loop; the proactor is the Windows default.
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())
    try:
        return asyncio.run(run(state_dir, host, ports, public=public, names=names, options=options or {},
                               started=started, launch_id=launch_id, classroom=classroom))
    except Exception as exc:
        log.exception("server process failed")
        write_error(home, launch_id, f"{type(exc).__name__}: {exc}")
        return 1
