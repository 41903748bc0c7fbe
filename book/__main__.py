"""python -m book [--out FOLDER]: build the course's site (both editions) and print where to open it."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .stage import HERE, ROOT, stage

DEFAULT_OUT = ROOT / "_build" / "site"


def sphinx(source: Path, out: Path) -> subprocess.CompletedProcess:
    """Build staged pages. -W: every warning fails the build (a link to a missing page or heading anchor is
    one); -n: unresolved references too; -E: no stale pages from an earlier build. Only local links are
    checked: no external link is ever fetched (Sphinx's linkcheck builder is not used)."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-E", "-q",
               "-c", str(HERE), str(source), str(out)]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # conf.py names book.anchors
    return subprocess.run(command, env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    source = args.out.parent / (args.out.name + "-pages")
    stage(source)
    done = sphinx(source, args.out)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        print(f"The site did not build: every warning above is an error. Pages staged in {source}.")
        return 1
    print(f"The site is built ({time.monotonic() - started:.0f} s). Open {(args.out / 'index.html').as_uri()}"
          f" (简体中文: {(args.out / 'index_zh.html').as_uri()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
