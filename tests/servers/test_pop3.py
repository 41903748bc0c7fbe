"""POP3: the maildrop as poplib and curl see it, the session states, locking, and bad input."""

from __future__ import annotations

import hashlib
import poplib
import re
import smtplib
import socket
import sys
import time

import pytest

from mailtest import MAIL_SERVICES, Raw, curl, inbox_files, parse, wait_for
from local_servers.mail import mailstore


@pytest.fixture(scope="module")
def mail(tmp_path_factory):
    """Read-only SMTP and POP3 for this module (tests that change mail use `fresh`)."""
    from local_servers.pytest_plugin import ServersFactory
    factory = ServersFactory(tmp_path_factory)
    yield factory(names=MAIL_SERVICES)
    factory.stop_all()


@pytest.fixture
def fresh(servers_factory):
    return servers_factory(names=MAIL_SERVICES)


def login(handle, user="alice", password=None) -> poplib.POP3:
    client = poplib.POP3(handle.pop3.host, handle.pop3.port, timeout=10)
    client.user(user)
    client.pass_(password or f"{user}-pw")
    return client


def pop_raw(handle) -> Raw:
    raw = Raw(handle.pop3.address)
    assert raw.line().startswith(b"+OK")
    return raw


def test_stat_list_uidl_agree_with_the_store(mail):
    client = login(mail)
    count, octets = client.stat()
    files = inbox_files(mail, "alice")
    assert count == len(files) > 30
    sizes = [int(line.split()[1]) for line in client.list()[1]]
    assert sum(sizes) == octets
    # sizes count CRLF line endings, as the message is sent
    assert sizes == [len(p.read_bytes()) + p.read_bytes().count(b"\n") for p in files]
    uids = [line.split()[1].decode() for line in client.uidl()[1]]
    assert uids == [mailstore.split_name(p.name)[0] for p in files]  # the Maildir keys, in arrival order
    assert client.uidl(3).split()[2].decode() == uids[2]
    for n in (1, count):
        response, lines, size = client.retr(n)
        assert size == sizes[n - 1] and response.startswith(b"+OK")
    client.quit()


def test_seeded_mail_parses_with_the_email_package(mail):
    client = login(mail)
    count, _ = client.stat()
    messages = [parse(b"\n".join(client.retr(n)[1])) for n in range(1, count + 1)]
    client.quit()
    subjects = [m["Subject"] for m in messages]
    assert "Café ☕ am Freitag — Grüße aus Köln" in subjects
    photo = next(m for m in messages if m["Subject"] == "Photo from the trip")
    png = next(photo.iter_attachments())
    assert png.get_filename() == "trip.png" and png.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    news = next(m for m in messages if m["Subject"] == "This week's newsletter")
    assert "<h1>" in news.get_body(("html",)).get_content()
    assert "Sockets" in news.get_body(("plain",)).get_content()
    replies = [m for m in messages if m["Subject"] == "Re: Project plan"]
    assert replies and all(m["In-Reply-To"] and m["References"] for m in replies)


def test_top_gives_headers_and_n_body_lines(mail):
    client = login(mail)
    full = client.retr(1)[1]
    top = client.top(1, 2)[1]
    blank = full.index(b"")
    assert top == full[:blank + 3]
    assert client.top(1, 0)[1] == full[:blank + 1]
    client.quit()


@pytest.mark.parametrize("implicit", [False, True], ids=["stls", "pop3s"])
def test_tls_variants(mail, implicit):
    pop3 = mail.pop3
    if implicit:
        client = poplib.POP3_SSL(pop3.host, pop3.tls_ports["pop3s"], context=pop3.ssl_context(), timeout=10)
        assert "STLS" not in client.capa()
    else:
        client = poplib.POP3(pop3.host, pop3.port, timeout=10)
        assert "STLS" in client.capa()
        client.stls(context=pop3.ssl_context())
        assert "STLS" not in client.capa()
        with pytest.raises(poplib.error_proto):
            client._shortcmd("STLS")  # only once
    client.user("alice")
    client.pass_("alice-pw")
    assert client.stat()[0] == len(inbox_files(mail, "alice"))
    client.quit()


def test_apop(mail):
    client = poplib.POP3(mail.pop3.host, mail.pop3.port, timeout=10)
    assert re.search(rb"<[^>]+@[^>]+>", client.getwelcome())
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.apop("bob", "alice-pw")
    client.apop("bob", "bob-pw")
    assert client.stat()[0] == len(inbox_files(mail, "bob"))
    client.quit()


def test_curl_pop3_with_stls_and_pop3s(mail):
    pop3 = mail.pop3
    first = inbox_files(mail, "bob")[0].read_bytes()
    for url in (f"pop3://{pop3.host}:{pop3.port}", f"pop3s://{pop3.host}:{pop3.tls_ports['pop3s']}"):
        common = ["--ssl-reqd", "--cacert", pop3.ca_file, "--user", "bob:bob-pw"]
        listing = curl(*common, url + "/")
        assert listing.returncode == 0, listing.stderr.decode()
        assert listing.stdout.splitlines()[0].startswith(b"1 ")
        message = curl(*common, url + "/1")
        assert message.returncode == 0, message.stderr.decode()
        assert message.stdout.replace(b"\r\n", b"\n") == first
        stat = curl(*common, "-I", "-X", "STAT", url + "/")  # single-line reply: -I
        assert stat.returncode == 0, stat.stderr.decode()


def test_bad_input_gets_err_and_the_server_keeps_serving(mail):
    with pop_raw(mail) as raw:
        assert raw.command(b"STAT").startswith(b"-ERR")  # before login
        assert raw.command(b"RETR 1").startswith(b"-ERR")
        assert raw.command(b"PASS alice-pw").startswith(b"-ERR")  # before USER
        assert raw.command(b"FROBNICATE").startswith(b"-ERR")
        assert raw.command(b"\xff\xfe\x00garbage\x80").startswith(b"-ERR")
        assert raw.command(b"USER " + b"a" * 300).startswith(b"-ERR")  # beyond 255 octets
        assert raw.command(b"NOOP " + b"b" * 5000).startswith(b"-ERR")  # far beyond
        assert raw.command(b"").startswith(b"-ERR")
        raw.command(b"USER alice")
        assert raw.command(b"PASS wrong").startswith(b"-ERR [AUTH]")
        raw.command(b"USER nosuchuser")
        assert raw.command(b"PASS x").startswith(b"-ERR [AUTH]")
        raw.command(b"USER alice")
        assert raw.command(b"PASS alice-pw").startswith(b"+OK")
        assert raw.command(b"USER bob").startswith(b"-ERR")  # wrong state now
        assert raw.command(b"STLS").startswith(b"-ERR")  # only before login
        for bad in (b"RETR", b"RETR 0", b"RETR 9999", b"RETR x", b"LIST -1", b"TOP 1", b"TOP 1 x", b"DELE 9999"):
            assert raw.command(bad).startswith(b"-ERR"), bad
        assert raw.command(b"STAT").startswith(b"+OK")
        assert raw.command(b"QUIT").startswith(b"+OK")
    client = login(mail)  # a new session still works
    assert client.noop().startswith(b"+OK")
    client.quit()


def test_pipelined_commands_are_answered_in_order(mail):
    with pop_raw(mail) as raw:
        raw.send(b"USER carol\r\nPASS carol-pw\r\nSTAT\r\nNOOP\r\nQUIT\r\n")
        replies = [raw.line() for _ in range(5)]
    assert [r[:3] for r in replies] == [b"+OK"] * 5
    assert replies[2].split()[1] == str(len(inbox_files(mail, "carol"))).encode()


def test_a_client_that_does_not_read_slows_the_server_down_without_losing_replies(mail):
    with pop_raw(mail) as raw:
        raw.command(b"USER alice")
        raw.command(b"PASS alice-pw")
        count = 400
        raw.send(b"RETR 2\r\n" * count)  # many replies before we read any
        time.sleep(0.3)
        ends = 0
        while ends < count:
            if raw.line() == b".\r\n":
                ends += 1
        assert raw.command(b"NOOP").startswith(b"+OK")


def test_second_session_gets_in_use_until_the_first_ends(mail):
    first = login(mail, "carol")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        login(mail, "carol")
    first.close()  # dropped, no QUIT: the lock goes with the connection
    assert wait_for(lambda: _can_login(mail, "carol"))
    login(mail, "bob").quit()  # other users were never locked


@pytest.mark.parametrize("implicit", [False, True], ids=["pop3", "pop3s"])
def test_the_maildrop_is_free_as_soon_as_quit_is_answered(mail, implicit):
    """QUIT ends the session (RFC 1939 section 6): the next login gets the maildrop at once,
    without a retry, although the first client has not closed its connection yet."""
    pop3 = mail.pop3

    def connect() -> poplib.POP3:
        if implicit:
            return poplib.POP3_SSL(pop3.host, pop3.tls_ports["pop3s"], context=pop3.ssl_context(), timeout=10)
        return poplib.POP3(pop3.host, pop3.port, timeout=10)

    for _ in range(5):
        first = connect()
        first.user("carol")
        first.pass_("carol-pw")
        assert first._shortcmd("QUIT").startswith(b"+OK")  # QUIT answered; our side still open
        second = connect()
        second.user("carol")
        assert second.pass_("carol-pw").startswith(b"+OK")  # not -ERR [IN-USE]
        second.quit()
        first.close()


def _can_login(handle, user) -> bool:
    try:
        login(handle, user).quit()
        return True
    except poplib.error_proto:
        return False


def test_alice_cannot_read_bobs_mail(mail):
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        login(mail, "bob", "alice-pw")
    client = login(mail, "alice")
    alice_uids = {line.split()[1].decode() for line in client.uidl()[1]}
    client.quit()
    bob_keys = {mailstore.split_name(p.name)[0] for p in inbox_files(mail, "bob")}
    assert bob_keys and not alice_uids & bob_keys


def test_deletions_happen_only_at_quit(fresh):
    count = len(inbox_files(fresh, "alice"))
    dropped = login(fresh)
    dropped.dele(1)
    dropped.dele(2)
    dropped.close()  # no QUIT: nothing is deleted
    assert wait_for(lambda: _can_login(fresh, "alice"))
    assert len(inbox_files(fresh, "alice")) == count

    client = login(fresh)
    client.dele(1)
    assert client.stat()[0] == count - 1
    with pytest.raises(poplib.error_proto):
        client.retr(1)  # marked as deleted
    client.rset()
    assert client.stat()[0] == count
    first_uid = client.uidl(1).split()[2].decode()
    client.dele(1)
    client.dele(3)
    assert len(inbox_files(fresh, "alice")) == count  # still there before QUIT
    assert f"({count - 2} messages left)".encode() in client.quit()
    keys = [mailstore.split_name(p.name)[0] for p in inbox_files(fresh, "alice")]
    assert len(keys) == count - 2 and first_uid not in keys


def test_dot_stuffing_and_crlf_survive_the_round_trip(fresh):
    body = ".starts with a dot\n..two dots\n.\nend\n"
    with smtplib.SMTP(fresh.smtp.host, fresh.smtp.port, timeout=10) as smtp:
        smtp.sendmail("bob@example.test", ["carol@example.test"],
                      ("Subject: dots\r\n\r\n" + body.replace("\n", "\r\n")).encode())
    client = login(fresh, "carol")
    count, _ = client.stat()
    response, lines, octets = client.retr(count)
    assert b"\n".join(lines).split(b"\n\n", 1)[1].decode() + "\n" == body
    assert octets == int(client.list(count).split()[2])
    client.quit()
    # on the wire every line of the message that starts with "." gets one more
    with pop_raw(fresh) as raw:
        raw.command(b"USER carol")
        raw.command(b"PASS carol-pw")
        raw.send(f"RETR {count}\r\n".encode())
        wire = b""
        while not wire.endswith(b"\r\n.\r\n"):
            wire += raw.line()
    assert b"\r\n..starts with a dot\r\n...two dots\r\n..\r\nend\r\n.\r\n" in wire


def test_idle_sessions_are_logged_out(servers_factory):
    handle = servers_factory(names=["pop3"], options={"pop3_idle_timeout": "1"})
    with pop_raw(handle) as raw:
        raw.sock.settimeout(5)
        started = time.monotonic()
        assert raw.line().startswith(b"-ERR")
        assert raw.file.readline() == b""  # closed
        assert time.monotonic() - started < 4


def test_stls_discards_plaintext_sent_after_it(mail):
    """RFC 2595: commands injected after STLS, before the handshake, must not run."""
    import ssl
    sock = socket.create_connection(mail.pop3.address, timeout=10)
    file = sock.makefile("rb")
    file.readline()
    sock.sendall(b"STLS\r\nUSER alice\r\n")
    assert file.readline().startswith(b"+OK")
    tls = mail.pop3.ssl_context().wrap_socket(sock, server_hostname=mail.pop3.host)
    tls_file = tls.makefile("rb")
    tls.sendall(b"PASS alice-pw\r\n")
    assert tls_file.readline().startswith(b"-ERR")  # the injected USER was discarded
    tls.close()


def test_apop_digest_is_md5_of_banner_and_password(mail):
    with Raw(mail.pop3.address) as raw:
        banner = re.search(rb"<[^>]+>", raw.line()).group().decode()
        digest = hashlib.md5((banner + "carol-pw").encode()).hexdigest()
        assert raw.command(f"APOP carol {digest}".encode()).startswith(b"+OK")
        assert raw.command(b"QUIT").startswith(b"+OK")


def test_public_server_takes_passwords_only_over_tls(servers_factory):
    if sys.platform != "linux":
        pytest.skip("127.0.0.2 is a loopback address on Linux only")
    handle = servers_factory(names=["pop3"], host="127.0.0.2")  # not 127.0.0.1: counts as public
    pop3 = handle.pop3
    client = poplib.POP3(pop3.host, pop3.port, timeout=10)
    with pytest.raises(poplib.error_proto, match=r"STLS"):
        client.user("alice")
    client.stls(context=pop3.ssl_context())
    client.user("alice")
    client.pass_("alice-pw")
    assert client.stat()[0] > 0
    client.quit()


def test_arguments_are_checked_as_rfc_1939_defines_them(mail):
    """One message number (and TOP's line count), digits only, nothing more: else -ERR."""
    with pop_raw(mail) as raw:
        raw.command(b"USER alice")
        raw.command(b"PASS alice-pw")
        for bad in (b"TOP 1 99999999999999999999", b"LIST 1 2 3", b"UIDL 1 2", b"RETR 1 2", b"DELE 1 x",
                    b"TOP 1 2 3", b"LIST +1", b"STAT 1", b"NOOP x"):
            assert raw.command(bad).startswith(b"-ERR"), bad
        assert raw.command(b"TOP 1 999999").startswith(b"+OK")  # a big count is still a count
        while raw.line() != b".\r\n":
            pass
        assert raw.command(b"LIST 1").startswith(b"+OK 1 ")
        assert raw.command(b"QUIT").startswith(b"+OK")


@pytest.fixture
def pop3_here(tmp_path, monkeypatch):
    """A POP3 service in this process (its loop in a thread), whose hand-offs to a worker thread
    are counted in `service.handed_off`."""
    import asyncio
    import threading

    from local_servers.mail.pop3 import POP3Service, POP3Session
    from local_servers.service import Context
    from local_servers.tls import ensure_certificates

    ctx = Context(host="127.0.0.1", ports={"pop3": 0, "pop3s": 0}, data_dir=tmp_path / "data",
                  tls=ensure_certificates(tmp_path / "tls"))
    service = POP3Service(ctx)
    service.handed_off = 0
    in_thread = POP3Session.in_thread

    def counted(session, function, *args):
        session.service.handed_off += 1
        return in_thread(session, function, *args)

    monkeypatch.setattr(POP3Session, "in_thread", counted)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(service.start(), loop).result(10)
    yield service
    asyncio.run_coroutine_threadsafe(service.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_a_small_maildrop_opens_at_once_a_big_one_in_a_thread(pop3_here):
    """The lock is held from PASS to QUIT, so opening a small maildrop must not wait for a worker
    thread (that kept it three times as long with 100 sessions queuing: bench/README.md); numbering
    a big one still goes to a thread, so that the other sessions go on meanwhile (decision 0005)."""
    from local_servers.mail.pop3 import BIG_MESSAGE, SMALL_MAILDROP

    service, mail = pop3_here, pop3_here.data_dir
    mail.mkdir(parents=True)
    small = b"Subject: small\n\nhello\n"
    for n in range(3):
        mailstore.deliver(mail, "alice", small)
    for n in range(SMALL_MAILDROP + 1):
        mailstore.deliver(mail, "bob", small)
    mailstore.deliver(mail, "carol", small)
    mailstore.deliver(mail, "carol", b"Subject: big\n\n" + (b"x" * 76 + b"\n") * (BIG_MESSAGE // 77 + 1))

    def logs_in(user: str, messages: int) -> int:
        """Log in and QUIT; how many times the session handed work to a thread."""
        before = service.handed_off
        client = poplib.POP3("127.0.0.1", service.ports["pop3"], timeout=30)
        client.user(user)
        client.pass_(f"{user}-pw")
        assert client.stat()[0] == messages
        client.quit()
        return service.handed_off - before

    assert logs_in("alice", 3) == 0
    assert logs_in("bob", SMALL_MAILDROP + 1) == 1  # too many files to list on the loop
    assert logs_in("carol", 2) == 1  # a big message not seen before: its size means reading it
    assert logs_in("carol", 2) == 0  # now its size is known


def test_retr_reads_the_file_listed_at_login_without_listing_the_maildrop_again(pop3_here, monkeypatch):
    """RETR runs while the session holds the maildrop lock: it reads the message's file, found when the
    maildrop was numbered, instead of having mailbox.Maildir list the whole maildrop again (its first
    look-up does); a message whose file an IMAP client renamed since is still found by its key."""
    import mailbox

    service, mail = pop3_here, pop3_here.data_dir
    mail.mkdir(parents=True)
    for n in range(3):
        mailstore.deliver(mail, "alice", f"Subject: {n}\n\nbody {n}\n".encode())
    listings = []
    refresh = mailbox.Maildir._refresh
    monkeypatch.setattr(mailbox.Maildir, "_refresh", lambda box: (listings.append(box), refresh(box))[1])

    def login() -> poplib.POP3:
        client = poplib.POP3("127.0.0.1", service.ports["pop3"], timeout=30)
        client.user("alice")
        client.pass_("alice-pw")
        return client

    login().quit()  # the first login learns the sizes; later ones read no message to number the maildrop
    listings.clear()
    client = login()
    assert b"body 0" in b"\n".join(client.retr(1)[1])
    assert listings == []
    # An IMAP client sets \Seen on message 2: its file moves from new/ to cur/ under a new name.
    entry = mailstore.messages(mailstore.user_dir(mail, "alice"))[1]
    entry.path.rename(entry.path.parent.parent / "cur" / f"{entry.key}{mailstore.COLON}2,S")
    assert b"body 1" in b"\n".join(client.retr(2)[1])
    client.quit()
