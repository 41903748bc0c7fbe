#!/usr/bin/env python3
"""Start the course, or test it, on a fresh machine with nothing but Python 3.10+.

    python course.py start     # set up .venv if needed, start the servers, open JupyterLab
    python course.py test      # set up .venv if needed, run the whole test suite
    python course.py test tests/servers -x   # extra words go to pytest

Both are idempotent: the environment is made once (and again only when
pyproject.toml changes). Set COURSE_VENV to keep it somewhere else, for
instance one environment per Python version.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MIN_PYTHON = (3, 10)


def venv_dir() -> Path:
    return Path(os.environ.get("COURSE_VENV", ROOT / ".venv")).resolve()


def venv_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment() -> Path:
    """Make the virtual environment and install the course into it, once."""
    env = venv_dir()
    python = venv_python(env)
    stamp = env / ".course-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        return python
    if not python.exists():
        print(f"Creating the course's Python environment in {env} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(env)
    print("Installing the course and its dependencies (a few minutes the first time) ...", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                    "--editable", f"{ROOT}[course,test]"], check=True)
    stamp.write_text(wanted)
    return python


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        print(f"The course needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is {sys.version.split()[0]}.")
        return 2
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command not in ("start", "test"):
        print(__doc__)
        return 0 if command in ("help", "-h", "--help") else 2
    try:
        python = ensure_environment()
    except subprocess.CalledProcessError as exc:
        print(f"Setting up the environment failed ({exc}). Fix the error above and run the command again.")
        return 1
    os.chdir(ROOT)
    if command == "test":
        return subprocess.call([str(python), "-m", "pytest", *rest])
    status = subprocess.call([str(python), "-m", "local_servers", "up"])
    if status != 0:
        return status
    print("Opening JupyterLab (Ctrl-C stops it; `python -m local_servers down` stops the servers).", flush=True)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        rest = ["--allow-root", *rest]  # containers often run as root, and JupyterLab refuses it otherwise
    try:
        return subprocess.call([str(python), "-m", "jupyter", "lab", "notebooks/00_start_here.ipynb", *rest])
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
