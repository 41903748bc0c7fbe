"""NNTP: the news server as nntplib sees it, TLS, posting rules, persistence and bad input."""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import sys
import time
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():  # deprecated in 3.12; from standard-nntplib on 3.13
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib

from local_servers import control
from local_servers.pytest_plugin import ServersFactory

CLP = "comp.lang.python"
CN = "cn.comp.lang.python"
DOTS_ID = "<20240312090000.t7a@example.test>"  # the seeded article with dot and space lines


@pytest.fixture(scope="module")
def news(tmp_path_factory):
    """A read-only news server for this module (tests that post use `fresh`)."""
    factory = ServersFactory(tmp_path_factory)
    yield factory(names=["nntp"]).nntp
    factory.stop_all()


@pytest.fixture
def fresh(servers_factory):
    return servers_factory(names=["nntp"])


def connect(info) -> nntplib.NNTP:
    return nntplib.NNTP(info.host, info.port, timeout=10)


class Raw:
    """A bare socket, for what nntplib would never send."""

    def __init__(self, info):
        self.sock = socket.create_connection(info.address, timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        return self.file.readline()

    def cmd(self, text: str) -> bytes:
        self.send(text.encode() + b"\r\n")
        return self.line()

    def block(self) -> list[bytes]:
        lines = []
        while (line := self.line()) != b".\r\n":
            assert line, "connection closed inside a multi-line reply"
            lines.append(line)
        return lines

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def article(headers: dict[str, str], body: str = "Hello.\n") -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


# -- reading -----------------------------------------------------------------

def test_greeting_and_capabilities(news):
    with connect(news) as s:
        assert s.getwelcome().startswith("200 ")  # posting allowed on loopback
        caps = s.getcapabilities()
        assert caps["VERSION"] == ["2"]
        for cap in ("READER", "POST", "HDR", "OVER", "NEWNEWS", "STARTTLS", "AUTHINFO"):
            assert cap in caps
        assert "OVERVIEW.FMT" in caps["LIST"] and "NEWSGROUPS" in caps["LIST"]
    assert news.extra["groups"] == [CN, CLP, "course.announce", "course.test"]


def test_group_stat_next_last(news):
    with connect(news) as s:
        resp, count, first, last, name = s.group(CLP)
        assert (count, first, last, name) == (30, 1, 30, CLP)
        assert s.stat()[1] == 1  # GROUP makes the first article current
        assert s.next()[1] == 2
        assert s.next()[1] == 3
        assert s.last()[1] == 2
        number, message_id = s.stat(30)[1:]
        with pytest.raises(nntplib.NNTPTemporaryError, match="^421"):
            s.next()
        assert s.stat(message_id)[1] == 0  # by message-id: number 0, current article unchanged
        assert s.last()[1] == 29
        with pytest.raises(nntplib.NNTPTemporaryError, match="^423"):
            s.stat(31)
        with pytest.raises(nntplib.NNTPTemporaryError, match="^430"):
            s.stat("<no-such@example.test>")
        with pytest.raises(nntplib.NNTPTemporaryError, match="^411"):
            s.group("alt.nowhere")


def test_head_body_article_keep_lines_byte_exact(news):
    with connect(news) as s:
        s.group(CLP)
        number = s.stat(DOTS_ID)[1]
        body = s.body(DOTS_ID)[1].lines
        assert body[1:5] == [b".", b"..and this one starts with two dots.",
                             b"This line ends with three spaces:   ", b"\tThis one starts with a tab."]
        head = s.head(DOTS_ID)[1].lines
        whole = s.article(DOTS_ID)[1]
        assert whole.number == number == 0 and whole.message_id == DOTS_ID
        assert whole.lines == head + [b""] + body
        assert f"Message-ID: {DOTS_ID}".encode() in head
        assert b"Xref: news.example.test comp.lang.python:26" in head
        assert s.article(26)[1].lines == whole.lines  # by number in the group
        s.stat(26)
        assert s.body()[1].lines == body  # no argument: the current article
        utf8 = s.body("<20240306083000.t3b@example.test>")[1].lines
        assert '    >>> len("zażółć gęślą jaźń"), len("zażółć gęślą jaźń".encode())'.encode() in utf8


def test_dot_stuffing_on_the_wire(news):
    raw = Raw(news)
    try:
        assert raw.cmd(f"BODY {DOTS_ID}").startswith(b"222 0 ")
        lines = raw.block()
        assert lines[1:3] == [b"..\r\n", b"...and this one starts with two dots.\r\n"]
        assert all(line.endswith(b"\r\n") for line in lines)
    finally:
        raw.close()


def test_over_and_xhdr(news):
    with connect(news) as s:
        s.group(CLP)
        resp, overviews = s.over((1, 30))
        assert resp.startswith("224") and [n for n, _ in overviews] == list(range(1, 31))
        over = dict(overviews)
        assert nntplib.decode_header(over[10]["subject"]) == "Unicode in Python 3 — ça marche ?"
        assert nntplib.decode_header(over[10]["from"]) == "Renée Müller <renee@example.test>"
        # article 4 folds its References over three lines; OVER unfolds them
        assert over[4]["references"].split() == [over[1]["message-id"], over[2]["message-id"],
                                                 over[3]["message-id"]]
        assert over[26][":lines"] == "7" and int(over[26][":bytes"]) > 500
        assert over[26]["xref"] == "news.example.test comp.lang.python:26"
        assert len(s.over((25, None))[1]) == 6  # "25-": to the end
        assert s.over(DOTS_ID)[1][0][0] == 0
        with pytest.raises(nntplib.NNTPTemporaryError, match="^423"):
            s.over((40, 50))
        resp, headers = s.xhdr("subject", "9-11")
        assert headers == [("9", "Re: f-strings vs str.format"),
                           ("10", "=?utf-8?q?Unicode_in_Python_3_=E2=80=94_=C3=A7a_marche_=3F?="),
                           ("11", "Re: =?utf-8?q?Unicode_in_Python_3_=E2=80=94_=C3=A7a_marche_=3F?=")]
        assert s.xhdr("Message-ID", DOTS_ID)[1] == [("0", DOTS_ID)]
        assert s.xhdr("X-Not-There", "1")[1] == [("1", "")]


def test_chinese_group_in_the_encodings_chinese_usenet_used(news):
    """cn.comp.lang.python: GB2312 encoded-words and bodies as they travel, and one UTF-8 reply."""
    with connect(news) as s:
        assert s.group(CN)[1:4] == (4, 1, 4)
        resp, overviews = s.over((1, 4))
        over = dict(overviews)
        assert over[1]["subject"].startswith("=?GB2312?B?") and over[1]["from"].startswith("=?GB2312?B?")
        assert [nntplib.decode_header(over[n]["subject"]) for n in (1, 2, 3, 4)] == \
            ["读取中文文件时出现乱码"] + ["Re: 读取中文文件时出现乱码"] * 3
        assert nntplib.decode_header(over[1]["from"]) == "李雷 <lilei@example.test>"
        assert over[3]["subject"].startswith("Re: =?utf-8?b?")
        assert over[4]["references"].split() == [over[1]["message-id"], over[2]["message-id"]]
        gb = s.body(1)[1].lines
        assert "中文全变成了乱码，有时还抛出 UnicodeDecodeError。".encode("gb2312") in gb
        with pytest.raises(UnicodeDecodeError):
            b"\n".join(gb).decode("utf-8")  # the bytes are GB2312 on the wire, not re-encoded
        head = s.head(1)[1].lines
        assert b"Content-Type: text/plain; charset=GB2312" in head
        utf8 = b"\n".join(s.body(3)[1].lines).decode("utf-8")
        assert "喆" in utf8  # the character GB2312 lacks, why this reply is in UTF-8
        with pytest.raises(UnicodeEncodeError):
            "喆".encode("gb2312")


def test_list_and_descriptions_with_wildmats(news):
    with connect(news) as s:
        groups = {g.group: g for g in s.list()[1]}
        assert set(groups) == {CN, CLP, "course.announce", "course.test"}
        assert (groups[CLP].first, groups[CLP].last, groups[CLP].flag) == ("1", "30", "n")
        assert groups["course.test"].flag == "y"
        assert [g.group for g in s.list("course.*")[1]] == ["course.announce", "course.test"]
        assert [g.group for g in s.list("*,!course.*,course.t?st")[1]] == [CN, CLP, "course.test"]
        assert (groups[CN].first, groups[CN].last, groups[CN].flag) == ("1", "4", "n")
        assert s.descriptions("comp.*")[1] == {CLP: "Discussion about the Python programming language "
                                                    "(seeded, read-only)."}
        assert s.description("course.test") == "Post your test articles here."


def test_newgroups_newnews_date(news):
    with connect(news) as s:
        assert [g.group for g in s.newgroups(datetime.date(2024, 1, 1))[1]] == [CN, CLP, "course.announce",
                                                                               "course.test"]
        assert [g.group for g in s.newgroups(datetime.date(2024, 1, 20))[1]] == [CN, "course.announce",
                                                                                "course.test"]
        assert [g.group for g in s.newgroups(datetime.date(2024, 3, 1))[1]] == [CN]
        assert s.newnews(CLP, datetime.datetime(2024, 3, 13))[1] == [
            "<20240313150000.t8a@example.test>", "<20240313152000.t8b@example.test>",
            "<20240313160500.t8c@example.test>"]
        assert len(s.newnews("course.*", datetime.date(2024, 1, 1))[1]) == 3  # the cross-post counts once
        assert s.newnews("alt.*", datetime.date(2000, 1, 1))[1] == []
        now = s.date()[1]
        assert abs((now - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)).total_seconds()) < 5


def test_listgroup_hdr_list_headers_on_the_raw_socket(news):
    raw = Raw(news)
    try:
        assert raw.cmd(f"LISTGROUP {CLP} 28-").startswith(b"211 30 1 30 comp.lang.python")
        assert raw.block() == [b"28\r\n", b"29\r\n", b"30\r\n"]
        assert raw.cmd("HDR :lines 26").startswith(b"225")
        assert raw.block() == [b"26 7\r\n"]
        assert raw.cmd("LIST HEADERS").startswith(b"215")
        assert raw.block() == [b":\r\n", b":bytes\r\n", b":lines\r\n"]
        assert raw.cmd("LIST OVERVIEW.FMT").startswith(b"215")
        assert raw.block()[-1] == b"Xref:full\r\n"
        assert raw.cmd("LIST ACTIVE.TIMES course.test").startswith(b"215")
        assert raw.block() == [b"course.test 1706788800 news@example.test\r\n"]
        assert raw.cmd("NEWGROUPS 20240201 060000 GMT").startswith(b"231")
        assert raw.block() == [b"cn.comp.lang.python 4 1 n\r\n", b"course.test 1 1 y\r\n"]
        assert raw.cmd("NEWGROUPS 240201 060000 GMT").startswith(b"231")  # two-digit year: 2024
        assert raw.block() == [b"cn.comp.lang.python 4 1 n\r\n", b"course.test 1 1 y\r\n"]
        assert raw.cmd("list bogus").startswith(b"501")
        assert raw.cmd("LIST ACTIVE comp.[a-z]*").startswith(b"501")  # brackets are not RFC 3977 wildmats
        assert raw.cmd("HELP").startswith(b"100")
        assert any(line.startswith(b"  OVER") for line in raw.block())
        assert raw.cmd("MODE READER").startswith(b"200")
        assert raw.cmd("QUIT").startswith(b"205")
        assert raw.line() == b""
    finally:
        raw.close()


# -- TLS and logins ----------------------------------------------------------

def test_nntps_and_starttls_with_login(news):
    context = ssl.create_default_context(cafile=news.ca_file)
    with nntplib.NNTP_SSL(news.host, news.tls_ports["nntps"], ssl_context=context, timeout=10) as s:
        assert s.group("course.test")[1] >= 1
        assert "STARTTLS" not in s.getcapabilities()
        s.login("alice", "alice-pw")
        assert "AUTHINFO" not in s.getcapabilities()
    with connect(news) as s:
        s.group(CLP)
        s.starttls(context)
        assert s.sock.version() is not None and "STARTTLS" not in s.getcapabilities()
        with pytest.raises(nntplib.NNTPTemporaryError, match="^412"):
            s.stat()  # STARTTLS forgets the group selected before it
        s.login("bob", "bob-pw")
        assert s.group(CLP)[1] == 30
    with connect(news) as s:
        with pytest.raises(nntplib.NNTPTemporaryError, match="^481"):
            s.login("alice", "wrong")
    raw = Raw(news)
    try:
        assert raw.cmd("AUTHINFO PASS alice-pw").startswith(b"482")
        assert raw.cmd("AUTHINFO USER carol").startswith(b"381")
        assert raw.cmd("AUTHINFO PASS carol-pw").startswith(b"281")
        assert raw.cmd("AUTHINFO USER carol").startswith(b"502")
        assert raw.cmd("STARTTLS").startswith(b"502")  # not after a login
    finally:
        raw.close()


def test_starttls_discards_commands_pipelined_before_the_handshake(news):
    raw = Raw(news)
    try:
        raw.send(b"STARTTLS\r\nGROUP comp.lang.python\r\n")
        assert raw.line().startswith(b"382")
        context = ssl.create_default_context(cafile=news.ca_file)
        tls = context.wrap_socket(raw.sock, server_hostname=news.host)
        tls.sendall(b"STAT\r\n")
        assert tls.recv(100).startswith(b"412")  # the injected GROUP was thrown away
        tls.close()
    finally:
        raw.close()


# -- posting -----------------------------------------------------------------

def test_post_adds_the_servers_headers_and_keeps_the_body(fresh):
    body = ".starts with a dot\nends with spaces  \n\ttab and 8-bit: Grüße\n..two dots\n"
    with connect(fresh.nntp) as s:
        count_before = s.group("course.test")[1]
        posted = s.post(article({"From": "Alice <alice@example.test>", "Newsgroups": "course.test",
                                 "Subject": "=?utf-8?q?Gr=C3=BC=C3=9Fe?="}, body))
        assert posted.startswith("240")
        resp, count, first, last, _ = s.group("course.test")
        assert count == count_before + 1
        info = s.article(last)[1]
        head = info.lines[:info.lines.index(b"")]
        assert info.lines[len(head) + 1:] == body.encode().split(b"\n")[:-1]
        names = [line.split(b":")[0] for line in head]
        assert names[0] == b"Path" and head[0] == b"Path: news.example.test!not-for-mail"
        for name in (b"Message-ID", b"Date", b"Lines", b"Injection-Date", b"Xref"):
            assert name in names
        assert f"Xref: news.example.test course.test:{last}".encode() in head
        assert b"Lines: 4" in head
        assert posted.endswith(info.message_id)
        # followups: a reply with References threads under it
        s.post(article({"From": "bob@example.test", "Newsgroups": "course.test", "Subject": "Re: Grüße",
                        "References": info.message_id, "Message-ID": "<reply.1@example.test>"}))
        over = dict(s.over((last, last + 1))[1])
        assert over[last + 1]["references"] == info.message_id
        assert over[last + 1]["message-id"] == "<reply.1@example.test>"
        assert nntplib.decode_header(over[last]["subject"]) == "Grüße"


BAD_POSTS = [
    ({"Newsgroups": "course.test", "Subject": "x"}, "missing or empty From"),
    ({"From": "a@example.test", "Newsgroups": "course.test"}, "missing or empty Subject"),
    ({"From": "a@example.test", "Subject": "x"}, "missing or empty Newsgroups"),
    ({"From": "a@example.test", "Subject": "", "Newsgroups": "course.test"}, "missing or empty Subject"),
    ({"From": "a@example.test", "Subject": "x", "Newsgroups": "alt.nowhere"}, "no such newsgroup"),
    ({"From": "a@example.test", "Subject": "x", "Newsgroups": "course.test,course.announce"}, "read-only"),
    ({"From": "a@example.test", "Subject": "x", "Newsgroups": CLP}, "read-only"),
    ({"From": "a@example.test", "Subject": "x", "Newsgroups": "course.test", "Message-ID": "no-brackets"},
     "malformed Message-ID"),
    ({"From": "a@example.test", "Subject": "x", "Newsgroups": "course.test", "Message-ID": DOTS_ID},
     "duplicate Message-ID"),
    ({"From": "a@example.test", "Subject": "x", "Newsgroups": "course.test", "Date": "yesterday"},
     "unparseable Date"),
]


def test_bad_posts_get_441_with_a_reason(fresh):
    with connect(fresh.nntp) as s:
        count = s.group("course.test")[1]
        for headers, reason in BAD_POSTS:
            with pytest.raises(nntplib.NNTPTemporaryError, match=f"^441 .*{reason}"):
                s.post(article(headers))
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441 .*malformed header line 2"):
            s.post(b"From: a@example.test\r\nthis is not a header\r\nSubject: x\r\n"
                   b"Newsgroups: course.test\r\n\r\nbody\r\n")
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441 .*duplicate Subject"):
            s.post(b"From: a@example.test\r\nSubject: x\r\nSubject: y\r\nNewsgroups: course.test\r\n\r\nb\r\n")
        assert s.group("course.test")[1] == count  # none of them was stored
        assert s.post(article({"From": "a@example.test", "Subject": "ok", "Newsgroups": "course.test"}))


def test_too_big_article_and_idle_timeout(servers_factory):
    handle = servers_factory(names=["nntp"], options={"nntp_max_article_bytes": "2000", "nntp_idle_timeout": "1"})
    idle = Raw(handle.nntp)
    with connect(handle.nntp) as s:
        headers = {"From": "a@example.test", "Subject": "big", "Newsgroups": "course.test"}
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441 Article too big"):
            s.post(article(headers, "x" * 70 + "\n") * 40)
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441 Article too big"):
            s.post(article(headers, "y" * 5000 + "\n"))  # one line longer than the limit
        assert s.post(article(headers, "small\n")).startswith("240")
        assert s.group("course.test")[1] == 2
    time.sleep(1.2)
    assert idle.line().startswith(b"400")  # RFC 3977 §3.1: 400 before closing an idle connection
    assert idle.line() == b""
    idle.close()


def test_posted_article_survives_a_restart(servers_factory):
    handle = servers_factory(names=["nntp"])
    headers = {"From": "carol@example.test", "Subject": "keep me", "Newsgroups": "course.test"}
    with connect(handle.nntp) as s:
        message_id = s.post(article(headers, "Still here?\n")).split()[-1]
        number = s.group("course.test")[3]
    control.stop(handle.state_dir)
    again = control.start(handle.state_dir, ephemeral=True, names=["nntp"])
    assert again.pid != handle.pid
    with connect(again.nntp) as s:
        assert s.group("course.test")[3] == number
        assert s.body(message_id)[1].lines == [b"Still here?"]
        assert s.stat(number)[1:] == (number, message_id)
        # numbers are never reused: the next post gets the next number
        s.post(article(headers, "And another.\n"))
        assert s.group("course.test")[3] == number + 1


def test_dropped_connection_mid_post_stores_nothing(fresh):
    info = fresh.nntp
    spool = fresh.state_dir / "data" / "nntp" / "spool"
    before = sorted(spool.rglob("*"))
    raw = Raw(info)
    assert raw.cmd("POST").startswith(b"340")
    raw.send(b"From: a@example.test\r\nSubject: half\r\nNewsgroups: course.test\r\n\r\nthe first half")
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    raw.close()  # a reset, not a goodbye
    time.sleep(0.2)
    with connect(info) as s:
        assert s.group("course.test")[1] == 1
    assert sorted(spool.rglob("*")) == before
    assert not any((fresh.state_dir / "data" / "nntp" / "tmp").glob("*"))


# -- bad input -----------------------------------------------------------------

def test_bad_input_gets_errors_and_the_server_keeps_serving(news):
    raw = Raw(news)
    try:
        assert raw.greeting.startswith(b"200")
        assert raw.cmd("A" * 600).startswith(b"501")  # over 512 octets (RFC 3977 §3.1)
        raw.send(b"X" * 100_000 + b"\r\n")  # much longer: skipped, not buffered
        assert raw.line().startswith(b"501")
        raw.send(b"\xff\xfe\x00\x01garbage\r\n")
        assert raw.line().startswith(b"501")
        assert raw.cmd("FROBNICATE").startswith(b"500")
        assert raw.cmd("").startswith(b"500")
        assert raw.cmd("ARTICLE 1").startswith(b"412")  # no group selected
        assert raw.cmd("NEXT").startswith(b"412")
        assert raw.cmd("ARTICLE 1 2").startswith(b"501")
        assert raw.cmd("ARTICLE <no-such@example.test>").startswith(b"430")
        assert raw.cmd("GROUP").startswith(b"501")
        assert raw.cmd("GROUP course.test").startswith(b"211")
        assert raw.cmd("OVER 5-x").startswith(b"501")
        assert raw.cmd("NEWGROUPS 20241399 000000").startswith(b"501")
        assert raw.cmd("NEWNEWS * yesterday").startswith(b"501")
        assert raw.cmd("AUTHINFO SASL PLAIN").startswith(b"501")
        # several commands in one packet are answered in order (pipelining)
        raw.send(b"GROUP comp.lang.python\r\nNEXT\r\nDATE\r\n")
        assert [raw.line()[:3] for _ in range(3)] == [b"211", b"223", b"111"]
    finally:
        raw.close()
    with connect(news) as s:
        assert s.group(CLP)[1] == 30


def test_beyond_loopback_posting_needs_a_login_over_tls(tmp_path):
    """Bound beyond loopback (ctx.public), no anonymous posts and no passwords in clear text.

    The course never binds beyond loopback in tests, so this runs the service
    in this process on 127.0.0.1 with public=True.
    """
    import asyncio
    import threading

    from local_servers.news.nntp import NNTPService
    from local_servers.service import Context
    from local_servers.tls import ensure_certificates

    NNTPService.seed(tmp_path / "data" / "nntp")
    ctx = Context(host="127.0.0.1", ports={"nntp": 0, "nntps": 0}, data_dir=tmp_path / "data",
                  tls=ensure_certificates(tmp_path / "tls"), public=True)
    loop = asyncio.new_event_loop()
    service = NNTPService(ctx)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(service.start(), loop).result(10)
        info = type("Info", (), {"host": "127.0.0.1", "port": service.ports["nntp"],
                                 "address": ("127.0.0.1", service.ports["nntp"])})
        raw = Raw(info)
        assert raw.greeting.startswith(b"201")  # no posting
        assert raw.cmd("POST").startswith(b"480")
        assert raw.cmd("AUTHINFO USER alice").startswith(b"483")  # not before TLS
        raw.close()
        context = ssl.create_default_context(cafile=str(ctx.tls.ca_file))
        with nntplib.NNTP(info.host, info.port, timeout=10) as s:
            assert "POST" not in s.getcapabilities() and "AUTHINFO" not in s.getcapabilities()
            s.starttls(context)
            s.login("alice", "alice-pw")
            assert "POST" in s.getcapabilities()
            assert s.post(article({"From": "alice@example.test", "Subject": "x", "Newsgroups": "course.test"}))
    finally:
        asyncio.run_coroutine_threadsafe(service.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads CPU time from /proc")
def test_abrupt_disconnects_leave_no_busy_loop(news):
    handle = control.find(Path(news.ca_file).parent.parent)
    for data in (b"GROUP comp.lang.python\r\nOVER 1-30\r\n", b"POST\r\nFrom: x", b"HALF A COMM"):
        sock = socket.create_connection(news.address, timeout=10)
        sock.sendall(data)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    time.sleep(0.3)

    def cpu_seconds() -> float:
        fields = Path(f"/proc/{handle.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    start = cpu_seconds()
    time.sleep(1.0)
    assert cpu_seconds() - start < 0.2
    with connect(news) as s:
        assert s.group(CLP)[1] == 30


def test_seed_is_deterministic(tmp_path):
    from local_servers.news.nntp import NNTPService

    def files(root: Path) -> dict:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    NNTPService.seed(tmp_path / "one")
    NNTPService.seed(tmp_path / "two")
    one = files(tmp_path / "one")
    assert one == files(tmp_path / "two")
    assert len([name for name in one if name.startswith("spool")]) == 37  # 30 + 4 (cn.*) + 3: the cross-post is one file
