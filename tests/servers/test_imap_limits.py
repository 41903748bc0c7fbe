"""IMAP: bounded work for any input (issue 8, "one slow command freezes every service").

Each test sends one of the inputs that froze or crashed the server before
and requires the protocol's answer within a few seconds: NO [LIMIT] (RFC
5530) for more than we do in one command, BAD for what we will not parse,
and a normal answer where the work is now linear. The socket timeout is
the time bound: a server that takes longer fails the test.
"""

from __future__ import annotations

import socket
import threading
import time

from test_imap_compliance import RawIMAP, box, login, ok, raw_session, server  # noqa: F401 (fixtures)

from local_servers.mail.imap import mime, search

BOUND = 5  # seconds: the reply must arrive within this


def bounded_session(handle, mailbox=None) -> RawIMAP:
    conn = raw_session(handle, mailbox)
    conn.sock.settimeout(BOUND)
    return conn


def test_list_wildcards_cost_linear_time(server):
    client = login(server)
    ok(client.create("Archive2026ReportsQuarterlyFinal"))
    ok(client.create("Work.Reports.2026"))
    client.logout()
    with bounded_session(server) as conn:
        # a backtracking regex needed ~C(80, 30) steps to reject the first name
        assert conn.run(b"1", b'LIST "" ' + b"%" * 50 + b"x")[-1].startswith(b"1 OK")
        lines = conn.run(b"2", b'LIST "" ' + b"%*" * 40 + b"6")
        assert lines[-1].startswith(b"2 OK") and any(b'"Work.Reports.2026"' in line for line in lines)
        lines = conn.run(b"3", b'LIST "" Work.%.20%')
        assert [line for line in lines if line.startswith(b"* LIST")] == [
            b'* LIST (\\HasNoChildren) "." "Work.Reports.2026"']
        assert b'"inbox"' not in b"".join(conn.run(b"4", b'LIST "" inBOX'))  # INBOX in any case ...
        assert b'"INBOX"' in b"".join(conn.run(b"5", b'LIST "" inB%'))  # ... and under wildcards


def test_an_overlong_mailbox_name_gets_no_limit_not_a_server_error(server):
    """A folder is one directory named after it: a name longer than a file name may be gets NO [LIMIT]
    (it was NO [SERVERBUG], the file system's ENAMETOOLONG), in every command that takes a name."""
    with bounded_session(server) as conn:
        long_name = b"x" * 300
        assert conn.run(b"1", b'CREATE "' + long_name + b'"')[-1].startswith(b"1 NO [LIMIT]")
        assert conn.run(b"2", b'CREATE "Work.' + long_name + b'"')[-1].startswith(b"2 NO [LIMIT]")
        assert conn.run(b"3", b'SELECT "' + long_name + b'"')[-1].startswith(b"3 NO")
        assert conn.run(b"4", b'RENAME "Sent" "' + long_name + b'"')[-1].startswith(b"4 NO [LIMIT]")
        assert conn.run(b"5", b'STATUS "' + long_name + b'" (MESSAGES)')[-1].startswith(b"5 NO")
        assert conn.run(b"6", b"ENABLE UTF8=ACCEPT")[-1].startswith(b"6 OK")
        chinese = ("已发送" * 30).encode()  # 90 characters: 244 bytes in modified UTF-7
        assert conn.run(b"7", b'CREATE "' + chinese + b'"')[-1].startswith(b"7 NO [LIMIT]")
        assert conn.run(b"8", b'CREATE "' + chinese[:60] + b'"')[-1].startswith(b"8 OK")
        assert not any(b"SERVERBUG" in line for line in conn.run(b"9", b'LIST "" "*"'))


def test_sequence_sets_merge_and_have_a_limit(server):
    with bounded_session(server, "INBOX") as conn:
        lines = conn.run(b"1", b"UID FETCH " + b",".join([b"1:*"] * 9_000) + b" UID")
        assert lines[-1].startswith(b"1 OK") and len(lines) == 44 + 1  # each message once
        reply = conn.run(b"2", b"UID FETCH " + b",".join([b"1:2"] * 10_001) + b" UID")[-1]
        assert reply.startswith(b"2 NO [LIMIT]")
        assert conn.run(b"3", b"FETCH 2,1,3:4,1:2 UID")[:-1] == [
            b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 2)", b"* 3 FETCH (UID 3)", b"* 4 FETCH (UID 4)"]


def test_search_keys_have_a_limit_and_nesting_a_depth(server):
    with bounded_session(server, "INBOX") as conn:
        assert conn.run(b"1", b"SEARCH " + b" ".join([b"NOT BODY x"] * 4_900))[-1].startswith(b"1 NO [LIMIT]")
        lines = conn.run(b"2", b"SEARCH " + b" ".join([b"NOT BODY zzqq"] * 500))  # within the limit: answered
        assert lines[-1].startswith(b"2 OK") and lines[0] == b"* SEARCH " + b" ".join(b"%d" % n for n in range(1, 45))
        deep = b"(" * 20_000 + b"ALL" + b")" * 20_000
        assert conn.run(b"3", b"SEARCH " + deep)[-1].startswith(b"3 BAD")
        assert conn.run(b"4", b"SEARCH " + b"NOT " * 20_000 + b"ALL")[-1].startswith(b"4 BAD")
        assert conn.run(b"5", b"SEARCH " + b"(" * 30 + b"UID 1:3" + b")" * 30)[0] == b"* SEARCH 1 2 3"
        assert conn.run(b"6", b"NOOP")[-1].startswith(b"6 OK")


def _nested(levels: int) -> bytes:
    return b"Subject: deep\r\nContent-Type: message/rfc822\r\n\r\n" * levels + b"Subject: leaf\r\n\r\nleaf words\r\n"


def test_deeply_nested_mime_is_a_leaf_beyond_a_depth(server, box):
    deep = _nested(3_000)
    with bounded_session(server) as conn:
        conn.send(b"1 APPEND " + box.encode() + b" {%d+}\r\n" % len(deep) + deep + b"\r\n")
        assert conn.tagged(b"1")[-1].startswith(b"1 OK")
        assert conn.run(b"2", b"SELECT " + box.encode())[-1].startswith(b"2 OK")
        lines = conn.run(b"3", b"FETCH 1 BODYSTRUCTURE")
        assert lines[-1].startswith(b"3 OK")
        assert lines[0].count(b'"message" "rfc822"') == mime.MAX_DEPTH
        assert b'"application" "octet-stream"' in lines[0]
        assert conn.run(b"4", b"SEARCH BODY deep")[-1].startswith(b"4 OK")
        assert conn.run(b"5", b"FETCH 1 BODY[1.1.1.HEADER]")[-1].startswith(b"5 OK")
    part = mime.Part(_nested(10))  # shallow nesting is still taken apart to the leaf
    assert b"leaf words" in mime.decoded_text(part).encode()


def test_literals_before_login_are_limited_to_what_a_login_needs(server):
    # non-synchronizing: the octets are on their way, so the answer is BAD [TOOBIG] and the connection ends
    with RawIMAP(server.imap.address, timeout=BOUND) as conn:
        conn.line()
        conn.send(b"z LOGIN {52427776+}\r\n")
        assert conn.line().startswith(b"z BAD [TOOBIG]")
        assert conn.line().startswith(b"* BYE")
        conn.sock.settimeout(BOUND)
        assert conn.file.readline() == b""  # closed, nothing buffered
    # synchronizing: no "+", a BAD at once, and the session goes on
    with RawIMAP(server.imap.address, timeout=BOUND) as conn:
        conn.line()
        conn.send(b"a LOGIN {9000}\r\n")
        assert conn.line().startswith(b"a BAD [TOOBIG]")
        conn.send(b"b LOGIN {5}\r\n")
        assert conn.line().startswith(b"+")
        conn.send(b"alice {8}\r\n")
        assert conn.line().startswith(b"+")
        conn.send(b"alice-pw\r\n")
        assert conn.tagged(b"b")[-1].startswith(b"b OK")
        conn.send(b"c APPEND INBOX.NoSuch {20000}\r\n")  # after login, big literals are fine again
        assert conn.line().startswith(b"+")


def test_an_overlong_line_gets_a_tagged_bad(server):
    with bounded_session(server) as conn:
        conn.send(b"t1 NOOP " + b"x" * 100_000 + b"\r\n")
        assert conn.line().startswith(b"t1 BAD")  # a client waiting for t1 is answered
        assert conn.run(b"t2", b"NOOP")[-1].startswith(b"t2 OK")


def _fill(handle, mailbox: str, count: int) -> None:
    """count messages of about 2 KB, appended in one pipelined burst (LITERAL+)."""
    body = b"".join(b"line %d of a message body with words to search through\r\n" % n for n in range(36))
    with raw_session(handle) as conn:
        conn.sock.settimeout(60)
        burst = bytearray()
        for n in range(count):
            message = b"Subject: message %d\r\nFrom: a@b.c\r\n\r\n" % n + body
            burst += b"A%d APPEND %s {%d+}\r\n%s\r\n" % (n, mailbox.encode(), len(message), message)
        conn.send(bytes(burst))
        assert conn.tagged(b"A%d" % (count - 1))[-1].startswith(b"A%d OK" % (count - 1))



def noop_delays_during(server, work) -> list[float]:
    """Run `work` in a thread; meanwhile time NOOPs on another session (the others' wait)."""
    with bounded_session(server) as probe:
        worker = threading.Thread(target=work)
        worker.start()
        delays = []
        while worker.is_alive():
            start = time.perf_counter()
            assert probe.run(b"p", b"NOOP")[-1].startswith(b"p OK")
            delays.append(time.perf_counter() - start)
            time.sleep(0.01)
        worker.join()
    return delays

def test_other_connections_are_served_while_a_long_search_runs(server, box):
    """The loop is shared: the largest search we accept must not hold up another session's NOOP."""
    _fill(server, box, 1_000)
    program = b"SEARCH " + b" ".join([b"NOT BODY zzqq"] * 499)  # 998 keys (NOT counts), all tested on each message
    durations = []

    def long_search():
        with bounded_session(server, box) as conn:
            conn.sock.settimeout(120)
            for n in range(2):
                start = time.perf_counter()
                assert conn.run(b"s%d" % n, program)[-1].startswith(b"s%d OK" % n)
                durations.append(time.perf_counter() - start)

    delays = noop_delays_during(server, long_search)
    assert len(durations) == 2, "the search did not complete"
    delays.sort()
    # Without yielding, a NOOP waits for the rest of the search; with it, for one slice of 200 messages.
    assert delays[-1] < max(durations) / 3, (delays[-5:], durations)


def test_a_long_search_of_one_big_message_does_not_hold_the_loop(server, box):
    """One 16 MiB message and 200 BODY keys: seconds of work inside a single message."""
    line = b"some words of a long text body, none of which is searched for\r\n"
    message = b"Subject: big\r\nFrom: a@b.c\r\n\r\n" + line * (16 * 1024 * 1024 // len(line))
    with bounded_session(server) as conn:
        conn.sock.settimeout(60)
        conn.send(b"1 APPEND %s {%d+}\r\n%s\r\n" % (box.encode(), len(message), message))
        assert conn.tagged(b"1")[-1].startswith(b"1 OK")
    program = b"SEARCH " + b" ".join(b"NOT BODY zzqq%d" % n for n in range(200))
    durations = []

    def long_search():
        with bounded_session(server, box) as conn:
            conn.sock.settimeout(120)
            start = time.perf_counter()
            assert conn.run(b"s", program)[:-1] == [b"* SEARCH 1"]
            durations.append(time.perf_counter() - start)

    delays = noop_delays_during(server, long_search)
    assert durations, "the search did not complete"
    assert max(delays) < durations[0] / 3, (sorted(delays)[-5:], durations)


def test_a_big_body_is_searched_in_pieces_without_missing_a_match_across_them():
    """contains() searches a text over PIECE characters a piece at a time (so no single C call holds
    the GIL long); a needle that straddles two pieces, or ends the text, must still be found."""
    piece = search.PIECE
    text = "a" * (piece - 3) + "needle" + "b" * (3 * piece) + "tail"
    assert search.contains(text, "needle")  # across the first boundary
    assert search.contains(text, "btail") and search.contains(text, "tail")  # at the very end
    assert not search.contains(text, "needles") and not search.contains(text, "ab" * 3)
    assert search.contains(text, "a" * 10 + "needle" + "b" * 10) == ("a" * 10 + "needle" + "b" * 10 in text)
