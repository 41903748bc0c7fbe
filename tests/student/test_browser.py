"""The course in a real browser: JupyterLab started as `course.py start` starts it, every chapter opened
in headless Chromium, all its cells run, then the saved notebook read back.

A chapter fails if the browser cannot open it, if any cell is left unrun, or if any output is an error.
A screenshot of each failing chapter goes to artifacts/browser/ (git-ignored). One more test runs
check("ftp") in a notebook and reads the table the browser shows.

Needs Debian's chromium and Playwright for Python (`pip install playwright`; its own browser download
is not used, so it works offline). .ci/run installs both.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from browser_support import NEEDS_CHROMIUM, chromium, playwright_api
import sandbox

sync_api = playwright_api()
nbformat = pytest.importorskip("nbformat")
pytestmark = NEEDS_CHROMIUM
CHAPTERS = sorted(p.name for p in (sandbox.ROOT / "notebooks").glob("*.ipynb"))
ARTIFACTS = sandbox.ROOT / "artifacts" / "browser"
#: How a student imports the grader's check() (the one place this test names the grader's module).
CHECK_IMPORT = "from grader import check"
URL = re.compile(r"(http://\S+)/lab/tree/notebooks/00_start_here\.ipynb\?token=(\w+)")
CHAPTER_TIMEOUT = 240  # seconds for one chapter to run to its end


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`course.py start` in a sandbox (its own servers on free ports, a fresh HOME): (base URL, token, workspace)."""
    with sandbox.course_started(tmp_path_factory.mktemp("browser"), URL) as (found, env, _):
        yield found.group(1), found.group(2), Path(env["COURSE_WORKSPACE"])


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    if getattr(request.node, "failed_call", False):  # set by tests/student/conftest.py
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except sync_api.Error:
            pass
    context.close()


NOTEBOOK_STATE = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!widget || !widget.content || !widget.content.model || !widget.sessionContext) return null;
  const cells = Array.from(widget.content.model.cells);
  const kernel = widget.sessionContext.session && widget.sessionContext.session.kernel;
  return {
    path: widget.context.path,
    kernel: kernel ? kernel.status : 'none',
    running: widget.content.widgets.filter(w => w.model.type === 'code' && w.promptNode &&
                                                w.promptNode.textContent.includes('*')).length,
    unrun: cells.filter(c => c.type === 'code' && c.executionCount === null).length,
    code: cells.filter(c => c.type === 'code').length,
    dirty: widget.context.model.dirty,
  };
}"""


def open_notebook(page, base: str, token: str, path: str) -> dict:
    page.goto(f"{base}/lab/tree/{path}?token={token}")
    state = None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = page.evaluate(NOTEBOOK_STATE)
        if state and state["path"] == path and state["kernel"] == "idle":
            return state
        time.sleep(0.5)
    raise AssertionError(f"the browser could not open {path} with an idle kernel (last state: {state})")


def run_all_and_save(page, path: str) -> dict:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    state, deadline = None, time.monotonic() + CHAPTER_TIMEOUT
    time.sleep(1)
    while time.monotonic() < deadline:
        state = page.evaluate(NOTEBOOK_STATE)
        if state and state["unrun"] == 0 and state["running"] == 0 and state["kernel"] == "idle":
            break
        if state and state["running"] == 0 and state["kernel"] == "idle" and state["unrun"]:
            break  # stopped early: an error ended the run
        time.sleep(1)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    sandbox.wait_until(lambda: not page.evaluate(NOTEBOOK_STATE)["dirty"], 30)
    return state


def errors(nb) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("name") == "stderr" and "Traceback" in output.get("text", ""):
                found.append(f"cell {index}: a traceback on stderr")
    return found


@pytest.mark.timeout(CHAPTER_TIMEOUT + 180)
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_in_the_browser(lab, page, chapter):
    base, token, workspace = lab
    path = f"notebooks/{chapter}"
    open_notebook(page, base, token, path)
    state = run_all_and_save(page, path)
    nb = nbformat.read(workspace / path, as_version=4)
    problems = errors(nb)
    unrun = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.execution_count is None]
    assert not problems, f"{chapter}: error output in the browser: {problems}"
    assert not unrun, f"{chapter}: cells left unrun: {unrun} (last state {state})"
    assert state["code"] == sum(cell.cell_type == "code" for cell in nb.cells)


@pytest.mark.timeout(400)
def test_check_ftp_shows_its_table_in_the_browser(lab, page):
    base, token, workspace = lab
    path = "notebooks/check-ftp.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(f'{CHECK_IMPORT}\ncheck("ftp")'))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, workspace / path)
    open_notebook(page, base, token, path)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # the notebook in front: JupyterLab keeps the chapters opened before (with tables of their own) in the page
    current = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    table = current.locator(".jp-OutputArea-output table")
    table.wait_for(timeout=300_000)
    rows = [[cell.strip() for cell in row.locator("th, td").all_inner_texts()] for row in table.locator("tr").all()]
    heading = current.locator(".jp-OutputArea-output p b").first.inner_text()
    assert re.fullmatch(r"ftp: \d+(\.\d+)?/\d+(\.\d+)? points", heading), heading
    assert rows[0] == ["check", "test", "points", "hint"]
    assert len(rows) > 2, rows
    for status, test, points, hint in rows[1:]:
        assert status.endswith(("passed", "FAILED")) and test and re.fullmatch(r"[\d.]+/[\d.]+", points)
        assert status.endswith("passed") or hint, f"a failed check without a hint: {test}"
