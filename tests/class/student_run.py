"""What one student does, run as that Unix user by test_many_users.py: start the servers with nothing
configured, then run a chapter top to bottom in a kernel of their own, and print the handle as JSON.

    python student_run.py start                 # ensure_running() only
    python student_run.py NOTEBOOK [NOTEBOOK...]  # ensure_running(), then each notebook with nbclient
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import local_servers
from local_servers import control


def run_notebook(path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    workdir = Path(tempfile.mkdtemp(prefix="chapter-", dir=Path.home()))  # the student's own folder
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(args: list[str]) -> int:
    handle = local_servers.ensure_running()
    for name in args:
        if name != "start":
            run_notebook(Path(name))
    print(json.dumps({"pid": handle.pid, "state_dir": str(handle.state_dir),
                      "ports": control._ports_of(handle)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
