"""python -m book [--out FOLDER]: build the course's site (both editions) and print where to open it."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .stage import EDITIONS, HERE, ROOT, stage

DEFAULT_OUT = ROOT / "_build" / "site"


def sphinx(source: Path, out: Path, editions=tuple(EDITIONS)) -> subprocess.CompletedProcess:
    """Build the staged editions (book/stage.py), the English into out and the Chinese into out/zh, in that
    order: the Chinese build checks its links into the English pages against the anchors the English build
    wrote. -W: every warning fails the build (a link to a missing page or heading anchor is one); -n:
    unresolved references too; -E: no stale pages from an earlier build. Only local links are checked: no
    external link is ever fetched (Sphinx's linkcheck builder is not used). The result joins both builds'
    output; its return code is the first failure's."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # conf.py imports book
    runs = []
    for edition in (EDITIONS[name] for name in editions):
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-E", "-q",
                   "-c", str(HERE), "-D", f"language={edition.language}",
                   "-d", str(source / f"doctrees-{edition.name}"),  # not in the published site
                   str(source / edition.name), str(out / edition.folder)]
        runs.append(subprocess.run(command, env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True))
    failed = [run.returncode for run in runs if run.returncode]
    return subprocess.CompletedProcess([run.args for run in runs], failed[0] if failed else 0,
                                       "".join(run.stdout for run in runs), "".join(run.stderr for run in runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    source = args.out.parent / (args.out.name + "-pages")
    if (args.out / ".buildinfo").is_file():  # an earlier site (Sphinx's mark): no page of it may linger
        shutil.rmtree(args.out)
    stage(source)
    done = sphinx(source, args.out)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        print(f"The site did not build: every warning above is an error. Pages staged in {source}.")
        return 1
    print(f"The site is built ({time.monotonic() - started:.0f} s). Open {(args.out / 'index.html').as_uri()}"
          f" (简体中文: {(args.out / 'zh' / 'index.html').as_uri()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
