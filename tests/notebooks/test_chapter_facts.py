"""What chapters 0-3 say about the servers' replies, checked against the servers.

Each FACT quotes a statement from a chapter's markdown (word for word) and checks it with a
real client against freshly started servers. So a statement that stops being true, or a
quote that the chapter no longer contains, fails here. A last test makes sure that every
reply code the chapters mention in backticks is checked by some fact (or is listed in
NOT_CHECKABLE with the reason).

(chB keeps the same kind of file for chapters 4-6.)
"""

from __future__ import annotations

import ftplib
import io
import json
import re
import socket
import ssl
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # 3.11 and 3.12: "nntplib is deprecated"
    import nntplib

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CHAPTERS = ["00_start_here", "01a_sockets", "01b_sockets_servers", "02_ftp", "03_nntp"]


@dataclass(frozen=True)
class Fact:
    chapter: str
    quotes: tuple[str, ...]      # word for word from the chapter's markdown
    codes: tuple[str, ...]       # the reply codes those quotes mention, all checked by `check`
    check: Callable

    def __str__(self) -> str:
        return f"{self.chapter}:{self.check.__name__}"


FACTS: list[Fact] = []


def fact(chapter: str, *quotes: str, codes: tuple[str, ...] = ()):
    def register(check):
        FACTS.append(Fact(chapter, quotes, codes, check))
        return check
    return register


#: Codes the chapters mention that no test can provoke from the course's servers.
NOT_CHECKABLE = {
    ("03_nntp", "201"): "the greeting of a server that allows no posting; the course's server allows posting",
}


def markdown(chapter: str) -> str:
    cells = json.loads((NOTEBOOKS / f"{chapter}.ipynb").read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


# --- FTP (chapter 2) ---------------------------------------------------------------------------

def ftp_session(servers, user: str = "anonymous", **kwargs) -> ftplib.FTP:
    ftp = ftplib.FTP(timeout=10, **kwargs)
    ftp.connect(*servers.ftp.address)
    ftp.login(user, servers.ftp.accounts[user])
    return ftp


@fact("02_ftp", "Notice the reply codes: `220` (service ready), `230` (logged in), `221` (goodbye).",
      codes=("220", "230", "221"))
def ftp_session_codes(servers):
    ftp = ftplib.FTP(timeout=10)
    assert ftp.connect(*servers.ftp.address).startswith("220 ")
    assert ftp.login().startswith("230 ")
    assert ftp.quit().startswith("221 ")


@fact("02_ftp", "Notice the `331` reply to `USER`", codes=("331",))
def ftp_user_331(servers):
    with ftplib.FTP(timeout=10) as ftp:
        ftp.connect(*servers.ftp.address)
        assert ftp.sendcmd("USER alice").startswith("331 ")


@fact("02_ftp", "Anonymous users may read but not write: the server refuses with a `5xx` reply, which ftplib raises as `ftplib.error_perm`.")
def ftp_anonymous_read_only(servers):
    with ftp_session(servers) as ftp, pytest.raises(ftplib.error_perm, match=r"^5\d\d "):
        ftp.storbinary("STOR /pub/facts-check.txt", io.BytesIO(b"no"))


@fact("02_ftp", "Notice that `pwd()` extracts the folder from the `257` reply that `sendcmd(\"PWD\")` shows in full.",
      codes=("257",))
def ftp_pwd_257(servers):
    with ftp_session(servers) as ftp:
        ftp.cwd("/pub/docs")
        reply = ftp.sendcmd("PWD")
        assert reply.startswith('257 "/pub/docs"') and ftp.pwd() == "/pub/docs"


@fact("02_ftp", "`STAT` answers on several lines: the first starts with `211-` (a dash: more lines follow), the last with `211 ` (a space: the end).",
      codes=("211",))
def ftp_stat_multiline(servers):
    with ftp_session(servers) as ftp:
        lines = ftp.sendcmd("STAT").splitlines()
    assert len(lines) > 2 and lines[0].startswith("211-") and lines[-1].startswith("211 ")
    assert any("ASCII" in line for line in lines)  # "the transfer type is ASCII"


@fact("02_ftp", "`SIZE` needs binary mode, and the course's server says so if you forget",
      "many refuse `SIZE` with `550` until the client has sent `TYPE I`", codes=("550",))
def ftp_size_needs_binary(servers):
    large = servers.ftp.extra["large_file"]
    with ftp_session(servers) as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^550 .*ASCII"):
            ftp.size(large)
        assert ftp.voidcmd("TYPE I").startswith("200 ")
        assert ftp.size(large) == servers.ftp.extra["large_file_size"]


@fact("02_ftp", "Notice that `retrlines` returns the final reply, `226 Transfer complete.`, after the last line.",
      codes=("226",))
def ftp_retrlines_226(servers):
    with ftp_session(servers) as ftp:
        assert ftp.retrlines("RETR /pub/docs/hello.txt", lambda line: None) == "226 Transfer complete."


@fact("02_ftp", "Notice that each call returns the server's `2xx` reply (`mkd` returns the new folder's path instead), and that `rmd` refuses a folder that is not empty.")
def ftp_manage_files(servers):
    folder = f"/facts-{uuid.uuid4().hex[:8]}"
    with ftp_session(servers, "alice") as ftp:
        assert ftp.mkd(folder) == folder
        try:
            ftp.storbinary(f"STOR {folder}/a.txt", io.BytesIO(b"a"))
            assert ftp.rename(f"{folder}/a.txt", f"{folder}/b.txt").startswith("2")
            with pytest.raises(ftplib.error_perm, match=r"^550 "):
                ftp.rmd(folder)
            assert ftp.delete(f"{folder}/b.txt").startswith("2")
        finally:
            for name in ftp.nlst(folder):
                ftp.delete(f"{folder}/{name.rsplit('/', 1)[-1]}")
            assert ftp.rmd(folder).startswith("2")


@fact("02_ftp", "the server opens a port and replies `227 Entering passive mode (h1,h2,h3,h4,p1,p2)`, its address and port (port = p1 × 256 + p2); the client connects there.",
      "whose preliminary reply (`125` \"data connection already open\", or `150` \"about to open it\") says the transfer starts",
      "and the final `226` comes on the **control** connection.", codes=("227", "125", "150", "226"))
def ftp_passive_by_hand(servers):
    with ftp_session(servers) as ftp:
        reply = ftp.sendcmd("PASV")
        numbers = re.fullmatch(r"227 Entering passive mode \((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)\.", reply)
        assert numbers, reply
        h1, h2, h3, h4, p1, p2 = map(int, numbers.groups())
        with socket.create_connection((f"{h1}.{h2}.{h3}.{h4}", p1 * 256 + p2), timeout=10) as data:
            assert ftp.sendcmd("NLST /pub")[:4] in ("125 ", "150 ")
            names = data.makefile("rb").read().split()
        assert b"README.txt" in names
        assert ftp.voidresp().startswith("226 ")


@fact("02_ftp", "`PORT` (reply `200`) in active mode",
      "this course's server (pyftpdlib) connects as soon as it gets `PORT`, and its reply says so: `200 Active data connection established.` That is why, in active mode, its `NLST` reply is `125` (\"data connection already open\").",
      codes=("200", "125"))
def ftp_port_200_then_125(servers):
    with ftp_session(servers) as ftp, socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]
        assert ftp.sendcmd(f"PORT 127,0,0,1,{port >> 8},{port & 255}") == "200 Active data connection established."
        data, _ = listener.accept()  # already connected, before any transfer command
        with data:
            assert ftp.sendcmd("NLST /pub").startswith("125 ")
            data.makefile("rb").read()
        assert ftp.voidresp().startswith("226 ")


@fact("02_ftp", "it takes only the **port** from a `227` reply and connects to the host it is already talking to.",
      codes=("227",))
def ftplib_ignores_the_227_host(servers):
    """A client-side fact: ftplib's default, and what makepasv() returns against the course's server."""
    assert ftplib.FTP.trust_server_pasv_ipv4_address is False
    with ftp_session(servers) as ftp:
        host, port = ftp.makepasv()
        assert host == ftp.sock.getpeername()[0] and port > 0
        ftp.close()  # the passive port was never used: end the session without QUIT


@fact("02_ftp", "a wrong password makes the server refuse the login with `530`; a folder or a file that does not exist gets `550`.",
      "the wrong password takes a moment: servers wait a little before answering `530`, to slow down password guessing;",
      codes=("530", "550"))
def ftp_530_and_550(servers):
    with ftplib.FTP(timeout=10) as ftp:
        ftp.connect(*servers.ftp.address)
        started = time.monotonic()
        with pytest.raises(ftplib.error_perm, match=r"^530 "):
            ftp.login("alice", "not-her-password")
        assert time.monotonic() - started >= 0.5  # "servers wait a little before answering 530"
    with ftp_session(servers) as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^550 "):
            ftp.cwd("/pub/no-such-folder")
        with pytest.raises(ftplib.error_perm, match=r"^550 "):
            ftp.retrbinary("RETR /pub/NO-SUCH-FILE.txt", lambda block: None)


@fact("02_ftp", "it speaks UTF-8 until a client sends `OPTS UTF8 OFF`, and GBK after that.")
def ftp_opts_utf8_off_means_gbk(servers):
    def raw_names(ftp):
        lines = []
        ftp.retrbinary("NLST /pub/gbk", lines.append)
        return b"".join(lines).split(b"\r\n")

    expected = sorted(path.name for path in (servers.state_dir / "data/ftp/public/pub/gbk").iterdir())
    with ftp_session(servers) as ftp:
        assert sorted(name.decode("utf-8") for name in raw_names(ftp) if name) == expected
        assert ftp.sendcmd("OPTS UTF8 OFF").startswith("200 ")
        gbk = [name for name in raw_names(ftp) if name]
        assert sorted(name.decode("gbk") for name in gbk) == expected
        with pytest.raises(UnicodeDecodeError):
            [name.decode("utf-8") for name in gbk]
        assert ftp.sendcmd("OPTS UTF8 ON").startswith("200 ")
        assert sorted(name.decode("utf-8") for name in raw_names(ftp) if name) == expected


@fact("02_ftp", "Notice the order: `AUTH TLS` comes *before* `USER` and `PASS`, so the password travels encrypted; `PBSZ 0` and `PROT P` then protect the data connections")
def ftps_auth_tls_then_prot_p(servers):
    context = ssl.create_default_context(cafile=servers.ca_file)
    with ftplib.FTP_TLS(context=context, timeout=10) as ftps:
        ftps.connect(*servers.ftp.address)
        assert ftps.auth().startswith("234 ")
        assert isinstance(ftps.sock, ssl.SSLSocket)
        ftps.login("alice", servers.ftp.accounts["alice"])
        assert ftps.prot_p().startswith("200 ")
        assert ftps.retrlines("RETR welcome.txt", lambda line: None).startswith("226 ")


# --- NNTP (chapter 3) --------------------------------------------------------------------------

def news(servers) -> nntplib.NNTP:
    return nntplib.NNTP(servers.nntp.host, servers.nntp.port, timeout=10)


@fact("03_nntp", "the greeting `200 ...` says that posting is allowed", codes=("200",))
def nntp_greeting_200(servers):
    with news(servers) as server:
        assert server.getwelcome().startswith("200 ") and "posting allowed" in server.getwelcome()


@fact("03_nntp", "`GROUP` answers `211 30 1 30 comp.lang.python`: 30 articles, numbered from 1 to 30;", codes=("211",))
def nntp_group_211(servers):
    with news(servers) as server:
        assert server.group("comp.lang.python")[0] == "211 30 1 30 comp.lang.python"


@fact("03_nntp", "Notice `POST` (you may post here), `OVER` and `HDR` (the fast listing commands used below), `STARTTLS` and `AUTHINFO USER` (encryption and login). `205` is the status of a polite goodbye.",
      codes=("205",))
def nntp_capabilities_and_205(servers):
    server = news(servers)
    capabilities = server.getcapabilities()
    assert {"POST", "OVER", "HDR", "STARTTLS"} <= set(capabilities)
    assert capabilities["AUTHINFO"] == ["USER"]
    assert server.quit().startswith("205 ")


@fact("03_nntp", "Notice that an article asked for by Message-ID is reported with number `0`")
def nntp_message_id_number_0(servers):
    with news(servers) as server:
        resp, info = server.body("<20240306083000.t3b@example.test>")
    assert resp.startswith("222 0 <20240306083000.t3b@example.test>") and info.number == 0


@fact("03_nntp", "It refuses, with status `441` and a reason, posts to a read-only group, articles without `From`, `Subject` or `Newsgroups`, and a Message-ID it already has:",
      "only a `240` reply means the article was accepted.", codes=("441", "240"))
def nntp_441_and_240(servers):
    message_id = f"<facts-{uuid.uuid4().hex}@example.test>"
    good = (f"From: alice@example.test\r\nNewsgroups: course.test\r\nSubject: facts\r\n"
            f"Message-ID: {message_id}\r\n\r\nHello\r\n").encode()
    bad = {
        "read-only": b"From: a@example.test\r\nNewsgroups: comp.lang.python\r\nSubject: hi\r\n\r\nHello\r\n",
        "no From": b"Newsgroups: course.test\r\nSubject: hi\r\n\r\nHello\r\n",
        "no Subject": b"From: a@example.test\r\nNewsgroups: course.test\r\n\r\nHello\r\n",
        "no Newsgroups": b"From: a@example.test\r\nSubject: hi\r\n\r\nHello\r\n",
    }
    with news(servers) as server:
        assert server.post(good).startswith("240 ")
        for problem, article in [*bad.items(), ("duplicate", good)]:
            with pytest.raises(nntplib.NNTPTemporaryError, match=r"^441 \S"):
                server.post(article)


@fact("03_nntp", "after the login the server no longer offers `AUTHINFO`")
def nntp_authinfo_gone_after_login(servers):
    context = ssl.create_default_context(cafile=servers.ca_file)
    with nntplib.NNTP_SSL(servers.nntp.host, servers.nntp.tls_ports["nntps"], ssl_context=context, timeout=10) as server:
        assert "AUTHINFO" in server.getcapabilities()
        server.login("alice", servers.nntp.accounts["alice"])
        assert "AUTHINFO" not in server.getcapabilities()


@fact("03_nntp", "Notice the headers the server added: `Path`, `Xref`, `Lines`, `Injection-Date`, and a `Date` because we sent none. A server also adds a `Message-ID` to an article that has none")
def nntp_headers_the_server_adds(servers):
    subject = f"facts {uuid.uuid4().hex}"
    article = f"From: alice@example.test\r\nNewsgroups: course.test\r\nSubject: {subject}\r\n\r\nHi\r\n".encode()
    with news(servers) as server:
        assert server.post(article).startswith("240 ")
        resp, count, first, last, name = server.group("course.test")
        resp, info = server.head(last)
    stored = dict(line.decode().split(": ", 1) for line in info.lines if b": " in line)
    assert stored["Subject"] == subject
    assert {"Path", "Xref", "Lines", "Injection-Date", "Date", "Message-ID"} <= set(stored)
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", stored["Message-ID"])


# --- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("item", FACTS, ids=str)
def test_the_chapter_makes_the_statement(item):
    text = markdown(item.chapter)
    for quote in item.quotes:
        assert quote in text, f"{item.chapter} no longer says: {quote!r} (update the fact with the chapter)"
        for code in re.findall(r"`(\d{3})[ `\-]", quote):
            assert code in item.codes, f"the quote mentions {code}, which the fact does not declare"


@pytest.mark.parametrize("item", FACTS, ids=str)
def test_the_server_agrees(item, servers):
    item.check(servers)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_reply_code_in_the_chapter_is_checked(chapter):
    """Each `NNN` code in a chapter's prose is covered by a fact of that chapter (or not checkable)."""
    checked = {code for item in FACTS if item.chapter == chapter for code in item.codes}
    mentioned = set(re.findall(r"`(\d{3})[ `\-]", markdown(chapter)))
    # 00 mentions `227` in its table of modules: ftplib's handling of it is a fact of chapter 2.
    if chapter == "00_start_here":
        checked |= {code for item in FACTS if item.chapter == "02_ftp" for code in item.codes}
    missing = {code for code in mentioned - checked if (chapter, code) not in NOT_CHECKABLE}
    assert not missing, f"{chapter} mentions reply codes that no fact checks: {sorted(missing)}"
