"""The inspector over HTTP: who may look, every view, escaping of hostile mail, resets behind CSRF.

Each test talks to a real server process (its own state directory and ports) with
http.client, the way a browser or a script would.
"""

from __future__ import annotations

import ftplib
import io
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from local_servers.inspector import access, stores
from local_servers.mail import mailstore

from inspector_client import HOSTILE_HTML, HOSTILE_NAME, HOSTILE_SUBJECT, Inspector, send_hostile

#: The services a test needs: the inspector and what it shows (echo/time/http left out: quicker).
SHOWN = ["ftp", "smtp", "pop3", "imap", "nntp", "inspector"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server set for the read-only tests, with the hostile message delivered once."""
    from local_servers.pytest_plugin import ServersFactory

    factory = ServersFactory(tmp_path_factory)
    handle = factory(names=SHOWN)
    send_hostile(handle)
    yield Inspector(handle)
    factory.stop_all()


def mail_dir(handle) -> Path:
    return Path(handle.state_dir) / "data" / "mail"


def first_key(handle, user="alice", folder=None) -> str:
    return mailstore.messages(mailstore.user_dir(mail_dir(handle), user, folder))[-1].key


def views(inspector: Inspector) -> list[str]:
    """A path of every view (and of one item of each kind)."""
    handle = inspector.handle
    return ["/", "/mail", "/mail/alice/INBOX", f"/mail/alice/INBOX/{quote(first_key(handle))}",
            "/mail/alice/%26XfJT0ZAB-", "/ftp", "/news", "/news/comp.lang.python", "/news/comp.lang.python/1",
            "/sessions", "/sessions?fragment=1", "/faults", "/faults?fragment=1", "/status?fragment=1", "/ping"]


def test_token_is_private_and_printed_by_inspect(shared):
    path = access.token_path(shared.handle.state_dir)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text().strip() == shared.token and len(shared.token) == 64
    printed = subprocess.run([sys.executable, "-m", "local_servers", "--state-dir", str(shared.handle.state_dir),
                              "inspect"], capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == f"Inspector: {shared.url}"
    assert shared.handle.inspector.host == "127.0.0.1"
    assert "inspector" not in shared.handle.table()  # the chapters' table stays the protocols'


def test_inspect_says_when_nothing_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "local_servers", "--state-dir", str(tmp_path), "inspect"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3 and "not running" in result.stderr


def test_every_view_needs_credentials(shared):
    for path in views(shared):
        reply = shared.get(path, auth=None)
        assert reply.status == 401, path
        assert reply.headers["WWW-Authenticate"].startswith("Basic"), path
        assert shared.get(path, auth="wrong").status == 403, path  # not even user:password form
        assert shared.get(path, headers={"Authorization": "Bearer " + "0" * 64}, auth=None).status == 403, path
        assert shared.get(path, auth="alice:bob-pw").status == 403, path
        assert shared.get(f"{path}{'&' if '?' in path else '?'}token=nope", auth=None).status == 403, path


def test_every_view_answers_with_the_token(shared):
    for path in views(shared):
        reply = shared.get(path)
        assert reply.status == 200, (path, reply.text[:500])
        assert "default-src 'none'" in reply.headers["Content-Security-Policy"], path
        assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_views_show_the_data(shared):
    assert "已发送" in shared.get("/mail").text  # alice's modified UTF-7 folder, decoded
    inbox = shared.get("/mail/alice/INBOX").text
    assert "44 message(s)" not in inbox or "older" in inbox  # a page, not all of them
    ftp = shared.get("/ftp").text
    assert "welcome.txt" in ftp and "gradient.png" in ftp and re.search(r"\d+(\.\d)? (B|KiB|MiB)", ftp)
    news = shared.get("/news").text
    assert "comp.lang.python" in news and "course.test" in news
    group = shared.get("/news/comp.lang.python").text
    assert "class=thread" in group and "depth-1" in group  # replies are indented under their article
    chinese = shared.get("/news/cn.comp.lang.python").text
    assert "读取中文文件时出现乱码" in chinese and "李雷" in chinese  # GB2312 encoded-words, decoded
    article = shared.get("/news/cn.comp.lang.python/1").text
    assert "中文全变成了乱码" in article  # the GB2312 body, decoded with its declared charset
    message = shared.get(f"/mail/alice/INBOX/{quote(first_key(shared.handle))}").text
    for section in ("id=headers", "id=mime", "id=raw"):
        assert section in message


def test_a_message_shows_its_mime_tree(shared):
    handle = shared.handle
    box = mailstore.user_dir(mail_dir(handle), "alice")
    newsletter = next(e.key for e in mailstore.messages(box) if b"newsletter" in e.path.read_bytes())
    page = shared.get(f"/mail/alice/INBOX/{quote(newsletter)}").text
    tree = page.split("id=mime", 1)[1].split("id=raw", 1)[0]
    assert tree.index("multipart/alternative") < tree.index("text/plain") < tree.index("text/html")
    assert "&lt;h1&gt;This week" in tree  # the HTML part as its source


def test_hostile_mail_is_escaped_everywhere(shared):
    inbox = shared.get("/mail/alice/INBOX").text
    key = next(e.key for e in mailstore.messages(mailstore.user_dir(mail_dir(shared.handle), "alice"))
               if b"mallory" in e.path.read_bytes())
    page = shared.get(f"/mail/alice/INBOX/{quote(key)}").text
    for text in (inbox, page):
        scripts = re.findall(r"<script[^>]*>", text, re.I)
        assert scripts == ['<script src="/static/inspector.js" defer>'], scripts
        assert not re.search(r"<(img|svg|a)[^>]*(onerror|onload|javascript:)", text, re.I)
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in inbox  # the subject, as text
    assert "&lt;script&gt;window.__pwned=3;alert(3)&lt;/script&gt;" in page  # the HTML part, as source
    assert "&quot;&gt;&lt;svg onload=window.__pwned=6&gt;.txt" in page  # the attachment's name
    assert HOSTILE_HTML not in page and HOSTILE_SUBJECT not in page and HOSTILE_NAME not in page


def test_the_token_in_the_address_becomes_a_cookie(shared):
    reply = shared.get(f"/mail?token={shared.token}", auth=None)
    assert reply.status == 303 and reply.headers["Location"] == "/mail"
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    name_value = cookie.split(";", 1)[0]
    assert shared.get("/mail", auth=None, headers={"Cookie": name_value}).status == 200
    assert shared.get("/mail", auth=None, headers={"Cookie": name_value[:-1] + "x"}).status == 403


def test_an_account_sees_its_own_mail_only_and_changes_nothing(shared):
    alice = "alice:alice-pw"
    assert shared.get("/mail/alice/INBOX", auth=alice).status == 200
    assert shared.get("/mail/bob/INBOX", auth=alice).status == 404
    assert shared.get(f"/mail/bob/INBOX/{quote(first_key(shared.handle, 'bob'))}", auth=alice).status == 404
    index = shared.get("/mail", auth=alice).text
    assert "/mail/alice/INBOX" in index and "/mail/bob/" not in index
    ftp = shared.get("/ftp", auth=alice).text
    assert "home/alice" in ftp and "home/bob" not in ftp
    overview = shared.get("/", auth=alice).text
    assert "csrf" not in overview  # no reset buttons
    reply = shared.post("/reset", f"csrf={shared.csrf}&service=mail", auth=alice)
    assert reply.status == 403


def test_another_host_name_is_refused(shared):
    # A page on evil.example whose name resolves to 127.0.0.1 ("DNS rebinding") must get nothing.
    reply = shared.get("/mail", headers={"Host": f"evil.example:{shared.port}"})
    assert reply.status == 403 and "alice" not in reply.text


def test_missing_things_are_404_not_errors(shared):
    for path in ("/nope", "/mail/alice/NoSuchFolder", "/mail/alice/INBOX/no-such-key", "/mail/../../etc/INBOX",
                 "/mail/alice/..%2F..%2F..%2Fetc", "/news/no.group", "/news/comp.lang.python/99999",
                 "/news/comp.lang.python/x", "/static/../web.py", "/static/inspector.py"):
        assert shared.get(path).status == 404, path
    assert shared.get("/mail/alice/INBOX?page=-3").status == 200
    assert shared.get("/mail/alice/INBOX?page=999999999999").status == 200


def test_a_large_mailbox_is_paginated(servers_factory):
    handle = servers_factory(names=["smtp", "pop3", "imap", "inspector"])
    inspector = Inspector(handle)
    for n in range(130):
        mailstore.deliver(mail_dir(handle), "carol", f"Subject: bulk {n:03d}\nFrom: a@b.c\n\nbody {n}\n".encode(),
                          when=time.time() + n)
    total = len(mailstore.messages(mailstore.user_dir(mail_dir(handle), "carol")))
    first = inspector.get("/mail/carol/INBOX").text
    assert f"{total} message(s)" in first
    assert first.count('href="/mail/carol/INBOX/') == 50
    assert "bulk 129" in first and "bulk 079" not in first  # newest first
    last_page = (total - 1) // 50
    last = inspector.get(f"/mail/carol/INBOX?page={last_page}").text
    assert last.count('href="/mail/carol/INBOX/') == total - 50 * last_page
    assert "rel=next" not in last and "rel=prev" in last


def test_forms_need_the_csrf_value_and_a_reset_restores_the_data(servers_factory):
    handle = servers_factory(names=["ftp", "inspector"])
    inspector = Inspector(handle)
    welcome = Path(handle.state_dir) / "data" / "ftp" / "home" / "alice" / "welcome.txt"
    with ftplib.FTP() as ftp:
        ftp.connect(*handle.ftp.address, timeout=30)
        ftp.login("alice", "alice-pw")
        ftp.delete("welcome.txt")
        ftp.storbinary("STOR mine.txt", io.BytesIO(b"mine"))
    assert not welcome.exists()

    assert inspector.post("/reset", "service=ftp").status == 403  # no CSRF value
    assert inspector.post("/reset", "service=ftp&csrf=" + "0" * 64).status == 403
    assert inspector.post("/reset", f"service=ftp&csrf={inspector.csrf}", auth=None).status == 401
    assert inspector.post("/reset", f"service=ftp&csrf={inspector.csrf}",
                          headers={"Origin": "http://evil.example"}).status == 403
    assert inspector.post("/reset", f"service=mail&csrf={inspector.csrf}").status == 400  # not running here
    time.sleep(0.5)
    assert not welcome.exists() and handle.pid == Inspector(handle).wait_back(0)  # nothing was reset

    reply = inspector.post("/reset", f"service=ftp&csrf={inspector.csrf}")
    assert reply.status == 202 and "Resetting ftp" in reply.text
    inspector.wait_back(handle.pid)
    assert welcome.exists()
    assert not (welcome.parent / "mine.txt").exists()
    assert inspector.get("/ftp").status == 200  # the same token and port after the restart


def test_a_too_large_form_is_refused(shared):
    assert shared.post("/faults/clear", "x=" + "a" * 10000).status == 413


def test_the_inspector_stays_on_loopback_when_the_servers_are_public(servers_factory):
    if sys.platform != "linux":
        pytest.skip("127.0.0.2 is a loopback address on Linux only")
    handle = servers_factory(names=["ftp", "inspector"], host="127.0.0.2")
    assert handle.ftp.host == "127.0.0.2"
    assert handle.inspector.host == "127.0.0.1"
    assert Inspector(handle).get("/ftp").status == 200


def test_faults_are_listed_and_cleared_only_with_the_csrf_value(servers_factory):
    faults = pytest.importorskip("local_servers.wire.faults", reason="fault injection is not in this build")
    handle = servers_factory(names=["smtp", "inspector"])
    inspector = Inspector(handle)
    fault = faults.add(handle.state_dir, "smtp", "reply", code=451, stage="RCPT")
    page = inspector.get("/faults").text
    assert fault.id in page and "reply 451 on smtp at RCPT" in page
    assert "faults: <b class=faults-count>1</b>" in inspector.get("/status?fragment=1").text
    assert inspector.get("/faults", auth="alice:alice-pw").status == 200
    assert inspector.post("/faults/clear", f"id={fault.id}&csrf={inspector.csrf}", auth="alice:alice-pw").status == 403
    assert inspector.post("/faults/clear", f"id={fault.id}").status == 403
    assert [f.id for f in faults.active(handle.state_dir)] == [fault.id]
    reply = inspector.post("/faults/clear", f"id={fault.id}&csrf={inspector.csrf}")
    assert reply.status == 303 and reply.headers["Location"] == "/faults"
    assert faults.active(handle.state_dir) == []
    assert "no active faults" in inspector.get("/faults").text


def test_a_refused_post_body_is_never_read_as_a_request(shared):
    # The body of a POST refused before it is read must not be taken for the next request on the connection.
    import socket

    smuggled = b"GET /mail HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + shared.token.encode() + b"\r\n\r\n"
    with socket.create_connection((shared.host, shared.port), timeout=30) as sock:
        sock.sendall(b"POST /reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(smuggled)
                     + smuggled)
        replies = b""
        while chunk := sock.recv(65536):
            replies += chunk
    assert replies.startswith(b"HTTP/1.1 401") and replies.count(b"HTTP/1.1 ") == 1


def test_too_many_query_parameters_get_400(shared):
    assert shared.get("/mail?" + "&".join(f"a{i}=1" for i in range(50))).status == 400


def test_a_hostile_command_is_escaped_in_its_transcript(shared):
    pytest.importorskip("local_servers.wire.transcripts", reason="transcripts are not in this build (branch wire)")
    import smtplib

    with smtplib.SMTP(*shared.handle.smtp.address, timeout=30) as smtp:
        code, _ = smtp.docmd("<script>window.__pwned=9</script>")
        assert code == 500
    listing = shared.get("/sessions").text
    newest = re.search(r'href="/sessions/([^"]+)"', listing).group(1)
    deadline = time.monotonic() + 30
    while True:  # the server records the session's end once it has closed the connection
        page = shared.get(f"/sessions/{newest}").text
        if "session-state>smtp" in page and "· ended " in page or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "&lt;script&gt;window.__pwned=9&lt;/script&gt;" in page
    assert re.findall(r"<script[^>]*>", page, re.I) == ['<script src="/static/inspector.js" defer>']
    assert "data-live" not in page.split("<main>", 1)[1]  # an ended session does not refresh itself


def test_sessions_can_be_shown_for_one_service(shared):
    pytest.importorskip("local_servers.wire.transcripts", reason="transcripts are not in this build (branch wire)")
    import poplib

    client = poplib.POP3(*shared.handle.pop3.address, timeout=30)
    client.user("carol")
    client.pass_("carol-pw")
    client.quit()
    everything = shared.get("/sessions").text
    assert "<td>smtp</td>" in everything and "<td>pop3</td>" in everything
    only_pop3 = shared.get("/sessions?service=pop3").text
    assert "<td>pop3</td>" in only_pop3 and "<td>smtp</td>" not in only_pop3
    assert 'data-live="/sessions?fragment=1&amp;service=pop3"' in only_pop3
    assert "<td>smtp</td>" not in shared.get("/sessions?fragment=1&service=pop3").text


def test_messages_built_to_be_slow_are_shown_in_part(servers_factory):
    # Python's email parser takes seconds on thousands of nested or sibling parts: the page parses a bounded start.
    handle = servers_factory(names=["smtp", "pop3", "imap", "inspector"])
    inspector = Inspector(handle)
    deep = b"Subject: deep\n" + b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i)
                                         for i in range(5000)) + b"Content-Type: text/plain\n\nhi\n"
    wide = (b'Subject: wide\nContent-Type: multipart/mixed; boundary="b"\n\n'
            + b"".join(b"--b\nContent-Type: text/plain\n\npart %d\n" % i for i in range(20000)) + b"--b--\n")
    headers = b"Subject: headers\n" + b"".join(b"X-H%d: v\n" % i for i in range(60000)) + b"\nbody\n"
    keys = {name: mailstore.deliver(mail_dir(handle), "bob", data)
            for name, data in (("deep", deep), ("wide", wide), ("headers", headers))}
    for name, key in keys.items():
        page = inspector.get(f"/mail/bob/INBOX/{quote(key)}").text
        assert "(the tree shows the message's first parts only" in page, name
        tree = page.split("id=mime", 1)[1].split("id=raw", 1)[0]
        assert tree.count("<li ") <= stores.MAX_PARTS, name
        assert page.split("id=headers", 1)[1].split("id=mime", 1)[0].count("<tr>") <= stores.MAX_HEADERS + 1, name


def test_the_ftp_tree_stops_at_its_bound(servers_factory):
    handle = servers_factory(names=["ftp", "inspector"])
    uploads = Path(handle.state_dir) / "data" / "ftp" / "home" / "carol" / "many"
    uploads.mkdir()
    for n in range(stores.MAX_TREE + 500):
        (uploads / f"f{n:05d}").write_bytes(b"")
    page = Inspector(handle).get("/ftp").text
    assert "(the tree is longer: only its first entries are listed)" in page
    assert page.count("<tr>") <= stores.MAX_TREE + 1
