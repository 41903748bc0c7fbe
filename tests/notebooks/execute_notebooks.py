"""Execute notebooks in place, the way the tests will check them.

    .venv/bin/python tests/notebooks/execute_notebooks.py notebooks/02_ftp.ipynb [...]

Runs each notebook top to bottom in a fresh kernel against servers with
fresh seeded data in a temporary state directory, on the default ports (the
same set-up as `python course.py test`), writes the outputs into the file,
and prints how long each took. Then it runs the notebook a second time and
reports any cell whose output changed: a chapter run twice in a row must
print the same thing.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def sanitizers() -> list[tuple[re.Pattern, str]]:
    """The regex/replace pairs of sanitize.cfg, as nbval applies them."""
    pairs, regex = [], None
    for line in (Path(__file__).parent / "sanitize.cfg").read_text(encoding="utf-8").splitlines():
        if line.startswith("regex:"):
            regex = re.compile(line[len("regex:"):].strip())
        elif line.startswith("replace:") and regex is not None:
            pairs.append((regex, line[len("replace:"):].strip()))
            regex = None
    return pairs


def outputs(nb) -> list:
    """Every code cell's outputs as text, sanitized the way nbval compares them."""
    rules = sanitizers()
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged: list[dict] = []  # like nbval: consecutive chunks of one stream are one text
        for out in cell.get("outputs", []):
            out = {k: v for k, v in out.items() if k not in ("execution_count", "metadata")}
            if merged and out.get("output_type") == "stream" and merged[-1].get("output_type") == "stream" \
                    and merged[-1].get("name") == out.get("name"):
                merged[-1] = {**merged[-1], "text": merged[-1]["text"] + out["text"]}
            else:
                merged.append(out)
        text = json.dumps(merged, sort_keys=True)
        for regex, replacement in rules:
            text = regex.sub(replacement, text)
        texts.append(text)
    return texts


def execute(path: Path) -> tuple[float, object]:
    nb = nbformat.read(path, as_version=4)
    # No per-cell timestamps in the committed files (record_timing=False, and old ones dropped), so
    # re-running a chapter changes only what it printed, and a diff shows just that.
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    started = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - started, nb


def main(paths: list[str]) -> int:
    os.environ["LOCAL_SERVERS_HOME"] = tempfile.mkdtemp(prefix="local-servers-tests-")
    sys.path.insert(0, str(ROOT))
    from local_servers import control

    status = 0
    try:
        for name in paths:
            path = Path(name).resolve()
            seconds, nb = execute(path)
            nbformat.write(nb, path)
            again_seconds, again = execute(path)
            changed = [i for i, (a, b) in enumerate(zip(outputs(nb), outputs(again))) if a != b]
            print(f"{path.name}: {seconds:.1f} s (again: {again_seconds:.1f} s)"
                  + (f"; outputs of code cells {changed} changed on the second run" if changed else ""))
            status |= bool(changed)
    finally:
        control.stop(Path(os.environ["LOCAL_SERVERS_HOME"]))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
