"""`python -m local_servers up --class ROSTER.csv [--host HOST]`: start (or update) a class server.

Prints where the servers are, where the passwords file is and what the
students set (LOCAL_SERVERS_URL); never a password.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import ratelimit


def add_arguments(up: argparse.ArgumentParser) -> None:
    group = up.add_argument_group("class server (docs/class-server.md)")
    group.add_argument("--class", dest="roster", type=Path, default=None, metavar="ROSTER.csv",
                       help="one server set for a class: accounts from this roster (login,display name)")
    group.add_argument("--class-name", default="course", metavar="NAME",
                       help="the class's name; its news group is class.NAME.discuss (default: course)")
    group.add_argument("--class-rate", type=float, default=ratelimit.RATE, metavar="PER_SECOND",
                       help=f"commands a second per student and service (default {ratelimit.RATE:g})")
    group.add_argument("--class-burst", type=int, default=ratelimit.BURST, metavar="COMMANDS",
                       help=f"commands a student may send at once before the rate applies (default {ratelimit.BURST})")
    group.add_argument("--class-transfer-rate", type=float, default=ratelimit.TRANSFER_MB, metavar="MB_PER_SECOND",
                       help=f"FTP transfer speed per student, beyond which their transfers pause "
                            f"(default {ratelimit.TRANSFER_MB:g})")


def up(args, state_dir: Path, options: dict) -> int:
    from .. import config, control
    from . import roster, setup

    try:
        overrides = config.parse_ports(",".join(args.port))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    class_file = Path(state_dir) / setup.FILE_NAME
    before = class_file.read_bytes() if class_file.exists() else None
    try:
        done = setup.prepare(state_dir, args.roster, name=args.class_name, rate=args.class_rate,
                             burst=args.class_burst, transfer_mb=args.class_transfer_rate)
    except (roster.RosterError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host = args.host or config.DEFAULT_HOST
    if not config.is_loopback(host):
        print(f"class server on {host}: every login beyond loopback needs TLS (STARTTLS, AUTH TLS or the TLS ports)",
              file=sys.stderr)
    # The first start copies every student's lesson data: allow for a large class (about 10 ms each).
    control.START_TIMEOUT = max(control.START_TIMEOUT, 30 + 0.02 * done["students"])
    running = control.find(state_dir)
    changed = class_file.read_bytes() != before
    if running is not None and (changed or running.server_set.get("kind") != "class"):
        control.stop(state_dir)  # the roster changed: start again with it (data and passwords are kept)
        running = None
    try:
        handle = running or control.start(
            state_dir, host=host, ports=overrides, ephemeral=args.ephemeral, classroom=True,
            names=[n for n in (args.only or "").split(",") if n] or None, options=options)
    except control.StartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"class servers {'already running' if running else 'started'} (pid {handle.pid}; state in {state_dir})")
    print(handle.table())
    print(f"{done['students']} students; news group {done['group']}; passwords ({done['new_passwords']} new) "
          f"for you to hand out, readable by you only: {done['password_file']}")
    if "http" in handle.services:
        http = handle.services["http"]
        print(f"students set LOCAL_SERVERS_URL=http://{http.host}:{http.port}/ and "
              "LOCAL_SERVERS_ACCOUNT=login:password (docs/class-server.md)")
    return 0
