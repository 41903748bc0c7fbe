"""The inspector in a real browser: headless Chromium driven by Playwright for Python.

Every view is visited by clicking from the overview, a message's MIME tree is reached from its
mailbox, a hostile message is opened (its script must not run), a session sent with smtplib
appears in the sessions list without a reload, and a reset is clicked. A screenshot of each view
goes to artifacts/inspector/ (git-ignored).

Needs Debian's chromium and Playwright for Python (`pip install playwright`; its own browser
download is not used, so it works offline). .ci/run installs both; elsewhere the tests skip.
"""

from __future__ import annotations

import importlib.util
import re
import smtplib
from pathlib import Path

import pytest

from browser_support import NEEDS_CHROMIUM, chromium, playwright_api
from inspector_client import HOSTILE_SUBJECT, Inspector, send_hostile

playwright_api()  # skips this module, with the reason, without Playwright
pytestmark = NEEDS_CHROMIUM
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "inspector"
SHOWN = ["ftp", "smtp", "pop3", "imap", "nntp", "inspector"]
TIMEOUT_MS = 30_000  # generous: the machine may be busy; only liveness is checked with it


@pytest.fixture(scope="module")
def inspector(tmp_path_factory):
    from local_servers.pytest_plugin import ServersFactory

    factory = ServersFactory(tmp_path_factory)
    handle = factory(names=SHOWN)
    send_hostile(handle)
    yield Inspector(handle)
    factory.stop_all()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.dialogs = []  # any alert() a message might raise
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def nav(page, name: str) -> None:
    page.click(f"header nav >> text={name}")
    page.wait_for_selector(f"header nav a[aria-current=page]:text-is('{name}')")


def test_every_view_by_clicking(page, inspector):
    page.goto(inspector.url)
    assert "token=" not in page.url  # kept in a cookie, not in the address bar
    assert page.inner_text("h1") == "Overview"
    assert "mailboxes" in page.inner_text("table.counts")
    shot(page, "01-overview")

    nav(page, "Mail")
    assert "已发送" in page.inner_text("table.mailboxes")
    shot(page, "02-mail")
    page.click("table.mailboxes a[href='/mail/alice/INBOX']")
    page.wait_for_selector("table.messages")
    shot(page, "03-mailbox")
    page.click("table.messages a:text('This week')")  # the seeded newsletter: text and HTML alternatives
    page.wait_for_selector("#mime")
    page.click("nav.toc a[href='#mime']")
    tree = page.inner_text("ul.mime-tree")
    assert tree.index("multipart/alternative") < tree.index("text/plain") < tree.index("text/html")
    assert "<h1>This week's newsletter</h1>" in tree  # the HTML part as text, never rendered
    assert page.locator("main h1").count() == 1  # ... so its <h1> is not an element of the page
    shot(page, "04-message")

    nav(page, "FTP")
    assert "welcome.txt" in page.inner_text("table.ftp-tree")
    shot(page, "05-ftp")

    nav(page, "News")
    page.click("table.groups a:text-is('comp.lang.python')")  # not cn.comp.lang.python
    page.wait_for_selector("div.threads")
    shot(page, "06-news-group")
    page.click("ul.thread a >> nth=0")
    page.wait_for_selector("pre.raw")
    assert "Newsgroups:" in page.inner_text("pre.raw")
    shot(page, "07-news-article")

    nav(page, "Sessions")
    shot(page, "08-sessions")
    nav(page, "Faults")
    shot(page, "09-faults")
    assert page.dialogs == []


def test_a_hostile_message_cannot_run_in_the_page(page, inspector):
    page.goto(inspector.url)
    nav(page, "Mail")
    page.click("table.mailboxes a[href='/mail/alice/INBOX']")
    page.click("table.messages a:has-text('onerror')")
    page.wait_for_selector("#raw")
    assert page.inner_text("main h1") == HOSTILE_SUBJECT  # shown as the text it is
    assert "<script>window.__pwned=3;alert(3)</script>" in page.inner_text("ul.mime-tree")
    page.wait_for_timeout(500)  # an onerror of a broken image would fire by now
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []
    scripts = page.evaluate("() => Array.from(document.scripts).map(s => s.src)")
    assert [re.sub(r"^http://[^/]+", "", src) for src in scripts] == ["/static/inspector.js"]
    assert page.locator("main img, main svg, main iframe, main script").count() == 0
    shot(page, "10-hostile-message")


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its package is missing too
        return False


@pytest.mark.skipif(not has_module("local_servers.wire.transcripts"),
                    reason="transcripts are not in this build (local_servers/wire/transcripts.py, branch wire)")
def test_a_new_session_appears_without_a_reload(page, inspector):
    page.goto(inspector.url)
    nav(page, "Sessions")
    page.evaluate("() => { window.__same_page = true; }")  # gone if the page were reloaded
    before = page.locator("table.sessions tbody tr").count()
    with smtplib.SMTP(*inspector.handle.smtp.address, timeout=30) as smtp:
        smtp.sendmail("bob@example.test", ["alice@example.test"], b"Subject: live\r\n\r\nseen live\r\n")
    page.wait_for_function(f"() => document.querySelectorAll('table.sessions tbody tr').length > {before}")
    assert page.evaluate("() => window.__same_page") is True
    newest = page.locator("table.sessions tbody tr").first
    assert "smtp" in newest.inner_text()
    shot(page, "11-sessions-live")
    newest.locator("a").first.click()
    page.wait_for_selector("table.transcript")
    text = page.inner_text("table.transcript")
    assert re.search(r"mail from", text, re.I) and "250" in text
    shot(page, "12-transcript")


def test_a_reset_from_the_overview(page, tmp_path_factory):
    from local_servers.pytest_plugin import ServersFactory

    factory = ServersFactory(tmp_path_factory)
    try:
        handle = factory(names=["ftp", "inspector"])
        inspector = Inspector(handle)
        welcome = Path(handle.state_dir) / "data" / "ftp" / "home" / "alice" / "welcome.txt"
        welcome.unlink()
        page.goto(inspector.url)
        page.click("form.reset button:text('reset ftp')")
        page.wait_for_selector("#resetting")
        shot(page, "13-resetting")
        page.wait_for_url(re.compile(r"/$"), timeout=60_000)  # inspector.js returns once new servers answer
        page.wait_for_selector("table.counts")
        assert welcome.exists()
        assert page.evaluate("() => fetch('/ping').then(r => r.json()).then(j => j.pid)") != handle.pid
    finally:
        factory.stop_all()


@pytest.mark.skipif(not (has_module("local_servers.wire.faults") and has_module("local_servers.wire.transcripts")),
                    reason="fault injection or transcripts are not in this build (branches faults, wire)")
def test_a_fault_shows_live_and_is_cleared_from_the_page(page, inspector):
    from local_servers.wire import faults

    page.goto(inspector.url)
    nav(page, "Faults")
    assert "no active faults" in page.inner_text("main")
    fault = faults.add(inspector.handle.state_dir, "smtp", "reply", code=451, stage="RCPT", count=1)
    try:
        page.wait_for_selector(f"table.faults td:text-is('{fault.id}')")  # no reload: the live fragment
        assert page.inner_text("header .faults-count") == "1"
        shot(page, "14-faults-active")
        with smtplib.SMTP(*inspector.handle.smtp.address, timeout=30) as smtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                smtp.sendmail("bob@example.test", ["alice@example.test"], b"Subject: x\r\n\r\nx\r\n")
        assert refused.value.recipients["alice@example.test"][0] == 451
        nav(page, "Sessions")
        page.locator("table.sessions tbody tr").first.locator("a").first.click()
        transcript = page.inner_text("table.transcript")
        assert "fault" in transcript and "451" in transcript  # the injected reply and its note
        shot(page, "15-transcript-with-fault")
        fault = faults.add(inspector.handle.state_dir, "smtp", "reply", code=550, stage="MAIL")
        nav(page, "Faults")
        page.click("form[action='/faults/clear'] button:text('clear')")
        page.wait_for_selector("text=no active faults")
        assert faults.active(inspector.handle.state_dir) == []
    finally:
        faults.clear(inspector.handle.state_dir)
