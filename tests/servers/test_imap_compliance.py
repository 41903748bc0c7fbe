"""IMAP: what Dovecot's imaptest found (docs/imaptest.md), each pinned by a test of its own.

Every test works in a mailbox of its own on one shared server, so they can
append and flag freely without disturbing each other or the seeded INBOX.
"""

from __future__ import annotations

import imaplib
import itertools

import pytest

from local_servers import control
from mailtest import Raw

_boxes = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("imap-compliance")
    handle = control.start(state_dir, ephemeral=True, names=["imap"])
    yield handle
    control.stop(state_dir)


@pytest.fixture
def box(server):
    """The name of a new, empty mailbox."""
    name = f"T{next(_boxes)}"
    client = login(server)
    assert client.create(name)[0] == "OK"
    client.logout()
    return name


def login(handle) -> imaplib.IMAP4:
    client = imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10)
    client.login("alice", "alice-pw")
    return client


def ok(result):
    typ, data = result
    assert typ == "OK", data
    return data


class RawIMAP(Raw):
    def tagged(self, tag: bytes) -> list[bytes]:
        """Every line up to and including the tagged one (literals are not expected here)."""
        lines = []
        while True:
            lines.append(self.line().rstrip(b"\r\n"))
            if lines[-1].startswith(tag + b" "):
                return lines

    def run(self, tag: bytes, command: bytes) -> list[bytes]:
        self.send(tag + b" " + command + b"\r\n")
        return self.tagged(tag)


def raw_session(handle, mailbox: str | None = None) -> RawIMAP:
    conn = RawIMAP(handle.imap.address)
    assert conn.line().startswith(b"* OK")
    assert conn.run(b"L", b"LOGIN alice alice-pw")[-1].startswith(b"L OK")
    if mailbox:
        assert conn.run(b"S", b"SELECT " + mailbox.encode())[-1].startswith(b"S OK")
    return conn


def put(client: imaplib.IMAP4, mailbox: str, header: str, flags: str | None = None) -> None:
    header = header.strip("\n") + ("" if "Subject:" in header else "\nSubject: test")
    message = (header + "\n\nbody\n").replace("\n", "\r\n").encode()
    ok(client.append(mailbox, flags, None, message))


# --------------------------------------------------------------------------
# ENVELOPE and SEARCH by address
# --------------------------------------------------------------------------

def test_envelope_reports_a_source_route_as_the_adl(server, box):
    """RFC 3501 7.4.2: an address is (name adl mailbox host); "<@route:user@domain>" has adl "@route"."""
    client = login(server)
    put(client, box, "From: <@route:user@domain>\nTo: Someone <@a.example,@b.example:to@domain>")
    client.select(box)
    data = ok(client.fetch("1", "(ENVELOPE)"))[0]
    assert b'((NIL "@route" "user" "domain"))' in data
    assert b'(("Someone" "@a.example,@b.example" "to" "domain"))' in data
    client.logout()


def test_search_from_to_match_the_envelope_address_not_the_raw_header(server, box):
    """RFC 3501 6.4.4: FROM user@host finds the address however the header spells it."""
    client = login(server)
    put(client, box, "From: <user-from (comment)@ (comment) domain.org>")  # raw text never says user-from@
    put(client, box, "From: user-from@domain.org (RealFrom)")  # the name in a comment is the display name
    put(client, box, "From: other@domain.org\nTo: groupname: g1@domain.org, g2@domain.org;")
    put(client, box, "From: <@route:user-from@domain.org>")
    client.select(box)
    assert ok(client.search(None, "FROM", "user-from@domain.org")) == [b"1 2 4"]
    assert ok(client.search(None, "FROM", "realfrom")) == [b"2"]
    assert ok(client.search(None, "TO", "groupname")) == [b"3"]
    assert ok(client.search(None, "TO", "g2@domain.org")) == [b"3"]
    assert ok(client.search(None, "FROM", "comment")) == [b"1"]  # comments remain searchable as names
    client.logout()


# --------------------------------------------------------------------------
# A new keyword is announced (FLAGS, PERMANENTFLAGS) before a FETCH shows it
# --------------------------------------------------------------------------

def _announced_before(lines: list[bytes], keyword: bytes) -> None:
    """FLAGS and PERMANENTFLAGS that name the keyword come before the first FETCH that shows it."""
    flags = next(i for i, line in enumerate(lines) if line.startswith(b"* FLAGS (") and keyword in line)
    permanent = next(i for i, line in enumerate(lines) if b"[PERMANENTFLAGS (" in line and keyword in line)
    fetch = next(i for i, line in enumerate(lines) if b" FETCH " in line and keyword in line)
    assert flags < fetch and permanent < fetch, lines


def test_new_keyword_from_store_is_announced_to_every_selected_session(server, box):
    client = login(server)
    put(client, box, "From: a@b.c")
    client.logout()
    one, two = raw_session(server, box), raw_session(server, box)
    with one, two:
        _announced_before(one.run(b"1", b"STORE 1 +FLAGS ($Fresh1)"), b"$Fresh1")
        _announced_before(two.run(b"2", b"NOOP"), b"$Fresh1")
        assert not any(b"* FLAGS" in line for line in two.run(b"3", b"NOOP"))  # told once only


def test_new_keyword_from_append_and_copy_is_announced_before_fetch(server, box):
    client = login(server)
    put(client, box, "From: a@b.c")
    with raw_session(server, box) as watcher:
        put(client, box, "From: a@b.c", flags="($Appended)")
        _announced_before(watcher.run(b"1", b"NOOP") + watcher.run(b"2", b"FETCH 2 FLAGS"), b"$Appended")
        other = f"{box}x"
        ok(client.create(other))
        put(client, other, "From: a@b.c")
        with raw_session(server, other) as target_watcher:
            ok(client.select(box))
            ok(client.store("1", "+FLAGS", "($Copied)"))
            ok(client.copy("1", other))
            _announced_before(target_watcher.run(b"3", b"NOOP") + target_watcher.run(b"4", b"FETCH 2 FLAGS"),
                              b"$Copied")
        _announced_before(watcher.run(b"5", b"FETCH 1:* FLAGS"), b"$Copied")
    client.logout()
