"""Debian's Chromium driven by Playwright for Python: the one way the browser tests find and launch it.

Playwright's own browser download cannot work offline, so the tests launch Debian's `chromium` by its
path. Where either is missing the tests skip with the reason; in CI (`CI=true`), which installs both
(.ci/run), a missing one is a failure instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest

#: The browser's executable (COURSE_CHROMIUM overrides the search).
CHROMIUM = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
#: Headless, no sandbox (tests run as root in CI), and none of the background connections a closed network refuses.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: A test module's pytestmark: skipped, with the reason, without Chromium.
NEEDS_CHROMIUM = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install "
                                    "chromium); the browser tests need it")


def playwright_api():
    """Playwright's sync API: skips the calling module where it is not installed (fails in CI)."""
    if os.environ.get("CI") == "true":
        assert CHROMIUM, "CI must install Debian's chromium (.ci/run)"
        from playwright import sync_api
        return sync_api
    return pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                               "(pip install playwright into the course's .venv; .ci/run does)")


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, headless, launched by Playwright; closed (with Playwright) on the way out."""
    sync_api = playwright_api()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
