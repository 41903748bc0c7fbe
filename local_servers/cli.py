"""The command line: python -m local_servers up | status [--json] | down | reset | logs | serve | ... (see --help)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from pathlib import Path

from . import config
from .config import StateDir


def _options(items: list[str]) -> dict:
    if bad := [item for item in items if "=" not in item]:
        raise SystemExit(f"--option takes KEY=VALUE, not {bad[0]!r}")
    return dict(item.split("=", 1) for item in items)


def _fail(message, status: int) -> int:
    """Say what went wrong on stderr; the command's exit status."""
    print(message, file=sys.stderr)
    return status


def _say_not_applied(args) -> None:
    """`up` on running servers changes nothing: say so if it was asked to (else a typo would pass unseen)."""
    asked = [flag for flag, value in (("--host", args.host), ("--port", args.port), ("--ephemeral", args.ephemeral),
                                      ("--only", args.only), ("--option", args.option)) if value]
    if asked:
        down = f"{shlex.quote(sys.executable)} -m local_servers"
        if args.state_dir is not None:
            down += f" --state-dir {shlex.quote(str(args.state_dir))}"
        print(f"note: they already run, so {', '.join(asked)} changed nothing; to start them with it, "
              f"stop them first: {down} down", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_servers",
        description="The course's local servers: one background process per user.")
    # --state-dir may stand before or after the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS,
                        help=f"where the servers keep data, certificates and logs "
                             f"(default: ${config.HOME_ENV} or {config.state_dir()})")
    parser.add_argument("--state-dir", type=Path, default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add = sub.add_parser
    sub.add_parser = lambda *a, **k: _add(*a, parents=[common], **k)

    up = sub.add_parser("up", help="start the servers in the background (if not running) and show where they are")
    up.add_argument("--host", help="bind this address instead of 127.0.0.1 (reachable from other machines!)")
    up.add_argument("--port", action="append", default=[], metavar="NAME=PORT",
                    help="use another port for one listener, e.g. --port ftp=2121 (repeatable)")
    up.add_argument("--ephemeral", action="store_true", help="let the OS choose every port (for tests and tools)")
    up.add_argument("--only", help="start only these services, e.g. --only ftp,http")
    up.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="a service setting, e.g. --option ftp_idle_timeout=60")
    from .classroom import cli as class_cli
    class_cli.add_arguments(up)

    status = sub.add_parser("status", help="show whether the servers run, and where (exit status 3 if not)")
    status.add_argument("--json", action="store_true", help="print the state document (see local_servers/handle.py)")

    sub.add_parser("down", help="stop the servers")

    reset = sub.add_parser("reset", help="restore the seeded data (all services, or those named)")
    reset.add_argument("services", nargs="*", metavar="SERVICE")

    logs = sub.add_parser("logs", help="show the servers' log file")
    logs.add_argument("-n", "--lines", type=int, default=40, help="how many of the last lines (default 40)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")

    _wire_parsers(sub)
    _fault_parser(sub)

    serve = sub.add_parser("serve", help="run the servers in the foreground (what `up` runs in the background)")
    serve.add_argument("--host", default=config.DEFAULT_HOST)
    serve.add_argument("--ports", default="", metavar="NAME=PORT,...")
    serve.add_argument("--ephemeral", action="store_true", help="let the OS choose every port")
    serve.add_argument("--public", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--class", dest="classroom", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--detach", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--launch-id", default="", help=argparse.SUPPRESS)
    serve.add_argument("--only", default="")
    serve.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    return parser


def _wire_parsers(sub) -> None:
    """`profile`, `transcripts` and `inspect`: the wire's commands (local_servers/wire/, inspector/)."""
    profile = sub.add_parser("profile", help="make the mail servers behave like gmail, qq, 163 or outlook "
                                             "(reseeds the mail store)")
    profile.add_argument("words", nargs="*", metavar="NAME | app-password ACCOUNT | refresh-token ACCOUNT",
                         help="a profile to switch to, or a credential to issue; nothing: show the current one")
    profile.add_argument("--off", action="store_true", help="back to the course's own behaviour (reseeds mail)")
    transcripts = sub.add_parser("transcripts", help="show the recorded dialogues of the latest connections")
    transcripts.add_argument("service", nargs="?", metavar="SERVICE", help="only this service (e.g. smtp)")
    transcripts.add_argument("--last", type=int, default=5, metavar="N", help="the last N sessions (default 5)")
    transcripts.add_argument("--user", help="only sessions that logged in as this user")
    transcripts.add_argument("-f", "--follow", action="store_true", help="keep printing new events until Ctrl-C")
    transcripts.add_argument("--json", action="store_true", help="print them as JSON (one session per line)")
    sub.add_parser("inspect", help="print the inspector's address (a web page of the servers' mail, files, "
                                   "news and sessions), with its token")


def _fault_parser(sub) -> None:
    """`fault add|list|clear`: make the servers fail on purpose (local_servers/wire/faults.py)."""
    from .wire import faults

    fault = sub.add_parser("fault", help="make a server fail on purpose: add, list or clear faults")
    actions = fault.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a fault (it lasts until cleared, --count hits or --seconds)")
    add.add_argument("service", help=f"{', '.join(faults.SERVICES)} (or * for delay, drop, silent, cert)")
    add.add_argument("kind", nargs="?", default="reply", help=f"{', '.join(faults.KINDS)} (default reply)")
    add.add_argument("--code", help="reply: the code, e.g. 451 (SMTP), -ERR (POP3), NO (IMAP), 550 (FTP)")
    add.add_argument("--text", help="reply: the text after the code (default: the usual one)")
    add.add_argument("--stage", help=f"SMTP: {', '.join(faults.SMTP_STAGES)}; others: a command (RETR, FETCH) "
                                     "or connect; default: any command")
    add.add_argument("--account", help="only this account's connections (default: everyone's)")
    add.add_argument("--count", type=int, help="spent after this many hits")
    add.add_argument("--seconds", type=float, help="spent after this many seconds")
    add.add_argument("--delay", type=float, help="delay: seconds before replies; greylist: before a retry passes")
    add.add_argument("--after-bytes", type=int, help="drop: octets sent (or, SMTP DATA, received) before the cut")
    add.add_argument("--cert", help=f"cert: {' or '.join(faults.CERTS)}")
    listing = actions.add_parser("list", help="the faults in force")
    listing.add_argument("--json", action="store_true")
    clear = actions.add_parser("clear", help="remove one fault (by id) or all")
    clear.add_argument("id", nargs="?")
    for parser in (add, listing, clear):
        parser.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _fault_command(state_dir: Path, args) -> int:
    from .wire import faults

    if args.action == "add":
        options = {name: getattr(args, name) for name in
                   ("code", "text", "stage", "account", "count", "seconds", "delay", "after_bytes", "cert")
                   if getattr(args, name) is not None}
        try:
            fault = faults.add(state_dir, args.service, args.kind, **options)
        except faults.FaultError as exc:
            return _fail(f"error: {exc}", 2)
        print(f"fault {fault.id}: {fault.describe()}")
        return 0
    if args.action == "list":
        found = faults.active(state_dir)
        if args.json:
            print(json.dumps([f.to_dict() for f in found], indent=2))
        else:
            print("\n".join(f"{fault.id}  {fault.describe()}" for fault in found) or "no faults")
        return 0
    removed = faults.clear(state_dir, args.id)
    print(f"cleared {removed} fault(s)")
    return 0 if removed or args.id is None else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state_dir = (args.state_dir or config.state_dir()).resolve()

    if args.command == "serve":
        if args.detach and hasattr(os, "fork"):
            # Leave our starter at once: the server is then nobody's child, init reaps it when it exits, and no
            # kernel that happened to start it is left holding a zombie that looks alive.
            if os.fork() > 0:
                os._exit(0)
        from . import serve

        try:
            ports = config.ports(config.parse_ports(args.ports), ephemeral=args.ephemeral)
        except ValueError as exc:
            return _fail(exc, 2)
        return serve.main(state_dir, args.host, ports, public=args.public or not config.is_loopback(args.host),
                          names=[name for name in args.only.split(",") if name] or None, options=_options(args.option),
                          launch_id=args.launch_id, classroom=args.classroom)

    from . import control

    if args.command == "up" and args.roster is not None:
        from .classroom import cli as class_cli
        return class_cli.up(args, state_dir, _options(args.option))

    if args.command == "up":
        try:
            overrides = config.parse_ports(",".join(args.port))
        except ValueError as exc:
            return _fail(exc, 2)
        if args.host and not config.is_loopback(args.host):
            print(f"warning: binding {args.host}: other machines may reach these servers. "
                  "Anonymous writes are disabled; the course's passwords are public.", file=sys.stderr)
        already = control.find(state_dir)
        try:
            handle = already or control.start(
                state_dir, host=args.host, ports=overrides, ephemeral=args.ephemeral,
                names=[n for n in (args.only or "").split(",") if n] or None, options=_options(args.option))
        except control.StartError as exc:
            return _fail(f"error: {exc}", 1)
        print(f"servers {'already running' if already else 'started'} (pid {handle.pid}; state in {state_dir})",
              handle.table(), f"CA file (verify TLS against it): {handle.ca_file}", sep="\n")
        if already:
            _say_not_applied(args)
        _say_profile(state_dir)
        return 0

    if args.command == "status":
        handle = control.find(state_dir)
        if args.json:
            document = {"schema": 1, "running": False} if handle is None else {"running": True, **handle.to_dict()}
            print(json.dumps(document, indent=2))
        elif handle is None:
            print(f"not running (state dir {state_dir})")
        else:
            print(f"running (pid {handle.pid}, since {handle.started_at}; state in {state_dir})",
                  handle.table(), f"CA file (verify TLS against it): {handle.ca_file}", sep="\n")
        if not args.json:
            _say_profile(state_dir)
        return 0 if handle else 3

    if args.command == "down":
        print("servers stopped" if control.stop(state_dir) else "servers were not running")
        return 0

    if args.command == "reset":
        from . import serve

        if unknown := set(args.services) - set(serve.SERVICES):
            return _fail(f"unknown service(s): {', '.join(sorted(unknown))}; known: {', '.join(serve.SERVICES)}", 2)
        try:
            handle = control.reset(state_dir, args.services or None)
        except control.StartError as exc:
            return _fail(f"error: {exc}", 1)
        what = ", ".join(args.services) or "all services"
        print(f"seeded data restored for {what}" + (f"; servers restarted (pid {handle.pid})" if handle
                                                      else " (seeded when the servers start)"))
        return 0

    wire_commands = {"profile": _profile, "transcripts": _transcripts, "inspect": _inspect, "fault": _fault_command}
    if args.command in wire_commands:
        return wire_commands[args.command](state_dir, args)

    if args.command == "logs":
        log_file = StateDir(state_dir).log_file
        if not log_file.exists():
            print(f"no log yet ({log_file})")
            return 0
        with open(log_file, encoding="utf-8", errors="replace") as f, contextlib.suppress(KeyboardInterrupt):
            sys.stdout.writelines(f.readlines()[-args.lines:] if args.lines > 0 else [])
            while args.follow:  # until Ctrl-C
                line = f.readline()
                print(line, end="", flush=True)
                time.sleep(0 if line else 0.2)
        return 0
    return 2


def _transcripts(state_dir: Path, args) -> int:
    """python -m local_servers transcripts [SERVICE] [--last N] [--user U] [-f] [--json]."""
    from .wire import transcripts

    if args.follow:
        return transcripts.follow(state_dir, args.service, json_lines=args.json)
    found = transcripts.sessions(state_dir, service=args.service, last=args.last, user=args.user)
    if args.json:
        for session in found:
            print(json.dumps(session.to_dict(), ensure_ascii=False))
    else:
        print("\n\n".join("\n".join(s.lines(times=True)) for s in found) or "(no sessions recorded)")
    return 0


def _inspect(state_dir: Path, args) -> int:
    """python -m local_servers inspect: the inspector's address with its token."""
    from . import control

    handle = control.find(state_dir)
    url = handle.inspector_url if handle is not None else None
    if url is None:
        return _fail("the inspector is not running (start the servers: .venv/bin/python -m local_servers up)"
                     if handle is None else "the inspector is not running (the servers were started without it)", 3)
    print(f"Inspector: {url}")
    return 0


def _say_profile(state_dir: Path) -> None:
    """One line when a provider profile is on (the mail servers then refuse the course's passwords)."""
    from .wire import profiles

    if name := profiles.current(state_dir):
        print(f"provider profile on: {name} (the mail servers follow {profiles.PROFILES[name].title}'s rules; "
              ".venv/bin/python -m local_servers profile --off returns to the course's)")


def _profile(state_dir: Path, args) -> int:
    """python -m local_servers profile [NAME | --off | app-password ACCOUNT | refresh-token ACCOUNT]."""
    from . import control
    from .wire import oauth, profiles

    words = args.words
    if words and words[0] in ("app-password", "refresh-token"):
        if len(words) != 2:
            return _fail(f"usage: python -m local_servers profile {words[0]} ACCOUNT", 2)
        try:
            issue = profiles.issue_app_password if words[0] == "app-password" else oauth.refresh_token
            print(issue(state_dir, words[1]))
        except ValueError as exc:
            return _fail(exc, 2)
        return 0
    if len(words) > 1 or (words and args.off):
        return _fail("give one profile name, or --off", 2)
    if not words and not args.off:
        shown = profiles.current(state_dir) or "none (the course's own rules)"
        print(f"profile: {shown}; profiles: {', '.join(profiles.PROFILES)}")
        return 0
    name = None if args.off else words[0]
    try:
        profiles.select(state_dir, name)
    except ValueError as exc:
        return _fail(exc, 2)
    try:
        handle = control.reset(state_dir, ["smtp"])
    except control.StartError as exc:
        return _fail(f"error: {exc}", 1)
    print(f"profile {name or 'off'}: the mail store was reseeded"
          + (f" with {profiles.PROFILES[name].title}'s folders and mail" if name else "")
          + " (mail sent, moved or deleted since the last reset is gone; app passwords stay)")
    print(f"servers restarted (pid {handle.pid})" if handle else "it takes effect when the servers start")
    if name:
        profile = profiles.PROFILES[name]
        for provider_port, listener in profile.ports.items():
            print(f"  {profile.title}'s port {provider_port} is played by the course's {listener} listener"
                  + (f" (port {control._ports_of(handle).get(listener)})" if handle else ""))
    return 0
