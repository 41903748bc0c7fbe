"""The class server (issue 10, Build 3; docs/class-server.md): `up --class ROSTER.csv` with 300 students.

Real servers started by the real command line (ports chosen by the OS), real clients from the
standard library. Isolation is checked on every protocol that has accounts: one student cannot
read another's mail (POP3, IMAP), list or read another's FTP home, post news as another, or send
mail as another (SMTP).
"""

from __future__ import annotations

import csv
import email
import ftplib
import imaplib
import io
import json
import os
import poplib
import smtplib
import stat
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib

from local_servers import control
from local_servers.classroom import passwords, roster
from local_servers.handle import Handle

DOMAIN = "example.test"
GROUP = "class.course.discuss"
ROOT = Path(__file__).resolve().parents[2]


def write_roster(path: Path, count: int, start: int = 1) -> Path:
    lines = ["login,display name"] + [f"s{n:03d},Student {n:03d}" for n in range(start, start + count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(state_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LOCAL_SERVERS_URL", None)
    return subprocess.run([sys.executable, "-m", "local_servers", *args, "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def up_class(state_dir: Path, roster_file: Path, *extra: str) -> Handle:
    result = cli(state_dir, "up", "--class", str(roster_file), "--ephemeral", *extra)
    assert result.returncode == 0, result.stderr
    handle = control.find(state_dir)
    assert handle is not None and handle.server_set["kind"] == "class"
    return handle


class ClassServer:
    def __init__(self, state_dir: Path, handle: Handle):
        self.state_dir, self.handle = state_dir, handle
        self.passwords = passwords.load(state_dir)

    def pw(self, login: str) -> str:
        return self.passwords[login]

    def __getattr__(self, name):
        return getattr(self.handle, name)


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """A class server with a roster of 300 students, on 127.0.0.1."""
    base = tmp_path_factory.mktemp("class300")
    state_dir = base / "state"
    handle = up_class(state_dir, write_roster(base / "roster.csv", 300))
    yield ClassServer(state_dir, handle)
    cli(state_dir, "down")


# -- the roster -----------------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("login,display name\nann,Ann\nbob,Bob\nAnn,Ann again\n", "line 4: duplicate login 'ann' (first on line 2)"),
    ("ann,Ann\nb ob,Bob\n", "line 2: bad login 'b ob'"),
    ("ann,Ann\nbob;rm,Bob\n", "line 2: bad login 'bob;rm'"),
    ("ann,Ann\n\n../etc,Evil\n", "line 3: bad login '../etc'"),
    ("ann,Ann <ann@x>\n", "line 1: bad display name"),
    ("ann,Ann,extra\n", "line 1: expected 'login,display name', got 3 fields"),
    ("anonymous,Anon\n", "line 1: 'anonymous' is reserved"),
    ("", "no students"),
    ("login,display name\n\n", "no students"),
])
def test_a_bad_roster_is_refused_with_the_line_named(text, message):
    with pytest.raises(roster.RosterError) as caught:
        roster.parse(text, "roster.csv")
    assert message in str(caught.value)


def test_up_class_with_a_bad_roster_says_which_line_and_starts_nothing(tmp_path):
    bad = tmp_path / "roster.csv"
    bad.write_text("s001,One\ns002,Two\ns001,One again\n", encoding="utf-8")
    result = cli(tmp_path / "state", "up", "--class", str(bad), "--ephemeral")
    assert result.returncode == 2
    assert f"{bad}, line 3: duplicate login 's001' (first on line 1)" in result.stderr
    assert control.find(tmp_path / "state") is None
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    result = cli(tmp_path / "state", "up", "--class", str(empty), "--ephemeral")
    assert result.returncode == 2 and "no students" in result.stderr


@pytest.mark.parametrize("options, message", [
    (["--class-rate", "0"], "rate > 0"),
    (["--class-burst", "0"], "burst >= 1"),
    (["--class-rate", "fast"], "invalid float value"),
    (["--class-name", "Py 101"], "bad class name"),
])
def test_the_class_options_are_typed_and_checked(tmp_path, options, message):
    result = cli(tmp_path / "state", "up", "--class", str(write_roster(tmp_path / "r.csv", 2)), "--ephemeral",
                 *options)
    assert result.returncode == 2 and message in result.stderr
    assert control.find(tmp_path / "state") is None


# -- passwords --------------------------------------------------------------------------------


def test_passwords_are_made_once_kept_and_never_printed(tmp_path):
    state_dir = tmp_path / "state"
    first = up_class(state_dir, write_roster(tmp_path / "roster.csv", 3))
    try:
        file = passwords.path_in(state_dir)
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        before = passwords.load(state_dir)
        assert sorted(before) == ["s001", "s002", "s003"]
        assert len(set(before.values())) == 3 and all(len(pw) >= 16 for pw in before.values())

        # The same roster again: nothing changes, nothing restarts.
        again = cli(state_dir, "up", "--class", str(tmp_path / "roster.csv"), "--ephemeral")
        assert again.returncode == 0 and "already running" in again.stdout
        assert passwords.load(state_dir) == before

        # One student more: only theirs is new; the servers start again with them.
        write_roster(tmp_path / "roster.csv", 4)
        grown = cli(state_dir, "up", "--class", str(tmp_path / "roster.csv"), "--ephemeral")
        assert grown.returncode == 0, grown.stderr
        after = passwords.load(state_dir)
        assert {k: after[k] for k in before} == before and set(after) == set(before) | {"s004"}
        assert str(file) in grown.stdout and "1 new" in grown.stdout

        handle = control.find(state_dir)
        assert handle.pid != first.pid
        client = poplib.POP3(*handle.pop3.address, timeout=30)
        client.user("s004")
        client.pass_(after["s004"])
        assert client.stat()[0] > 0  # the lesson mail, their own copy
        client.quit()

        printed = again.stdout + again.stderr + grown.stdout + grown.stderr
        published = (state_dir / "state.json").read_text() + (state_dir / "server.log").read_text()
        served = urllib.request.urlopen(f"http://{handle.http.host}:{handle.http.port}/site/class/handle.json",
                                        timeout=30).read().decode()
        for password in after.values():
            assert password not in printed and password not in published and password not in served

        # reset keeps class mode: the seed comes back, each student's copy with it, passwords unchanged.
        with ftplib.FTP(timeout=30) as ftp:
            ftp.connect(*handle.ftp.address)
            ftp.login("s004", after["s004"])
            ftp.storbinary("STOR mine.txt", io.BytesIO(b"mine\n"))
        result = cli(state_dir, "reset", "ftp")
        assert result.returncode == 0, result.stderr
        handle = control.find(state_dir)
        assert handle.server_set["kind"] == "class" and passwords.load(state_dir) == after
        with ftplib.FTP(timeout=30) as ftp:
            ftp.connect(*handle.ftp.address)
            ftp.login("s004", after["s004"])
            assert ftp.nlst() == ["welcome.txt"]
    finally:
        cli(state_dir, "down")


# -- 300 accounts: every one logs in, each sees only their own ------------------------------


def test_every_one_of_300_students_logs_in_with_their_own_password(klass):
    assert len(klass.passwords) == 300 and klass.server_set["students"] == 300
    for login in klass.passwords:
        client = poplib.POP3(*klass.pop3.address, timeout=30)
        client.user(login)
        client.pass_(klass.pw(login))
        client.quit()
    client = poplib.POP3(*klass.pop3.address, timeout=30)
    client.user("s001")
    with pytest.raises(poplib.error_proto):
        client.pass_(klass.pw("s002"))  # another student's password
    client.close()
    client = poplib.POP3(*klass.pop3.address, timeout=30)
    client.user("alice")
    with pytest.raises(poplib.error_proto):
        client.pass_("alice-pw")  # the course's public accounts are not on a class server
    client.close()


def smtp_as(klass, login: str) -> smtplib.SMTP:
    client = smtplib.SMTP(*klass.smtp.address, timeout=30)
    client.starttls(context=klass.ssl_context())
    client.login(login, klass.pw(login))
    return client


def message(sender: str, to: str, subject: str) -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nfor {to} only\r\n").encode()


def test_mail_between_students_reaches_only_its_recipient_over_pop3_and_imap(klass):
    with smtp_as(klass, "s010") as client:
        client.sendmail(f"s010@{DOMAIN}", [f"s011@{DOMAIN}"], message(f"Student 010 <s010@{DOMAIN}>",
                                                                       f"s011@{DOMAIN}", "private 10-11"))

    def pop_subjects(login):
        client = poplib.POP3(*klass.pop3.address, timeout=30)
        client.user(login)
        client.pass_(klass.pw(login))
        count = client.stat()[0]
        subjects = [email.message_from_bytes(b"\n".join(client.top(i, 0)[1]))["Subject"]
                    for i in range(1, count + 1)]
        client.quit()
        return subjects

    def imap_subjects(login):
        with imaplib.IMAP4(*klass.imap.address, timeout=30) as imap:
            imap.login(login, klass.pw(login))
            imap.select("INBOX", readonly=True)
            _, data = imap.search(None, 'SUBJECT "private 10-11"')
            found = data[0].split()
            # Another student's mailbox cannot be named, by any path.
            for name in ("s011", "../s011", "/s011/INBOX", "s011/INBOX", "~s011"):
                typ, _ = imap.select(f'"{name}"', readonly=True)
                assert typ == "NO", name
            _, listing = imap.list('""', "*")
            assert not any(b"s011" in line for line in listing)
            return found

    assert "private 10-11" in pop_subjects("s011")
    assert "private 10-11" not in pop_subjects("s012")
    assert "private 10-11" not in pop_subjects("s010")
    assert imap_subjects("s012") == []
    with imaplib.IMAP4(*klass.imap.address, timeout=30) as imap:
        with pytest.raises(imaplib.IMAP4.error):
            imap.login("s011", klass.pw("s010"))


def test_one_students_changes_to_their_lesson_mail_leave_anothers_alone(klass):
    """Each student's lesson mail starts as the same messages: flagging and expunging are theirs alone."""
    def state(login):
        with imaplib.IMAP4(*klass.imap.address, timeout=30) as imap:
            imap.login(login, klass.pw(login))
            _, data = imap.select("INBOX", readonly=True)
            _, flags = imap.fetch("1:*", "(UID FLAGS)")
            return int(data[0]), flags

    before = state("s061")
    with imaplib.IMAP4(*klass.imap.address, timeout=30) as imap:
        imap.login("s060", klass.pw("s060"))
        imap.select("INBOX")
        imap.store("1:3", "+FLAGS", "(\\Flagged \\Deleted)")
        imap.expunge()
        assert int(imap.select("INBOX")[1][0]) == before[0] - 3
    assert state("s061") == before
    client = poplib.POP3(*klass.pop3.address, timeout=30)
    client.user("s061")
    client.pass_(klass.pw("s061"))
    assert client.stat()[0] == before[0]
    client.quit()


def test_smtp_sends_only_as_the_logged_in_student(klass):
    with pytest.raises(smtplib.SMTPSenderRefused) as caught:  # no AUTH: no mail at all
        with smtplib.SMTP(*klass.smtp.address, timeout=30) as client:
            client.sendmail(f"s020@{DOMAIN}", [f"s021@{DOMAIN}"], message(f"s020@{DOMAIN}", f"s021@{DOMAIN}", "x"))
    assert caught.value.smtp_code == 530
    with smtp_as(klass, "s020") as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as caught:  # another's envelope sender
            client.sendmail(f"s022@{DOMAIN}", [f"s021@{DOMAIN}"], message(f"s022@{DOMAIN}", f"s021@{DOMAIN}", "x"))
        assert caught.value.smtp_code == 553
        with pytest.raises(smtplib.SMTPDataError) as caught:  # their envelope, another's From
            client.sendmail(f"s020@{DOMAIN}", [f"s021@{DOMAIN}"], message(f"s022@{DOMAIN}", f"s021@{DOMAIN}", "x"))
        assert caught.value.smtp_code == 550
        assert client.sendmail(f"s020@{DOMAIN}", [f"s021@{DOMAIN}"],
                               message(f"Student 020 <S020@{DOMAIN}>", f"s021@{DOMAIN}", "as myself")) == {}


def test_ftp_homes_are_private(klass):
    with ftplib.FTP(timeout=30) as owner:
        owner.connect(*klass.ftp.address)
        owner.login("s031", klass.pw("s031"))
        owner.storbinary("STOR secret-31.txt", io.BytesIO(b"s031's own\n"))
        assert owner.pwd() == "/"
    with ftplib.FTP(timeout=30) as other:
        other.connect(*klass.ftp.address)
        other.login("s032", klass.pw("s032"))
        assert other.nlst() == ["welcome.txt"]
        got = io.BytesIO()
        other.retrbinary("RETR welcome.txt", got.write)
        assert got.getvalue().startswith(b"Hello s032!")
        for path in ("/secret-31.txt", "../s031/secret-31.txt", "/../s031/secret-31.txt", "/home/s031/secret-31.txt"):
            with pytest.raises(ftplib.error_perm):
                other.retrbinary(f"RETR {path}", got.write)
        for folder in ("../s031", "/../s031", "/s031"):
            with pytest.raises(ftplib.error_perm):
                other.cwd(folder)
            assert "secret-31.txt" not in " ".join(other.nlst())
        assert other.pwd() == "/"
    with ftplib.FTP(timeout=30) as anonymous:
        anonymous.connect(*klass.ftp.address)
        anonymous.login()
        assert "secret-31.txt" not in " ".join(anonymous.nlst("/"))
        with pytest.raises(ftplib.error_perm):
            anonymous.login("s031", klass.pw("s032"))


def nntp_as(klass, login: str | None):
    client = nntplib.NNTP(*klass.nntp.address, timeout=30)
    if login:
        client.login(login, klass.pw(login))
    return client


def article(sender: str, subject: str) -> io.BytesIO:
    return io.BytesIO(f"From: {sender}\r\nNewsgroups: {GROUP}\r\nSubject: {subject}\r\n\r\nhello class\r\n".encode())


def test_the_class_group_takes_articles_only_as_the_logged_in_student(klass):
    anonymous = nntp_as(klass, None)
    with pytest.raises(nntplib.NNTPTemporaryError, match="480"):
        anonymous.post(article(f"s040@{DOMAIN}", "anonymous"))
    anonymous.quit()
    poster = nntp_as(klass, "s040")
    assert GROUP in [g.group for g in poster.list()[1]]
    with pytest.raises(nntplib.NNTPTemporaryError, match="441"):
        poster.post(article(f"Student 041 <s041@{DOMAIN}>", "as someone else"))
    with pytest.raises(nntplib.NNTPTemporaryError, match="441"):
        poster.post(article(f"s040@{DOMAIN}, s041@{DOMAIN}", "as two"))
    poster.post(article(f"Student 040 <s040@{DOMAIN}>", "as myself, s040"))
    poster.quit()
    reader = nntp_as(klass, "s041")  # the group is shared: another student reads it
    _, _, first, last, _ = reader.group(GROUP)
    _, overviews = reader.over((first, last))
    mine = [o for _, o in overviews if o["subject"] == "as myself, s040"]
    assert len(mine) == 1 and f"s040@{DOMAIN}" in mine[0]["from"]
    assert not any(o["subject"] in ("as someone else", "as two") for _, o in overviews)
    reader.quit()


def test_the_published_handle_has_no_passwords_and_the_ca_is_the_servers(klass):
    base = f"http://{klass.http.host}:{klass.http.port}/site/class/"
    document = json.loads(urllib.request.urlopen(base + "handle.json", timeout=30).read())
    text = json.dumps(document)
    assert not any(pw in text for pw in klass.passwords.values())
    assert document["server_set"]["kind"] == "class" and "pid" not in document and "state_dir" not in document
    assert urllib.request.urlopen(base + "ca.pem", timeout=30).read() == Path(klass.ca_file).read_bytes()


# -- the notebooks' path: LOCAL_SERVERS_URL --------------------------------------------------


def test_a_notebook_with_local_servers_url_gets_the_class_handle_and_works_as_chapter_2(klass, tmp_path,
                                                                                         monkeypatch):
    import local_servers

    monkeypatch.setenv("LOCAL_SERVERS_HOME", str(tmp_path / "student-state"))
    monkeypatch.setenv("LOCAL_SERVERS_URL", f"http://{klass.http.host}:{klass.http.port}/")
    monkeypatch.setenv("LOCAL_SERVERS_ACCOUNT", f"s050:{klass.pw('s050')}")
    servers = local_servers.ensure_running()
    assert servers.server_set["kind"] == "class" and servers.server_set["user"] == "s050"
    assert repr(servers).startswith("<class servers 'course' on 127.0.0.1 as s050:")
    assert "class servers" in servers.table().splitlines()[0]
    assert servers.ftp.address == klass.ftp.address
    assert sorted(servers.ftp.accounts) == ["anonymous", "s050"]
    with pytest.raises(KeyError, match=r"'alice' has no account on the class server 'course': you log in as 's050'"):
        servers.ftp.accounts["alice"]  # what the chapters ask for today: an error that says what to do
    assert Path(servers.ca_file).read_bytes() == Path(klass.ca_file).read_bytes()
    assert not (tmp_path / "student-state" / "state.json").exists()  # nothing started here

    # Chapter 2's session, with the account the handle gives.
    user = servers.login
    assert user == "s050"
    password = servers.ftp.accounts[user]
    host, port = servers.ftp.address
    with ftplib.FTP_TLS(context=servers.ssl_context(), timeout=30) as ftp:
        ftp.connect(host, port)
        ftp.login(user, password)
        ftp.prot_p()
        assert ftp.nlst() == ["welcome.txt"]
        ftp.mkd("/ch02-scratch")
        ftp.cwd("/ch02-scratch")
        ftp.storbinary("STOR hello.txt", io.BytesIO(b"Hello from a notebook\n"))
        ftp.rename("hello.txt", "renamed.txt")
        got = io.BytesIO()
        ftp.retrbinary("RETR renamed.txt", got.write)
        assert got.getvalue() == b"Hello from a notebook\n"
        ftp.delete("renamed.txt")
        ftp.cwd("/")
        ftp.rmd("/ch02-scratch")
        ftp.quit()
    with ftplib.FTP(timeout=30) as ftp:
        ftp.connect(host, port)
        ftp.login()  # anonymous, the chapter's first session
        assert "pub" in ftp.nlst()

    # The cache: with the class server's HTTP service unreachable, the cached handle still serves.
    monkeypatch.setenv("LOCAL_SERVERS_URL", f"http://{klass.http.host}:{klass.http.port}/")
    from local_servers.classroom import remote
    monkeypatch.setattr(remote, "_fetch", lambda url: (_ for _ in ()).throw(OSError("unreachable")))
    assert local_servers.ensure_running().ftp.address == klass.ftp.address


def test_without_an_account_the_class_handle_warns_and_the_account_file_is_read(klass, tmp_path, monkeypatch):
    import local_servers

    home = tmp_path / "student-state"
    monkeypatch.setenv("LOCAL_SERVERS_HOME", str(home))
    monkeypatch.setenv("LOCAL_SERVERS_URL", f"http://{klass.http.host}:{klass.http.port}")
    monkeypatch.delenv("LOCAL_SERVERS_ACCOUNT", raising=False)
    with pytest.warns(UserWarning, match="LOCAL_SERVERS_ACCOUNT=login:password"):
        servers = local_servers.ensure_running()
    assert servers.server_set["user"] is None and sorted(servers.ftp.accounts) == ["anonymous"]
    (home / "class-account").write_text(f"s051:{klass.pw('s051')}\n", encoding="utf-8")
    servers = local_servers.ensure_running()
    assert servers.login == "s051" and servers.imap.accounts == {"s051": klass.pw("s051")}
    with imaplib.IMAP4(*servers.imap.address, timeout=30) as imap:
        imap.login(servers.login, servers.imap.accounts[servers.login])


def test_local_servers_url_naming_nothing_gives_a_clear_error(tmp_path, monkeypatch):
    import local_servers
    from local_servers.classroom import remote

    monkeypatch.setenv("LOCAL_SERVERS_HOME", str(tmp_path))
    monkeypatch.setenv("LOCAL_SERVERS_URL", "http://127.0.0.1:9/")
    with pytest.raises(remote.ClassServerError, match="cannot reach the class server"):
        local_servers.ensure_running()


# -- per-account rate limits -----------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_class(tmp_path_factory):
    """A class server whose limit is reached in a few commands: a burst of 8, then one a second."""
    base = tmp_path_factory.mktemp("slowclass")
    state_dir = base / "state"
    handle = up_class(state_dir, write_roster(base / "roster.csv", 2), "--class-rate", "1", "--class-burst", "8")
    yield ClassServer(state_dir, handle)
    cli(state_dir, "down")


def until_refused(command, attempts=40):
    """Run command() until it raises; return (how many succeeded, the exception).

    The burst (8) passes (less what the client sent after logging in: nntplib asks for CAPABILITIES
    again), and the bucket refills one a second: a refusal comes after 8 commands, or a few more on a
    machine so slow that a command takes a second.
    """
    for n in range(attempts):
        try:
            command()
        except Exception as exc:  # noqa: BLE001 - each protocol's client raises its own kind
            return n, exc
    pytest.fail(f"no refusal in {attempts} commands")


def test_rate_limit_hits_the_looping_student_over_imap_not_another(slow_class):
    with imaplib.IMAP4(*slow_class.imap.address, timeout=30) as loop, \
            imaplib.IMAP4(*slow_class.imap.address, timeout=30) as other:
        loop.login("s001", slow_class.pw("s001"))
        other.login("s002", slow_class.pw("s002"))

        def noop():
            typ, data = loop.noop()
            if typ != "OK":
                raise imaplib.IMAP4.error(data)
        done, refusal = until_refused(noop)
        assert done >= 8 and b"[LIMIT]" in refusal.args[0][0]
        assert other.noop()[0] == "OK"  # the other student is not slowed
        assert loop.logout()[0] == "BYE"  # LOGOUT is never refused


def test_rate_limit_hits_the_looping_student_over_pop3_not_another(slow_class):
    loop, other = (poplib.POP3(*slow_class.pop3.address, timeout=30) for _ in range(2))
    for client, login in ((loop, "s001"), (other, "s002")):
        client.user(login)
        client.pass_(slow_class.pw(login))
    done, refusal = until_refused(loop.noop)
    assert done >= 8 and "[SYS/TEMP]" in str(refusal)
    assert other.noop().startswith(b"+OK")
    assert loop.quit().startswith(b"+OK")  # QUIT is never refused
    other.quit()


def test_rate_limit_hits_the_looping_student_over_nntp_not_another(slow_class):
    loop, other = nntp_as(slow_class, "s001"), nntp_as(slow_class, "s002")
    done, refusal = until_refused(loop.date)
    assert done >= 7 and isinstance(refusal, nntplib.NNTPTemporaryError) and str(refusal).startswith("403")
    assert other.date()
    loop.quit()
    other.quit()


def test_rate_limit_hits_the_looping_student_over_ftp_not_another(slow_class):
    loop, other = ftplib.FTP(timeout=30), ftplib.FTP(timeout=30)
    for client, login in ((loop, "s001"), (other, "s002")):
        client.connect(*slow_class.ftp.address)
        client.login(login, slow_class.pw(login))
    done, refusal = until_refused(lambda: loop.voidcmd("NOOP"))
    assert done >= 8 and isinstance(refusal, ftplib.error_temp) and str(refusal).startswith("421")
    assert other.voidcmd("NOOP").startswith("200")
    other.quit()
    loop.close()


def test_rate_limit_hits_the_looping_student_over_smtp_not_another(slow_class):
    with smtp_as(slow_class, "s001") as loop, smtp_as(slow_class, "s002") as other:
        def send():
            loop.sendmail(f"s001@{DOMAIN}", [f"s002@{DOMAIN}"], message(f"s001@{DOMAIN}", f"s002@{DOMAIN}", "loop"))
        done, refusal = until_refused(send)
        assert done >= 8 and isinstance(refusal, smtplib.SMTPSenderRefused) and refusal.smtp_code == 451
        assert other.sendmail(f"s002@{DOMAIN}", [f"s001@{DOMAIN}"],
                              message(f"s002@{DOMAIN}", f"s001@{DOMAIN}", "fine")) == {}
        time.sleep(1.5)  # the bucket refills: the looping student may send again
        send()


def test_ftp_transfers_of_a_student_over_their_budget_are_slowed_not_anothers(tmp_path):
    """1 MB/s, 2 MB at once: 6 MB up and down takes one student seconds, 1 MB takes another no wait."""
    state_dir = tmp_path / "state"
    handle = up_class(state_dir, write_roster(tmp_path / "roster.csv", 2), "--class-transfer-rate", "1")
    try:
        secrets = passwords.load(state_dir)
        data = os.urandom(3_000_000)
        clients = {}
        for login in ("s001", "s002"):
            clients[login] = ftplib.FTP(timeout=60)
            clients[login].connect(*handle.ftp.address)
            clients[login].login(login, secrets[login])
        started = time.perf_counter()
        clients["s001"].storbinary("STOR big.bin", io.BytesIO(data))
        got = io.BytesIO()
        clients["s001"].retrbinary("RETR big.bin", got.write)
        slowed = time.perf_counter() - started
        assert got.getvalue() == data  # slowed, never damaged
        started = time.perf_counter()
        clients["s002"].storbinary("STOR small.bin", io.BytesIO(data[:1_000_000]))
        other = time.perf_counter() - started
        assert slowed >= 3.5, slowed  # 6 MB with 2 MB of burst at 1 MB/s: about 4 s
        assert other < slowed / 2, (other, slowed)
        for client in clients.values():
            client.quit()
        with ftplib.FTP_TLS(context=handle.ssl_context(), timeout=60) as ftps:  # and over TLS, paused too
            ftps.connect(*handle.ftp.address)
            ftps.login("s001", secrets["s001"])
            ftps.prot_p()
            started = time.perf_counter()
            ftps.storbinary("STOR big2.bin", io.BytesIO(data))
            got = io.BytesIO()
            ftps.retrbinary("RETR big2.bin", got.write)
            assert got.getvalue() == data and time.perf_counter() - started >= 3.5
    finally:
        cli(state_dir, "down")


# -- TLS for every login beyond loopback ---------------------------------------------------------


@pytest.fixture(scope="module")
def public_class(tmp_path_factory):
    if sys.platform != "linux":
        pytest.skip("127.0.0.2 is a loopback address on Linux only")
    base = tmp_path_factory.mktemp("publicclass")
    state_dir = base / "state"
    handle = up_class(state_dir, write_roster(base / "roster.csv", 2), "--host", "127.0.0.2")
    yield ClassServer(state_dir, handle)
    cli(state_dir, "down")


def test_beyond_loopback_every_protocol_takes_logins_only_over_tls(public_class):
    k, user, pw = public_class, "s001", public_class.pw("s001")
    context = k.ssl_context()
    assert k.host == "127.0.0.2"

    ftp = ftplib.FTP(timeout=30)
    ftp.connect(*k.ftp.address)
    with pytest.raises(ftplib.error_perm, match="SSL/TLS required"):
        ftp.login(user, pw)
    ftp.close()
    with ftplib.FTP_TLS(context=context, timeout=30) as ftps:
        ftps.connect(*k.ftp.address)
        ftps.login(user, pw)

    pop = poplib.POP3(*k.pop3.address, timeout=30)
    with pytest.raises(poplib.error_proto):
        pop.user(user)
    pop.stls(context=context)
    pop.user(user)
    pop.pass_(pw)
    pop.quit()

    imap = imaplib.IMAP4(*k.imap.address, timeout=30)
    with pytest.raises(imaplib.IMAP4.error):
        imap.login(user, pw)
    imap.starttls(ssl_context=context)
    imap.login(user, pw)
    imap.logout()

    news = nntplib.NNTP(*k.nntp.address, timeout=30)
    with pytest.raises(nntplib.NNTPError):
        news.login(user, pw)
    news.quit()
    news = nntplib.NNTP(*k.nntp.address, timeout=30)
    news.starttls(context)
    news.login(user, pw)
    news.quit()

    with smtplib.SMTP(*k.smtp.address, timeout=30) as smtp:
        with pytest.raises(smtplib.SMTPException):
            smtp.login(user, pw)
    with smtplib.SMTP(*k.smtp.address, timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.login(user, pw)


def test_beyond_loopback_ftp_refuses_a_cleartext_password_on_the_usual_servers_too(servers_factory):
    """The rule was missing from FTP alone (it took USER/PASS in clear text on a public address)."""
    if sys.platform != "linux":
        pytest.skip("127.0.0.2 is a loopback address on Linux only")
    handle = servers_factory(names=["ftp"], host="127.0.0.2")
    assert handle.server_set == {"kind": "private"} and handle.login == "alice"
    ftp = ftplib.FTP(timeout=30)
    ftp.connect(*handle.ftp.address)
    with pytest.raises(ftplib.error_perm, match="SSL/TLS required"):
        ftp.login("alice", "alice-pw")
    ftp.close()
    with ftplib.FTP_TLS(context=handle.ssl_context(), timeout=30) as ftps:
        ftps.connect(*handle.ftp.address)
        ftps.login("alice", "alice-pw")


def test_beyond_loopback_a_notebook_logs_in_over_tls_verified_by_the_fetched_ca(public_class, tmp_path, monkeypatch):
    import local_servers

    monkeypatch.setenv("LOCAL_SERVERS_HOME", str(tmp_path / "student-state"))
    monkeypatch.setenv("LOCAL_SERVERS_URL", f"http://127.0.0.2:{public_class.http.port}/")
    monkeypatch.setenv("LOCAL_SERVERS_ACCOUNT", f"s002:{public_class.pw('s002')}")
    servers = local_servers.ensure_running()
    assert servers.ftp.host == "127.0.0.2"
    with ftplib.FTP_TLS(context=servers.ssl_context(), timeout=30) as ftp:
        ftp.connect(*servers.ftp.address)
        ftp.login(servers.login, servers.ftp.accounts[servers.login])
        ftp.prot_p()
        assert ftp.nlst() == ["welcome.txt"]
    with imaplib.IMAP4_SSL(servers.imap.host, servers.imap.tls_ports["imaps"], ssl_context=servers.ssl_context(),
                           timeout=30) as imap:
        imap.login(servers.login, servers.imap.accounts[servers.login])
