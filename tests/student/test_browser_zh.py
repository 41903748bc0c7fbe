"""`course.py start --lang zh` in a real browser: the Chinese edition's start page, JupyterLab's own menus in
Chinese, kernels that answer check() in Chinese, and a Chinese chapter run to its end. Its screenshot is kept as artifacts/browser/jupyterlab-zh-CN.png (git-ignored).

Needs Debian's chromium and Playwright for Python, like test_browser.py (skipped, with the reason, without them).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_support import NEEDS_CHROMIUM, chromium, playwright_api
import sandbox
from test_browser import errors, nbformat, open_notebook, run_all_and_save

playwright_api()  # skips this module, with the reason, without Playwright
pytest.importorskip("jupyterlab_language_pack_zh_CN", reason="jupyterlab-language-pack-zh-CN is not installed "
                    "(the course's [course] extra)")
pytestmark = NEEDS_CHROMIUM
ARTIFACTS = sandbox.ROOT / "artifacts" / "browser"
URL = re.compile(r"(http://\S+)/lab/tree/notebooks/zh/00_start_here\.ipynb\?token=(\w+)")
#: The Chinese chapter run in the browser (FTP: the chapter the class tests run too).
CHAPTER = "notebooks/zh/02_ftp.ipynb"

#: Runs code in a new kernel of the page's JupyterLab and resolves with what it printed.
RUN_IN_A_KERNEL = """async (code) => {
  const kernel = await window.jupyterapp.serviceManager.kernels.startNew();
  let printed = '';
  const future = kernel.requestExecute({code});
  future.onIOPub = (msg) => { if (msg.header.msg_type === 'stream') printed += msg.content.text; };
  await future.done;
  await kernel.shutdown();
  return printed;
}"""


def test_start_lang_zh_shows_jupyterlab_in_chinese_and_its_kernels_check_in_chinese(tmp_path):
    with sandbox.course_started(tmp_path, URL, "--lang", "zh") as (found, env, _), chromium() as browser:
        base, token = found.groups()
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(found.group(0))  # the address start printed: the Chinese start page
            page.wait_for_selector(".lm-MenuBar-itemLabel >> text=帮助", timeout=120_000)
            menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)  # the start notebook, for the picture
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-zh-CN.png"))
        assert "文件" in menus and "帮助" in menus and "File" not in menus, menus
        printed = page.evaluate(RUN_IN_A_KERNEL, "import os; print(os.environ.get('COURSE_LANG'))")
        assert printed.strip() == "zh", "the kernels do not inherit --lang zh (check() would answer in English)"
        open_notebook(page, base, token, CHAPTER)
        state = run_all_and_save(page, CHAPTER)
        page.screenshot(path=str(ARTIFACTS / "zh-02_ftp.png"))
        nb = nbformat.read(Path(env["COURSE_WORKSPACE"]) / CHAPTER, as_version=4)
        assert not errors(nb), f"{CHAPTER}: error output in the browser: {errors(nb)}"
        assert all(c.execution_count is not None for c in nb.cells if c.cell_type == "code"), state
