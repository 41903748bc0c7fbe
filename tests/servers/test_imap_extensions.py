"""IMAP extensions, driven with imaplib where it has a method for them (sort, thread, enable)."""

from __future__ import annotations

import imaplib
import re

import pytest
from mailtest import Raw

from local_servers import control
from local_servers.mail.imap import mutf7, store, thread

from test_imap_compliance import box, login, ok, put, raw_session, server  # noqa: F401 (fixtures)


def test_capabilities_name_the_extensions(server):
    client = imaplib.IMAP4(server.imap.host, server.imap.port, timeout=10)
    for cap in ("ID", "SORT", "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "APPENDLIMIT=52428800"):
        assert cap in client.capabilities
    client.logout()


def test_id_before_login_and_enable_after(server, monkeypatch):
    # imaplib registers a command xatom sends for the state it is first sent in: ID may be sent in any state
    monkeypatch.setitem(imaplib.Commands, "ID", ("NONAUTH", "AUTH", "SELECTED"))
    client = imaplib.IMAP4(server.imap.host, server.imap.port, timeout=10)
    assert client.xatom("ID", '("name" "pytest" "version" NIL)')[0] == "OK"
    assert b'"name" "course-imap"' in client.untagged_responses["ID"][0]
    assert client.xatom("ID", "NIL")[0] == "OK"
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        client.xatom("ID", '("unclosed"')
    client.login("alice", "alice-pw")
    assert client.enable("UTF8=ACCEPT")[0] == "OK"
    assert client.untagged_responses["ENABLED"] == [b"UTF8=ACCEPT"]
    client.logout()


def test_enable_reports_only_what_it_switched_on(server):
    with Raw(server.imap.address) as conn:
        conn.line()
        assert conn.command(b"0 ENABLE UTF8=ACCEPT").startswith(b"0 BAD")  # not before login
    with raw_session(server) as conn:
        assert conn.run(b"1", b"ENABLE X-UNKNOWN UTF8=ACCEPT")[:-1] == [b"* ENABLED UTF8=ACCEPT"]
        assert conn.run(b"2", b"ENABLE UTF8=ACCEPT")[:-1] == [b"* ENABLED"]  # already on
        assert conn.run(b"3", b"ENABLE")[-1].startswith(b"3 BAD")


def _messages(client, box):
    # seq: subject, from, date, size padding
    put(client, box, "Subject: Re: beta\nFrom: Zed <a@x.org>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\nMessage-ID: <2@x>\n"
        "References: <1@x>")
    put(client, box, "Subject: alpha\nFrom: b@x.org\nDate: Mon, 2 Mar 2026 09:00:00 +0000\nMessage-ID: <3@x>\nX: " + "y" * 200)
    put(client, box, "Subject: [list] beta\nFrom: Anna <c@x.org>\nDate: Mon, 2 Mar 2026 08:00:00 +0000\nMessage-ID: <1@x>")
    put(client, box, "Subject: Fwd: Alpha\nFrom: d@x.org\nDate: Mon, 2 Mar 2026 11:00:00 +0100\nMessage-ID: <4@x>\n"
        "In-Reply-To: <3@x>")


def test_imaplib_sort(server, box):
    client = login(server)
    _messages(client, box)
    client.select(box)
    assert ok(client.sort("(SUBJECT)", "UTF-8", "ALL")) == [b"2 4 1 3"]  # alpha, Alpha; beta, beta by number
    assert ok(client.sort("(DATE)", "US-ASCII", "ALL")) == [b"3 2 1 4"]  # 11:00 +0100 is 10:00 UTC, after 1
    assert ok(client.sort("(REVERSE DATE)", "UTF-8", "ALL")) == [b"1 4 2 3"]  # ties stay by number
    assert ok(client.sort("(FROM)", "UTF-8", "ALL")) == [b"1 2 3 4"]  # by mailbox: a, b, c, d
    assert ok(client.sort("(DISPLAYFROM)", "UTF-8", "ALL")) == [b"3 2 4 1"]  # Anna, b@x.org, d@x.org, Zed
    assert ok(client.sort("(REVERSE SIZE)", "UTF-8", "ALL"))[0].split()[0] == b"2"
    assert ok(client.sort("(SUBJECT)", "UTF-8", "NOT", "FROM", "Zed")) == [b"2 4 3"]
    uids = ok(client.uid("SORT", "(DATE)", "UTF-8", "ALL"))[0].split()
    assert len(uids) == 4 and all(int(u) >= 1 for u in uids)
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        client.sort("(NOSUCHKEY)", "UTF-8", "ALL")
    assert client.sort("(DATE)", "KOI8-R", "ALL")[0] == "NO"
    client.logout()


def test_imaplib_thread(server, box):
    client = login(server)
    _messages(client, box)
    client.select(box)
    # REFERENCES: 1 answers 3, 4 answers 2 (In-Reply-To); threads in order of their first date
    assert ok(client.thread("REFERENCES", "UTF-8", "ALL")) == [b"(3 1)(2 4)"]
    # ORDEREDSUBJECT: by base subject, each group under its earliest message
    assert ok(client.thread("ORDEREDSUBJECT", "UTF-8", "ALL")) == [b"(3 1)(2 4)"]
    assert ok(client.thread("REFERENCES", "UTF-8", "FROM", "x.org", "NOT", "FROM", "Anna")) == [b"(2 4)(1)"]
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        client.thread("NOSUCH", "UTF-8", "ALL")
    client.logout()


def test_thread_references_survives_loops_and_long_chains(server, box):
    client = login(server)
    put(client, box, "Subject: one\nMessage-ID: <a@b>")
    put(client, box, "Subject: two\nMessage-ID: <b@b>\nReferences: <a@b> <c@b>")
    put(client, box, "Subject: three\nMessage-ID: <c@b>\nReferences: <b@b>")  # b and c cite each other
    client.select(box)
    # c's own References make it b's parent; the link from b's References (a -> c) is dropped, no loop forms
    assert ok(client.thread("REFERENCES", "UTF-8", "ALL")) == [b"(1)(3 2)"]
    client.logout()
    chain = [thread.Node(n, date=float(n)) for n in range(1, 50_001)]
    for parent, child in zip(chain, chain[1:]):
        thread._link(child, parent)
    wide = thread.Node(60_000)
    for n in range(3):
        thread._link(thread.Node(60_001 + n), wide)
    rendered = thread.render([chain[0], wide])  # iterative: no RecursionError
    assert rendered.startswith(b"(1 2 3 ") and rendered.endswith(b" 50000)(60000 (60001)(60002)(60003))")


def test_esearch_esort_searchres_and_within(server, box):
    client = login(server)
    for n in range(6):
        put(client, box, f"Subject: m{n}\nDate: Mon, 2 Mar 2026 1{5 - n}:00:00 +0000")
    client.logout()
    with raw_session(server, box) as conn:
        conn.run(b"0", b"STORE 2,4 +FLAGS (\\Seen)")
        assert conn.run(b"1", b"SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")[0] == (
            b'* ESEARCH (TAG "1") MIN 1 MAX 6 ALL 1,3,5:6 COUNT 4')
        assert conn.run(b"2", b"SEARCH RETURN () SEEN")[0] == b'* ESEARCH (TAG "2") ALL 2,4'
        assert conn.run(b"3", b"SEARCH RETURN (COUNT) 1000")[0] == b'* ESEARCH (TAG "3") COUNT 0'
        assert conn.run(b"4", b"UID SEARCH RETURN (MIN) SEEN")[0] == b'* ESEARCH (TAG "4") UID MIN 2'
        # ESORT: MIN and MAX are the first and last in sort order (dates run backwards here)
        assert conn.run(b"5", b"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL")[0] == (
            b'* ESEARCH (TAG "5") MIN 6 MAX 1 COUNT 6')
        # SEARCHRES: SAVE alone answers nothing; "$" is the saved set, in FETCH and in SEARCH
        assert conn.run(b"6", b"SEARCH RETURN (SAVE) SEEN")[:-1] == []
        assert conn.run(b"7", b"FETCH $ (UID)")[:-1] == [b"* 2 FETCH (UID 2)", b"* 4 FETCH (UID 4)"]
        assert conn.run(b"8", b"SEARCH NOT $")[0] == b"* SEARCH 1 3 5 6"
        assert conn.run(b"9", b"SEARCH RETURN (SAVE MIN) ALL")[:-1] == [b'* ESEARCH (TAG "9") MIN 1']  # saves 1
        assert conn.run(b"10", b"UID SEARCH $")[0] == b"* SEARCH 1"
        assert conn.run(b"11", b"SEARCH RETURN (BOGUS) ALL")[-1].startswith(b"11 BAD")
        # WITHIN: everything was appended just now
        assert conn.run(b"12", b"SEARCH YOUNGER 3600")[0] == b"* SEARCH 1 2 3 4 5 6"
        assert conn.run(b"13", b"SEARCH OLDER 3600")[0] == b"* SEARCH"
        assert conn.run(b"14", b"UNSELECT")[-1].startswith(b"14 OK")
        conn.run(b"15", b"SELECT " + box.encode())
        assert conn.run(b"16", b"SEARCH $")[0] == b"* SEARCH"  # the saved result ends with the selection


def test_binary_fetch_decodes_and_literal8_append_keeps_nul(server, box):
    message = (b"From: a@b.c\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
               b"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
               b"caf=C3=A9 soft=\r\nbreak   \r\nend\r\n"
               b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               b"AAEC/w==\r\n"
               b"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nzz\r\n--XX--\r\n")
    binary = b"From: a@b.c\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\nraw\n"
    with raw_session(server) as conn:
        conn.send(b"1 APPEND %s {%d+}\r\n%s ~{%d+}\r\n%s\r\n" % (box.encode(), len(message), message,
                                                                len(binary), binary))  # MULTIAPPEND
        reply = conn.tagged(b"1")[-1]
        assert reply.startswith(b"1 OK [APPENDUID ") and reply.split(b"]")[0].endswith(b" 1:2")  # both, one UID set
        conn.run(b"2", b"SELECT " + box.encode())
        conn.send(b"3 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2])\r\n")
        assert conn.line() == b"* 1 FETCH (BINARY[1] {20}\r\n"  # the CRLF before --XX belongs to the boundary
        assert conn.file.read(20) == "café soft".encode() + b"break\r\nend"
        assert conn.line() == b" BINARY.SIZE[2] 4 BINARY[2] ~{4}\r\n"  # a NUL: literal8
        assert conn.file.read(4) == b"\x00\x01\x02\xff"
        assert conn.tagged(b"3")[-1].startswith(b"3 OK")
        assert conn.run(b"4", b"FETCH 1 BINARY.PEEK[3]")[-1].startswith(b"4 NO [UNKNOWN-CTE]")
        assert conn.run(b"5", b"FETCH 1 BINARY.PEEK[9]")[-1].startswith(b"5 NO [NONEXISTENT]")
        # the literal8 message: BODY[] shows base64 (literals cannot hold NUL), BINARY[1] the octets
        assert b"\x00" not in b"".join(conn.run(b"6", b"FETCH 2 BODY.PEEK[]"))
        conn.send(b"7 FETCH 2 (BINARY.PEEK[1]<1.3>)\r\n")
        assert conn.line() == b"* 2 FETCH (BINARY[1]<1> {3}\r\n" and conn.file.read(3) == b"\x01\r\n"
        assert conn.tagged(b"7")[-1].startswith(b"7 OK")
        assert conn.run(b"8", b"FETCH 2 (BINARY.SIZE[1] FLAGS)")[0] == b"* 2 FETCH (BINARY.SIZE[1] 8 FLAGS (\\Recent))"
        conn.run(b"9", b"FETCH 2 BINARY[1]")  # without PEEK: \Seen, as BODY[] does
        assert b"\\Seen" in conn.run(b"10", b"FETCH 2 FLAGS")[0]


def _modseqs(lines: list[bytes]) -> dict[int, int]:
    found = {}
    for line in lines:
        match = re.match(rb"\* (\d+) FETCH \(.*MODSEQ \((\d+)\)", line)
        if match:
            found[int(match.group(1))] = int(match.group(2))
    return found


def test_condstore_modseqs_grow_and_survive_a_restart(servers_factory):
    handle = servers_factory(names=["imap"])
    client = login(handle)
    ok(client.create("Cond"))
    for n in range(3):
        put(client, "Cond", f"Subject: c{n}")
    client.logout()
    with raw_session(handle) as conn:
        assert b"CONDSTORE" in conn.run(b"0", b"CAPABILITY")[0]
        lines = conn.run(b"1", b"SELECT Cond (CONDSTORE)")
        highest = int(next(re.search(rb"HIGHESTMODSEQ (\d+)", x).group(1) for x in lines if b"HIGHESTMODSEQ" in x))
        before = _modseqs(conn.run(b"2", b"FETCH 1:* (MODSEQ)"))
        assert sorted(before) == [1, 2, 3] and max(before.values()) <= highest
        after = _modseqs(conn.run(b"3", b"STORE 2 +FLAGS (\\Seen)"))
        assert after[2] > highest  # a change gets a MODSEQ above every earlier one
        assert _modseqs(conn.run(b"4", b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % highest)) == {2: after[2]}
        # UNCHANGEDSINCE: message 2 changed after `highest`, so it is left alone and reported MODIFIED
        reply = conn.run(b"5", b"STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % highest)
        assert reply[-1].startswith(b"5 OK [MODIFIED 2]") and set(_modseqs(reply)) == {1, 3}
        assert conn.run(b"6", b"SEARCH MODSEQ %d" % (after[2] + 1))[0].startswith(b"* SEARCH 1 3 (MODSEQ ")
        assert conn.run(b"7", b'SEARCH MODSEQ "/flags/\\\\seen" all %d' % after[2])[0] == (
            b"* SEARCH 1 2 3 (MODSEQ %d)" % max(_modseqs(reply).values()))
        final = _modseqs(conn.run(b"8", b"FETCH 1:* MODSEQ"))
        status = conn.run(b"9", b"STATUS Cond (HIGHESTMODSEQ)")[0]
        assert status.endswith(b"(HIGHESTMODSEQ %d)" % max(final.values()))
    # a restart keeps every MODSEQ, and new changes still go above them
    control.stop(handle.state_dir)
    handle = control.start(handle.state_dir, ephemeral=True, names=["imap"])
    try:
        with raw_session(handle) as conn:
            conn.run(b"1", b"SELECT Cond (CONDSTORE)")
            assert _modseqs(conn.run(b"2", b"FETCH 1:* MODSEQ")) == final
            again = _modseqs(conn.run(b"3", b"STORE 1 -FLAGS (\\Flagged)"))
            assert again[1] > max(final.values())
    finally:
        control.stop(handle.state_dir)


def test_condstore_is_off_until_enabled(server, box):
    client = login(server)
    put(client, box, "Subject: x")
    client.logout()
    with raw_session(server) as conn:
        lines = conn.run(b"1", b"SELECT " + box.encode())
        assert not any(b"HIGHESTMODSEQ" in line for line in lines)  # plain SELECT responses as before
        assert b"MODSEQ" not in conn.run(b"2", b"STORE 1 +FLAGS (\\Seen)")[0]
        lines = conn.run(b"3", b"FETCH 1 (MODSEQ)")  # a CONDSTORE-enabling command
        assert lines[0].startswith(b"* OK [HIGHESTMODSEQ ") and b"MODSEQ (" in lines[1]
        assert b"MODSEQ (" in conn.run(b"4", b"STORE 1 -FLAGS (\\Seen)")[0]
        assert conn.run(b"5", b"ENABLE CONDSTORE")[0] == b"* ENABLED"  # already on


def test_modseq_journal_is_written_before_the_change_and_tolerates_a_torn_line(tmp_path):
    for sub in ("cur", "new", "tmp"):
        (tmp_path / sub).mkdir()
    folder = store.Folder("INBOX", tmp_path)
    msg = folder.add(b"Subject: a\r\n\r\nx\r\n", set())
    folder.set_flags(msg, {"\\Seen"})
    journal = (tmp_path / store.MODSEQ_FILE).read_text()
    assert journal.splitlines()[-1] == f"{msg.uid} {msg.modseq}"
    with open(tmp_path / store.MODSEQ_FILE, "a") as f:
        f.write("1 99")  # a crash in the middle of a line: no newline, maybe a wrong number
    reloaded = store.Folder("INBOX", tmp_path)
    reloaded.scan()
    assert reloaded.modseq >= msg.modseq and reloaded.by_uid[msg.uid].modseq >= msg.modseq
    second = reloaded.add(b"Subject: b\r\n\r\ny\r\n", set())
    assert second.modseq > reloaded.by_uid[msg.uid].modseq
    third = store.Folder("INBOX", tmp_path)  # the line after the torn one was not glued to it
    third.scan()
    assert third.by_uid[second.uid].modseq == second.modseq


def _list_lines(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.startswith((b"* LIST", b"* STATUS"))]


def test_list_extended_status_and_special_use(servers_factory):
    handle = servers_factory(names=["imap"])
    client = login(handle)
    for name in ("Proj", "Proj.A", "Proj.B", "Proj.B.Deep", "Old"):
        ok(client.create(name))
    ok(client.subscribe("Old"))  # until a first change, every mailbox counts as subscribed
    for name in ("Proj", "Proj.A", "Proj.B"):
        ok(client.unsubscribe(name))
    ok(client.delete("Old"))  # still subscribed: \NonExistent
    client.logout()
    with raw_session(handle) as conn:
        subs = [line for line in conn.run(b"1", b'LIST (SUBSCRIBED) "" "*"') if line.startswith(b"* LIST")]
        assert b'* LIST (\\NonExistent \\Subscribed) "." "Old"' in subs
        assert b'* LIST (\\HasNoChildren \\Subscribed) "." "Proj.B.Deep"' in subs
        # RECURSIVEMATCH: Proj is not subscribed, but a descendant the pattern does not show is
        assert _list_lines(conn.run(b"2", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Proj"')) == [
            b'* LIST (\\HasChildren) "." "Proj" ("CHILDINFO" ("SUBSCRIBED"))']
        # several patterns, RETURN (CHILDREN SUBSCRIBED STATUS (...))
        assert _list_lines(conn.run(b"3", b'LIST "" ("Proj.%" "INBOX") RETURN (SUBSCRIBED STATUS (MESSAGES UIDNEXT))')) == [
            b'* LIST (\\HasNoChildren \\Subscribed) "." "INBOX"', b'* STATUS "INBOX" (MESSAGES 44 UIDNEXT 45)',
            b'* LIST (\\HasNoChildren) "." "Proj.A"', b'* STATUS "Proj.A" (MESSAGES 0 UIDNEXT 1)',
            b'* LIST (\\HasChildren) "." "Proj.B"', b'* STATUS "Proj.B" (MESSAGES 0 UIDNEXT 1)']
        # SPECIAL-USE: the seeded Sent and Archive, as selection and as return option
        assert _list_lines(conn.run(b"4", b'LIST (SPECIAL-USE) "" "*"')) == [
            b'* LIST (\\HasNoChildren \\Archive) "." "Archive"', b'* LIST (\\HasNoChildren \\Sent) "." "Sent"']
        assert b"\\Sent" in b"".join(conn.run(b"5", b'LIST "" "Sent" RETURN (SPECIAL-USE)'))
        assert b"\\Sent" not in b"".join(conn.run(b"6", b'LIST "" "Sent"'))  # plain LIST as before
        for n, bad in enumerate([b'LIST (BOGUS) "" "*"', b'LIST (RECURSIVEMATCH) "" "*"', b'LIST "" "*" RETURN (BOGUS)',
                                 b'LIST "" "*" RETURN (STATUS (NOSUCH))']):
            assert conn.run(b"b%d" % n, bad)[-1].startswith(b"b%d BAD" % n)
        assert conn.run(b"7", b'STATUS INBOX (SIZE MESSAGES)')[0].startswith(b'* STATUS "INBOX" (SIZE ')


def test_catenate_builds_a_message_from_text_and_urls(server, box):
    client = login(server)
    put(client, box, "Subject: source\nFrom: s@x.org")
    client.logout()
    url = b"/%s;UIDVALIDITY=%%d/;UID=1" % box.encode()
    with raw_session(server, box) as conn:
        validity = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(conn.run(b"0", b"STATUS %s (UIDVALIDITY)" % box.encode()))).group(1))
        header_url = url % validity + b"/;SECTION=HEADER"
        conn.send(b'1 APPEND %s CATENATE (URL "%s" TEXT {6+}\r\nadded\n URL "%s/;SECTION=TEXT")\r\n'
                  % (box.encode(), header_url, url % validity))
        assert conn.tagged(b"1")[-1].startswith(b"1 OK [APPENDUID")
        conn.send(b"2 FETCH 2 BODY.PEEK[]\r\n")
        head = conn.line()
        body = conn.file.read(int(head[head.rindex(b"{") + 1:-3]))
        assert body == b"Subject: source\r\nFrom: s@x.org\r\n\r\nadded\r\nbody\r\n"
        assert conn.tagged(b"2")[-1].startswith(b"2 OK")
        stale = b'3 APPEND %s CATENATE (URL "%s")' % (box.encode(), url % (validity + 1))
        assert conn.run(b"3", stale[2:])[-1].startswith(b"3 NO [BADURL")
        assert conn.run(b"4", b'APPEND %s CATENATE (URL "/%s/;UID=99")' % (box.encode(), box.encode()))[-1].startswith(
            b"4 NO [BADURL")
        assert conn.run(b"5", b'APPEND NoSuchBox CATENATE (URL "%s")' % (url % validity))[-1].startswith(
            b"5 NO [TRYCREATE]")
        assert conn.run(b"6", b"STATUS %s (MESSAGES)" % box.encode())[0].endswith(b"(MESSAGES 2)")  # none added


def test_context_search_partial_and_update(server, box):
    client = login(server)
    for n in range(5):
        put(client, box, f"Subject: u{n}")
    client.logout()
    with raw_session(server, box) as conn, raw_session(server, box) as other:
        assert conn.run(b"1", b"SEARCH RETURN (PARTIAL 2:3) ALL")[0] == b'* ESEARCH (TAG "1") PARTIAL (2:3 2:3)'
        assert conn.run(b"2", b"SEARCH RETURN (PARTIAL 4:9) 1:2,4:5")[0] == b'* ESEARCH (TAG "2") PARTIAL (4:9 5)'
        assert conn.run(b"3", b"SEARCH RETURN (PARTIAL 7:7) ALL")[0] == b'* ESEARCH (TAG "3") PARTIAL (7:7 NIL)'
        assert conn.run(b"u", b"SEARCH RETURN (UPDATE) SEEN")[:-1] == [b'* ESEARCH (TAG "u")']
        assert b'* ESEARCH (TAG "u") ADDTO (0 1:2,4)' in conn.run(b"4", b"STORE 1,2,4 +FLAGS.SILENT (\\Seen)")
        other.run(b"o1", b"STORE 1 -FLAGS (\\Seen)")  # another session's change is tracked too
        assert b'* ESEARCH (TAG "u") REMOVEFROM (0 1)' in conn.run(b"5", b"NOOP")
        lines = conn.run(b"6", b"STORE 4 +FLAGS (\\Deleted)") + conn.run(b"7", b"EXPUNGE")
        removed = lines.index(b'* ESEARCH (TAG "u") REMOVEFROM (0 4)')
        assert removed < lines.index(b"* 4 EXPUNGE")  # before the numbers change
        assert conn.run(b"8", b'CANCELUPDATE "u"')[-1].startswith(b"8 OK")
        assert not any(b"ESEARCH" in line for line in conn.run(b"9", b"STORE 3 +FLAGS (\\Seen)"))


def test_qresync_vanished_and_resync_on_select(server, box):
    client = login(server)
    for n in range(4):
        put(client, box, f"Subject: q{n}")
    client.logout()
    with raw_session(server) as conn:
        assert conn.run(b"1", b"SELECT %s (QRESYNC (1 1))" % box.encode())[-1].startswith(b"1 BAD")  # not enabled
        conn.run(b"2", b"UNSELECT")
        assert conn.run(b"3", b"ENABLE QRESYNC")[0] == b"* ENABLED QRESYNC"
        lines = conn.run(b"4", b"SELECT " + box.encode())
        highest = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(lines)).group(1))
        validity = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(lines)).group(1))
        conn.run(b"5", b"STORE 2 +FLAGS (\\Deleted)")
        assert conn.run(b"6", b"EXPUNGE")[:-1] == [b"* VANISHED 2"]  # UIDs, not EXPUNGE numbers
        conn.run(b"7", b"UID STORE 3 +FLAGS (\\Flagged)")
        conn.run(b"8", b"UNSELECT")
        # coming back with what it knew: message 2 vanished, message 3 changed
        lines = conn.run(b"9", b"SELECT %s (QRESYNC (%d %d 1:4))" % (box.encode(), validity, highest))
        assert b"* VANISHED (EARLIER) 2" in lines
        changed = [line for line in lines if b" FETCH " in line]
        assert len(changed) == 1 and b"UID 3 " in changed[0] and b"\\Flagged" in changed[0]
        lines = conn.run(b"10", b"UID FETCH 1:4 FLAGS (CHANGEDSINCE %d VANISHED)" % highest)
        assert lines[0] == b"* VANISHED (EARLIER) 2" and [x for x in lines if x.startswith(b"* ")][1:] == [
            b"* 2 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ (%d))" % int(re.search(rb"MODSEQ \((\d+)", changed[0]).group(1))]
        # a different UIDVALIDITY: no resync data at all
        lines = conn.run(b"11", b"SELECT %s (QRESYNC (%d 1))" % (box.encode(), validity + 1))
        assert not any(b"VANISHED" in line or b" FETCH " in line for line in lines)


def test_notify_reports_other_mailboxes(server, box):
    client = login(server)
    put(client, box, "Subject: n0")
    with raw_session(server) as conn:
        lines = conn.run(b"1", b"NOTIFY SET STATUS (MAILBOXES %s (MessageNew MessageExpunge))" % box.encode())
        assert lines[0] == b'* STATUS "%s" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ' % box.encode() + lines[0].split()[-1]
        assert conn.run(b"2", b"NOOP")[:-1] == []  # nothing changed
        put(client, box, "Subject: n1")
        assert conn.run(b"3", b"NOOP")[0].startswith(b'* STATUS "%s" (MESSAGES 2 UIDNEXT 3 ' % box.encode())
        lines = conn.run(b"4", b"NOTIFY SET (SELECTED (MessageNew)) (PERSONAL (FlagChange))")
        assert lines[:-1] == [] and lines[-1].startswith(b"4 OK")  # without STATUS: no initial lines
        client.select(box)
        client.store("1", "+FLAGS", "(\\Flagged)")
        assert b"HIGHESTMODSEQ" in conn.run(b"5", b"NOOP")[0]
        assert conn.run(b"6", b"NOTIFY SET (INBOXES (AnnotationChange))")[-1].startswith(b"6 NO [BADEVENT")
        assert conn.run(b"7", b"NOTIFY NONE")[-1].startswith(b"7 OK")
        put(client, box, "Subject: n2")
        assert conn.run(b"8", b"NOOP")[:-1] == []
    client.logout()


def test_notify_reads_a_mailbox_list_and_messagenew_fetch_items(server, box):
    """RFC 5465's parenthesised forms: several mailboxes in one filter, MessageNew with fetch items."""
    client = login(server)
    put(client, box, "Subject: n0")
    with raw_session(server) as conn:
        lines = conn.run(b"1", b"NOTIFY SET STATUS (MAILBOXES (INBOX %s) (MessageNew (UID FLAGS) MessageExpunge))"
                         % box.encode())
        assert lines[-1].startswith(b"1 OK")
        assert sorted(line.split()[2] for line in lines[:-1]) == sorted([b'"INBOX"', b'"%s"' % box.encode()])
        assert conn.run(b"2", b"NOTIFY SET (MAILBOXES (INBOX) (MessageNew (UID NOSUCHITEM)))")[-1].startswith(b"2 BAD")
    client.logout()


def test_utf8_accept_append_and_names(server, box):
    message = "Subject: Grüße\r\nFrom: Jörg <j@x.org>\r\n\r\nbody\r\n".encode()
    with raw_session(server) as conn:
        command = b"APPEND %s UTF8 (~{%d+}\r\n%s)" % (box.encode(), len(message), message)
        assert conn.run(b"1", command)[-1].startswith(b"1 BAD")  # not before ENABLE
        assert conn.run(b"2", b"ENABLE UTF8=ACCEPT")[0] == b"* ENABLED UTF8=ACCEPT"
        assert conn.run(b"3", command)[-1].startswith(b"3 OK [APPENDUID")
        plain_literal = command.replace(b"UTF8 (~{", b"UTF8 ({")  # RFC 6855 4: append-data is a literal8
        assert conn.run(b"3b", plain_literal)[-1].startswith(b"3b BAD")
        assert conn.run(b"4", 'CREATE "Bücher"'.encode())[-1].startswith(b"4 OK")
        assert any("Bücher".encode() in line for line in conn.run(b"5", b'LIST "" "B*"'))


def _listed(client: imaplib.IMAP4, pattern: str) -> list[bytes]:
    return [line for line in ok(client.list('""', pattern)) if line is not None]


def test_utf8_accept_names_travel_as_utf8_and_the_mailbox_is_stored_once(server):
    """RFC 6855 3: after ENABLE UTF8=ACCEPT names are UTF-8 both ways; other sessions keep modified UTF-7."""
    utf8 = login(server)
    ok(utf8.enable("UTF8=ACCEPT"))
    assert utf8.utf8_enabled  # imaplib now sends str arguments as UTF-8
    name, renamed = "Entwürfe 草稿", "Archiv 归档"
    ok(utf8.create(f'"{name}"'))  # quoted: 8-bit characters travel in a quoted string, not an atom
    assert _listed(utf8, '"Entw*"') == [f'(\\HasNoChildren) "." "{name}"'.encode()]  # quoted UTF-8, no literal
    assert ok(utf8.select(f'"{name}"'))[0] == b"0"
    ok(utf8.append(f'"{name}"', None, None, b"Subject: hi\r\n\r\nbody\r\n"))
    assert ok(utf8.status(f'"{name}"', "(MESSAGES)")) == [f'"{name}" (MESSAGES 1)'.encode()]
    typ, data = utf8._simple_command("LIST", '""', '"Entw*"', "RETURN", "(STATUS (MESSAGES))")
    assert typ == "OK" and utf8.untagged_responses.pop("STATUS") == [f'"{name}" (MESSAGES 1)'.encode()]
    assert utf8.untagged_responses.pop("LIST") == [f'(\\HasNoChildren) "." "{name}"'.encode()]

    plain = login(server)  # no ENABLE: the same mailbox by its modified UTF-7 name, and no 8-bit octet
    wire = "Entw&APw-rfe &g0l6Pw-"
    assert _listed(plain, '"Entw*"') == [f'(\\HasNoChildren) "." "{wire}"'.encode()]
    assert ok(plain.select(f'"{wire}"', readonly=True))[0] == b"1"
    assert ok(plain.status(f'"{wire}"', "(MESSAGES)")) == [f'"{wire}" (MESSAGES 1)'.encode()]

    ok(utf8.rename(f'"{name}"', f'"{renamed}"'))
    assert _listed(utf8, '"Entw*"') == [] and _listed(utf8, '"Archiv *"') == [
        f'(\\HasNoChildren) "." "{renamed}"'.encode()]
    assert _listed(plain, '"Archiv *"') == [b'(\\HasNoChildren) "." "Archiv &X1JoYw-"']
    # the seeded 163-style folder: 已发送 to the UTF-8 session, &XfJT0ZAB- to the other, the same messages
    assert b'(\\HasNoChildren) "." "\xe5\xb7\xb2\xe5\x8f\x91\xe9\x80\x81"' in _listed(utf8, "*")
    assert b'(\\HasNoChildren) "." "&XfJT0ZAB-"' in _listed(plain, "*")
    assert ok(utf8.select('"已发送"', readonly=True)) == ok(plain.select("&XfJT0ZAB-", readonly=True))
    assert utf8.select("&XfJT0ZAB-")[0] == "NO"  # to a UTF-8 session that is the name "&XfJT0ZAB-"
    ok(utf8.delete(f'"{renamed}"'))
    assert _listed(plain, '"Archiv *"') == []
    utf8.logout()
    plain.logout()


def test_mailbox_names_not_valid_for_the_session_are_refused(server):
    """Without UTF8=ACCEPT names are modified UTF-7 (RFC 3501 5.1.3), with it UTF-8: anything else gets NO."""
    with raw_session(server) as conn:
        assert conn.run(b"1", b'CREATE "Tom & Jerry"')[-1] == b"1 NO Mailbox name is not valid mUTF-7"
        assert conn.run(b"2", 'CREATE "Bücher"'.encode())[-1] == b"2 NO Mailbox name is not valid mUTF-7"
        assert conn.run(b"3", b'SELECT "&APx-"')[-1] == b"3 NO Mailbox name is not valid mUTF-7"  # bits left
        assert conn.run(b"4", b"ENABLE UTF8=ACCEPT")[0] == b"* ENABLED UTF8=ACCEPT"
        assert conn.run(b"5", b'CREATE "B\xfccher"')[-1] == b"5 NO Mailbox name is not valid UTF-8"  # Latin-1
        assert conn.run(b"6", b'SELECT "\xed\xa0\x80"')[-1] == b"6 NO Mailbox name is not valid UTF-8"  # surrogate
        assert conn.run(b"7", 'CREATE "a\u0085b"'.encode())[-1].startswith(b"7 NO [CANNOT]")  # a C1 control
        assert conn.run(b"8", 'CREATE "a\u2028b"'.encode())[-1].startswith(b"8 NO [CANNOT]")  # LINE SEPARATOR
        assert conn.run(b"9", "SELECT Bücher".encode())[-1].startswith(b"9 BAD")  # 8-bit only when quoted
        assert conn.run(b"10", b'CREATE "Tom & Jerry"')[-1].startswith(b"10 OK")  # "&" is just "&" in UTF-8
    client = login(server)
    assert _listed(client, '"Tom*"') == [b'(\\HasNoChildren) "." "Tom &- Jerry"']
    ok(client.delete('"Tom &- Jerry"'))
    client.logout()


def test_utf8_accept_forbids_other_charsets_in_search_sort_thread(server, box):
    """RFC 6855 3 and its erratum 4029: after ENABLE no SEARCH CHARSET, and SORT/THREAD name UTF-8 only."""
    with raw_session(server, box) as conn:
        assert conn.run(b"1", b"SEARCH CHARSET UTF-8 ALL")[-1].startswith(b"1 OK")  # before ENABLE: fine
        assert conn.run(b"2", b"ENABLE UTF8=ACCEPT")[0] == b"* ENABLED UTF8=ACCEPT"
        assert conn.run(b"3", b"SEARCH CHARSET UTF-8 ALL")[-1].startswith(b"3 BAD")
        assert conn.run(b"4", b"UID SEARCH RETURN (COUNT) charset us-ascii ALL")[-1].startswith(b"4 BAD")
        assert conn.run(b"5", 'SEARCH SUBJECT "Grüße"'.encode())[-1].startswith(b"5 OK")
        assert conn.run(b"6", b"SORT (DATE) US-ASCII ALL")[-1].startswith(b"6 BAD")
        assert conn.run(b"7", b"SORT (DATE) UTF-8 ALL")[-1].startswith(b"7 OK")
        assert conn.run(b"8", b"THREAD REFERENCES US-ASCII ALL")[-1].startswith(b"8 BAD")
        assert conn.run(b"9", b"THREAD REFERENCES utf-8 ALL")[-1].startswith(b"9 OK")


@pytest.mark.parametrize("text, wire", [
    ("已发送", "&XfJT0ZAB-"), ("Entwürfe", "Entw&APw-rfe"), ("Tom & Jerry", "Tom &- Jerry"), ("&&", "&-&-"),
    ("ü&ü", "&APw-&-&APw-"), ("😀", "&2D3eAA-"),
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 5.1.3's own example
])
def test_modified_utf7_both_ways(text, wire):
    assert mutf7.encode(text) == wire and mutf7.decode(wire) == text


@pytest.mark.parametrize("wire", ["&", "Tom & Jerry", "&AGE-", "&APw-&APw-", "&APx-", "&AP-", "&APw", "&2D0-", "Bücher"])
def test_modified_utf7_refuses_what_rfc_3501_rules_out(wire):
    """Unterminated, printable ASCII in base64, two runs side by side, bits left over, a lone surrogate, 8-bit."""
    with pytest.raises(ValueError):
        mutf7.decode(wire)
