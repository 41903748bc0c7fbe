"""What chapters 04 (4a, 4b), 05 (5a-5c) and 06 (6a, 6b) state about the servers' replies, checked against the servers.

nbval compares a chapter's outputs with the committed ones, but the prose
around them is never run: a sentence can say `{34}` under an output showing
`{36}`. Each FACT below pairs a statement, quoted exactly from a markdown cell
(so that rewording it fails here until the fact is looked at again), with a
check of that statement against freshly seeded servers or the standard library.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import email
import imaplib
import io
import json
import poplib
import re
import smtplib
import socket
import ssl
import sys
import urllib.request
from email import policy
from email.header import Header
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, NamedTuple
from urllib.robotparser import RobotFileParser

import pytest

from local_servers.pytest_plugin import ServersFactory

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CHINESE_SENT = "&XfJT0ZAB-"


@pytest.fixture(scope="module")
def handle(tmp_path_factory):
    """One freshly seeded set for this module; the checks send mail only to bob and the catch-all."""
    factory = ServersFactory(tmp_path_factory)
    yield factory()
    factory.stop_all()


def markdown(name: str) -> str:
    cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


# ---------------------------------------------------------------------------
# the checks: each asserts what its statement says

def smtp_dialogue(handle, msg: EmailMessage) -> list[str]:
    """The command lines smtplib sent for send_message(msg)."""
    out = io.StringIO()
    with contextlib.redirect_stderr(out), smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as client:
        client.set_debuglevel(1)
        client.send_message(msg)
    return [line for line in out.getvalue().splitlines() if line.startswith("send: '")]


def message(sender: str, to: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "fact check"
    msg.set_content(text)
    return msg


def body_8bitmime_only_with_smtputf8(handle):
    eight_bit = message("alice@example.test", "bob@example.test", "Schöne Grüße ☀\n")
    assert eight_bit["Content-Transfer-Encoding"] == "8bit"
    mail = [line for line in smtp_dialogue(handle, eight_bit) if line.lower().startswith("send: 'mail")]
    assert len(mail) == 1 and re.search(r"size=\d+", mail[0]) and "BODY=" not in mail[0].upper()
    international = message("alice@example.test", "josé@example.org", "Olá\n")  # a non-ASCII address
    mail = [line for line in smtp_dialogue(handle, international) if line.lower().startswith("send: 'mail")]
    assert "SMTPUTF8" in mail[0] and "BODY=8BITMIME" in mail[0]


def ehlo_extensions(handle):
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as client:
        client.ehlo()
        assert {"size", "8bitmime", "smtputf8", "starttls", "help"} <= set(client.esmtp_features)
        assert "auth" not in client.esmtp_features  # not before STARTTLS
        client.starttls(context=ssl.create_default_context(cafile=handle.ca_file))
        client.ehlo()
        assert "starttls" not in client.esmtp_features
        assert client.esmtp_features["auth"].split() == ["LOGIN", "PLAIN"]


def unknown_user_550(handle):
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as client:
        client.ehlo()
        client.mail("alice@example.test")
        assert client.rcpt("nobody@example.test")[0] == 550
        assert client.rcpt("friend@example.org")[0] == 250  # other domains: the catch-all


def wrong_password_535(handle):
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as client:
        client.starttls(context=ssl.create_default_context(cafile=handle.ca_file))
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("alice", "wrong password")
        assert refused.value.smtp_code == 535
        assert client.login("alice", "alice-pw")[0] == 235


def size_limit_552(handle):
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as client:
        client.ehlo()
        limit = int(client.esmtp_features["size"])
        assert limit == 10 * 1024 * 1024
        assert client.mail("alice@example.test", [f"size={limit + 1}"])[0] == 552


def gb2312_label(handle):
    assert Header("会议通知", "gb2312").encode().startswith("=?eucgb2312_cn?b?")
    assert Header("会议通知", "gbk").encode().startswith("=?gbk?b?")


def pop3_capa(handle):
    box = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    try:
        capa = box.capa()
        assert {"TOP", "UIDL", "USER", "STLS", "PIPELINING"} <= set(capa) and capa["EXPIRE"] == ["NEVER"]
        box.stls(ssl.create_default_context(cafile=handle.ca_file))
        assert "STLS" not in box.capa()
    finally:
        box.quit()


def pop3_states_and_in_use(handle):
    first = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    try:
        with pytest.raises(poplib.error_proto, match="STAT is not valid in the AUTHORIZATION state"):
            first.stat()
        first.user("alice")
        first.pass_("alice-pw")
        second = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
        try:
            second.user("alice")
            with pytest.raises(poplib.error_proto, match=r"^b'-ERR \[IN-USE\]"):
                second.pass_("alice-pw")
        finally:
            second.quit()
        assert first.stat()[0] == 44
    finally:
        first.quit()


def imap_literal_36(handle):
    with socket.create_connection(handle.imap.address, timeout=10) as conn:
        replies = conn.makefile("rb")
        replies.readline()
        conn.sendall(b"a1 LOGIN alice alice-pw\r\na2 EXAMINE INBOX\r\n"
                     b"a3 FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\na4 LOGOUT\r\n")
        lines = []
        while not lines or not lines[-1].startswith(b"a4 "):
            lines.append(replies.readline())
    fetch = next(line for line in lines if line.startswith(b"* 1 FETCH"))
    literal = lines[lines.index(fetch) + 1] + lines[lines.index(fetch) + 2]
    assert fetch.endswith(b"{36}\r\n") and literal == b"Subject: Welcome to example.test\r\n\r\n"
    assert len(b"Subject: Welcome to example.test\r\n") == 34
    assert any(line.startswith(b"a2 OK [READ-ONLY]") for line in lines)
    assert b"* 44 EXISTS\r\n" in lines


def imap_capabilities_after_login(handle):
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:
        assert {"STARTTLS", "AUTH=PLAIN", "IDLE", "UIDPLUS", "MOVE"} <= set(imap.capabilities)
        typ, data = imap.login("alice", "alice-pw")
        after = data[0].split(b"]")[0].split()[1:]
        assert b"STARTTLS" not in after and b"AUTH=PLAIN" not in after and b"IDLE" in after


def chinese_folder_in_modified_utf7(handle):
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        assert b'(\\HasNoChildren) "." "&XfJT0ZAB-"' in imap.list()[1]
        assert imap.select(CHINESE_SENT, readonly=True) == ("OK", [b"5"])
    assert "已发送".encode("utf-7") == b"+XfJT0ZAB-"  # the same run, in standard UTF-7


def utf8_accept_spells_the_folder_in_utf8(handle):
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        assert "UTF8=ACCEPT" in imap.capabilities
        assert imap.enable("UTF8=ACCEPT")[0] == "OK" and imap.utf8_enabled  # imaplib now sends str as UTF-8
        listed = imap.list()[1]
        assert '(\\HasNoChildren) "." "已发送"'.encode() in listed and not any(b"&" in n for n in listed)
        assert imap.select('"已发送"', readonly=True) == ("OK", [b"5"])  # the five messages of &XfJT0ZAB-
        with pytest.raises(imaplib.IMAP4.error, match="charset not valid in UTF8 mode"):
            imap.search("UTF-8", "ALL")  # imaplib refuses a charset itself, and the server too:
        with pytest.raises(imaplib.IMAP4.error, match="SEARCH command error: BAD"):
            imap._simple_command("SEARCH", "CHARSET", "UTF-8", "ALL")
        assert imap.search(None, "ALL") == ("OK", [b"1 2 3 4 5"])
        with pytest.raises(imaplib.IMAP4.error, match="EXAMINE command error: BAD"):  # a bare 8-bit atom
            imap.select("已发送", readonly=True)
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:  # no ENABLE: modified UTF-7
        imap.login("alice", "alice-pw")
        assert b'(\\HasNoChildren) "." "&XfJT0ZAB-"' in imap.list()[1]
        assert imap.select(CHINESE_SENT, readonly=True) == ("OK", [b"5"])


def imap_helpers_of_5a_and_5b(handle):
    def code(name: str) -> str:
        cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "def send_to_alice(" in code("05a_pop3") and "def imap_login(" not in code("05a_pop3")
    assert "def send_to_alice(" in code("05b_imap") and "def imap_login(" in code("05b_imap")


def carols_reply_is_the_thread_of_5c(handle):
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        imap.select("INBOX", readonly=True)
        assert imap.search(None, "HEADER", "In-Reply-To", "<seed-009@example.test>")[1] == [b"4"]
        header = imap.fetch("4", "(BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])")[1][0][1]
    assert b"Subject: Re: Project plan" in header and b"carol@" in header
    assert 'Here the "Project plan" thread is downloaded' in markdown("05c_parsing")


def body_sections_always_literals(handle):
    with socket.create_connection(handle.imap.address, timeout=10) as conn:
        replies = conn.makefile("rb")
        replies.readline()
        conn.sendall(b"a1 LOGIN alice alice-pw\r\na2 EXAMINE INBOX\r\n"
                     b"a3 FETCH 1 (UID FLAGS BODY.PEEK[HEADER.FIELDS (X-NOT-THERE)])\r\na4 LOGOUT\r\n")
        lines = []
        while not lines or not lines[-1].startswith(b"a4 "):
            lines.append(replies.readline())
    fetch = next(line for line in lines if line.startswith(b"* 1 FETCH"))
    assert fetch.endswith(b"{2}\r\n")  # two bytes, the empty line, and still a literal
    assert re.match(rb"\* 1 FETCH \(UID \d+ FLAGS \([^)]*\) BODY\[HEADER\.FIELDS \(X-NOT-THERE\)\] \{2\}", fetch)


def silent_store_still_ok(handle):
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:
        imap.login("bob", "bob-pw")  # bob's mail: alice's is what the other checks read
        imap.select("INBOX")
        seeded = imap.fetch("1", "(FLAGS)")[1][0]
        try:
            assert imap.store("1", "+FLAGS.SILENT", r"(\Flagged)") == ("OK", [None])
            typ, data = imap.store("1", "-FLAGS", r"(\Flagged)")  # not silent: the new flags come back
            assert typ == "OK" and re.fullmatch(rb"1 \(FLAGS \([^)]*\)\)", data[0]) and b"Flagged" not in data[0]
            assert imap.store("1", "FLAGS.SILENT", r"(\Draft)") == ("OK", [None])
            assert b"Draft" in imap.fetch("1", "(FLAGS)")[1][0]  # silent, and done all the same
        finally:
            imap.store("1", "FLAGS.SILENT", "(" + " ".join(f.decode() for f in imaplib.ParseFlags(seeded)) + ")")


def chinese_sent(handle) -> list[EmailMessage]:
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        imap.select(CHINESE_SENT, readonly=True)
        data = imap.fetch("1:*", "(BODY.PEEK[])")[1]
    return [email.message_from_bytes(item[1], policy=policy.default) for item in data if isinstance(item, tuple)]


def gb2312_subjects_and_rfc2231_name(handle):
    meeting, report, *_ = chinese_sent(handle)
    assert str(meeting["Subject"]) == "会议通知" and meeting.get_content_charset() == "gbk"
    raw = report.as_bytes()
    assert b"filename*=utf-8''%E6%8A%A5%E5%91%8A.txt" in raw
    assert next(report.iter_attachments()).get_filename() == "报告.txt"


def missing_and_wrong_charsets(handle):
    *_, undeclared, wrong, unknown = chinese_sent(handle)
    assert undeclared.get_param("charset") is None and "\ufffd" in undeclared.get_content()
    assert wrong.get_param("charset") == "utf-8" and "\ufffd" in wrong.get_content()
    with pytest.raises(LookupError):
        unknown.get_content()
    for msg in (undeclared, wrong, unknown):
        with pytest.raises(UnicodeDecodeError):
            msg.get_payload(decode=True).decode("utf-8")
        msg.get_payload(decode=True).decode("gb18030")  # recovers all three


def classic_processmsg_gets_none(handle):
    with imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10) as imap:
        imap.login("alice", "alice-pw")
        imap.select("INBOX", readonly=True)
        number = imap.search(None, "HEADER", "Message-ID", "<seed-011@example.test>")[1][0]
        raw = imap.fetch(number, "(BODY.PEEK[])")[1][0][1]
    classic = email.message_from_bytes(raw)  # compat32, as the classic code parses
    assert classic.is_multipart() and classic.get_payload(decode=True) is None
    assert "text/ plain" not in [part.get_content_type() for part in classic.walk()]


def http_chunk_sizes(handle):
    host, port = handle.http.address
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(f"GET /stream/2 HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        raw = b"".join(iter(lambda: conn.recv(4096), b""))
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"\r\nTransfer-Encoding: chunked\r\n" in head + b"\r\n"
    parts = body.split(b"\r\n")
    assert parts[0] == parts[2] == b"96" and len(parts[1]) == 0x96 == 150 and parts[4:] == [b"0", b"", b""]


def gzip_always_and_identity_by_default(handle):
    base = f"http://{handle.http.host}:{handle.http.port}"
    with urllib.request.urlopen(base + "/gzip", timeout=10) as reply:  # no Accept-Encoding: gzip
        assert reply.headers["Content-Encoding"] == "gzip" and reply.read(2) == b"\x1f\x8b"
    with urllib.request.urlopen(base + "/headers", timeout=10) as reply:
        assert json.load(reply)["headers"]["Accept-Encoding"] == "identity"


def robots_forbid_deny_only(handle):
    base = f"http://{handle.http.host}:{handle.http.port}"
    robots = RobotFileParser(base + "/robots.txt")
    robots.read()
    assert not robots.can_fetch("course-crawler", base + "/deny")
    assert all(robots.can_fetch("course-crawler", base + path) for path in ("/get", "/site/index.html", "/"))
    assert robots.crawl_delay("course-crawler") is None


def plain_auth_is_base64(handle):
    assert base64.b64decode("AGFsaWNlAGFsaWNlLXB3") == b"\x00alice\x00alice-pw"


def login_prompt_is_password_and_nul(handle):
    with smtplib.SMTP(handle.smtp.host, handle.smtp.port, timeout=10) as client:
        client.starttls(context=ssl.create_default_context(cafile=handle.ca_file))
        client.ehlo()
        code, prompt = client.docmd("AUTH", "LOGIN " + base64.b64encode(b"alice").decode())
        assert (code, prompt) == (334, b"UGFzc3dvcmQA")   # one challenge: the user name came with the command
        assert base64.b64decode(prompt) == b"Password\x00"
        assert client.docmd("*")[0] == 501                 # cancel the exchange


def smtplib_command_case(handle):
    lines = smtp_dialogue(handle, message("alice@example.test", "bob@example.test", "case\n"))
    words = [line[len("send: '"):].split("<")[0] for line in lines]
    keywords = ["mail from:", "rcpt to:"] if sys.version_info >= (3, 13) else ["mail FROM:", "rcpt TO:"]
    assert words[0].startswith("ehlo ") and keywords[0] in words and keywords[1] in words
    assert "data\\r\\n'" in words and "QUIT\\r\\n'" in words


def date_header_has_a_datetime(handle):
    parsed = email.message_from_string("Date: Fri, 06 Mar 2026 09:30:00 +0100\n\n", policy=policy.default)
    assert not isinstance(parsed["Date"], datetime.datetime)
    assert isinstance(parsed["Date"].datetime, datetime.datetime)


# ---------------------------------------------------------------------------
# the statements, quoted from the chapters, and the check of each

class Fact(NamedTuple):
    notebook: str
    statement: str
    check: Callable


FACTS = [
    Fact("04_email_smtp", "smtplib does not announce it, though: it sends a plain `MAIL FROM:<...> size=...`",
         body_8bitmime_only_with_smtputf8),
    Fact("04_email_smtp", "adds `BODY=8BITMIME` only together with `SMTPUTF8`, when `send_message()` meets an address "
         "that is not ASCII", body_8bitmime_only_with_smtputf8),
    Fact("04_email_smtp", "`SIZE` (the largest message it takes), `8BITMIME` and `SMTPUTF8` (non-ASCII text and "
         "addresses), `STARTTLS` (encryption), `HELP`", ehlo_extensions),
    Fact("04b_smtp", "Notice that `AUTH` is **not** offered yet", ehlo_extensions),
    Fact("04b_smtp", "the second `EHLO` lists `AUTH LOGIN PLAIN` instead of `STARTTLS`", ehlo_extensions),
    Fact("04b_smtp", "The course's server answers `550` for an unknown user at `example.test`", unknown_user_550),
    Fact("04b_smtp", "A wrong password raises `SMTPAuthenticationError` with code `535`", wrong_password_535),
    Fact("04b_smtp", "so the server refuses a bigger one at once, with `552`", size_limit_552),
    Fact("04_email_smtp", "asked for `\"gb2312\"`, Python labels the encoded-word `eucgb2312_cn`", gb2312_label),
    Fact("04b_smtp", "no secret at all, just base64", plain_auth_is_base64),
    Fact("05a_pop3", "`CAPA` lists what the server can do: `TOP`, `UIDL`, `USER` (a plain password login), `STLS` "
         "(switch to TLS), `PIPELINING`", pop3_capa),
    Fact("05a_pop3", "after `stls()` the server no longer offers `STLS`", pop3_capa),
    Fact("05a_pop3", "a second login to the same mailbox is refused with `-ERR [IN-USE]`", pop3_states_and_in_use),
    Fact("05a_pop3", "(44 seeded messages; mail of your own adds to them)", pop3_states_and_in_use),
    Fact("05b_imap", "`{36}` announces 36 bytes of raw data", imap_literal_36),
    Fact("05b_imap", "`[READ-ONLY]` says that `EXAMINE` changes nothing anyway", imap_literal_36),
    Fact("05b_imap", "once logged in, the server no longer offers `STARTTLS` and `AUTH=PLAIN`",
         imap_capabilities_after_login),
    Fact("05b_imap", "alice has a fourth, `&XfJT0ZAB-`", chinese_folder_in_modified_utf7),
    Fact("05b_imap", "standard UTF-7 writes the same characters as `+XfJT0ZAB-`", chinese_folder_in_modified_utf7),
    Fact("05b_imap", "after `enable()` the folder is listed as `\"已发送\"`, in UTF-8 between the quotes, and that "
         "`select('\"已发送\"')` opens the same five messages as `&XfJT0ZAB-` above", utf8_accept_spells_the_folder_in_utf8),
    Fact("05b_imap", "A bare `已发送` is an atom, and atoms are ASCII only: the server answers `BAD`",
         utf8_accept_spells_the_folder_in_utf8),
    Fact("05b_imap", "a connection without `ENABLE` still sees `&XfJT0ZAB-`", utf8_accept_spells_the_folder_in_utf8),
    Fact("05b_imap", "After `ENABLE UTF8=ACCEPT`, `search()` takes no charset", utf8_accept_spells_the_folder_in_utf8),
    Fact("05b_imap", "two helpers: a logged-in IMAP connection, new in this part, and, as in part 5a, a message that "
         "bob sends to alice", imap_helpers_of_5a_and_5b),
    Fact("05b_imap", "carol's, number 4, in the \"Project plan\" thread, which you will see again at the end of the "
         "chapter, in [part 5c]", carols_reply_is_the_thread_of_5c),
    Fact("05b_imap", "this one sends every `BODY[...]` as a literal, however short", body_sections_always_literals),
    Fact("05b_imap", "the tagged `OK` still comes, and `store()` returns `[None]`", silent_store_still_ok),
    Fact("05c_parsing", "for a multipart message that is `None`", classic_processmsg_gets_none),
    Fact("05c_parsing", "`get_filename()` turned `filename*=utf-8''%E6%8A%A5%E5%91%8A.txt` into 报告.txt",
         gb2312_subjects_and_rfc2231_name),
    Fact("05c_parsing", "For an unknown name it raises `LookupError`", missing_and_wrong_charsets),
    Fact("05c_parsing", "every byte it could not read became `\\ufffd`", missing_and_wrong_charsets),
    Fact("05c_parsing", "Notice that GB18030 read all three.", missing_and_wrong_charsets),
    Fact("06b_http_more", "`96`: hexadecimal for 150, the length of one line of JSON", http_chunk_sizes),
    Fact("06b_http_more", "The course's `/gzip` always answers compressed", gzip_always_and_identity_by_default),
    Fact("06b_http_more", "they send `Accept-Encoding: identity`", gzip_always_and_identity_by_default),
    Fact("06b_http_more", "the rules for `*` (every robot) forbid `/deny` and nothing else", robots_forbid_deny_only),
    Fact("04b_smtp", "`UGFzc3dvcmQA` is base64 for `Password` followed by a NUL byte", login_prompt_is_password_and_nul),
    Fact("04b_smtp", "`ehlo`, `mail FROM:`, `rcpt TO:`, `data` (since Python 3.13 the keywords too: `mail from:`, "
         "`rcpt to:`), but the `QUIT` that the `with` block sends in upper case", smtplib_command_case),
    Fact("04_email_smtp", "the `Date` header is an object too, whose `.datetime` attribute is a `datetime`",
         date_header_has_a_datetime),
]


@pytest.mark.parametrize("fact", FACTS, ids=[f"{f.notebook}:{f.check.__name__}:{i}" for i, f in enumerate(FACTS)])
def test_the_chapter_says_it_and_the_server_does_it(fact, handle):
    assert fact.statement in markdown(fact.notebook), f"the statement is no longer in {fact.notebook}"
    fact.check(handle)
