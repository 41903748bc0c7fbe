"""IMAP: imaplib and curl against the course's IMAP server, RFC 3501 answers checked piece by piece."""

from __future__ import annotations

import base64
import email
import email.policy
import imaplib
import re
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from local_servers import control
from local_servers.mail import mailstore
from mailtest import Raw, curl, mail_dir

SEED_INBOX = 44  # alice's seeded INBOX (mailstore.seed)


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One IMAP server for the tests that only read (they EXAMINE, so nothing changes)."""
    state_dir = tmp_path_factory.mktemp("imap-shared")
    handle = control.start(state_dir, ephemeral=True, names=["imap"])
    yield handle
    control.stop(state_dir)


@pytest.fixture
def fresh(servers_factory):
    """IMAP and SMTP on freshly seeded mail, for a test that changes mail."""
    return servers_factory(names=["imap", "smtp"])


def connect(handle, user="alice", password="alice-pw") -> imaplib.IMAP4:
    client = imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10)
    if user:
        client.login(user, password)
    return client


def ok(result):
    typ, data = result
    assert typ == "OK", data
    return data


def joined(data) -> bytes:
    """imaplib's FETCH data (tuples for literals) back into one response, literals inline."""
    out = b""
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            out += item[0] + b"\r\n" + item[1]
        else:
            out += item
    return out


_TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\}\r\n|([^\s()"\[]+(?:\[[^\]]*\](?:<\d+>)?)?))')


def sexp(data: bytes):
    """Parse an IMAP response's data into nested lists (strings as bytes, NIL as None, numbers as int)."""
    pos, stack, current = 0, [], []
    while pos < len(data):
        match = _TOKEN.match(data, pos)
        if not match or match.end() == pos:
            if data[pos:].strip() == b"":
                break
            raise AssertionError(f"cannot parse {data[pos:pos + 40]!r}")
        pos = match.end()
        opening, closing, quoted, size, atom = match.groups()
        if opening:
            stack.append(current)
            current = []
        elif closing:
            done, current = current, stack.pop()
            current.append(done)
        elif quoted is not None:
            current.append(re.sub(rb"\\(.)", rb"\1", quoted))
        elif size is not None:
            current.append(data[pos:pos + int(size)])
            pos += int(size)
        elif atom == b"NIL":
            current.append(None)
        elif atom.isdigit():
            current.append(int(atom))
        else:
            current.append(atom)
    return current


def fetch_items(client, message_set: str, items: str, uid: bool = False) -> dict[int, dict]:
    """{sequence number: {item name: value}} from a FETCH."""
    data = ok(client.uid("FETCH", message_set, items) if uid else client.fetch(message_set, items))
    parsed = sexp(joined(data))
    result = {}
    for i in range(0, len(parsed), 2):
        pairs = parsed[i + 1]
        result[parsed[i]] = {pairs[j].decode().upper(): pairs[j + 1] for j in range(0, len(pairs), 2)}
    return result


def refused(result, code: str = "") -> None:
    """A NO reply (imaplib returns those rather than raising), with the response code if given."""
    typ, data = result
    assert typ == "NO" and code in data[0].decode(), result


def numbers(data) -> list[int]:
    return [int(n) for n in data[0].split()]


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class RawIMAP(Raw):
    """A raw conversation, for what imaplib never sends."""

    def tagged(self, tag: bytes) -> list[bytes]:
        """Every line up to and including the one that starts with tag."""
        lines = []
        while True:
            lines.append(self.line())
            if lines[-1].startswith(tag + b" "):
                return lines


def raw_login(handle) -> RawIMAP:
    conn = RawIMAP(handle.imap.address)
    assert conn.line().startswith(b"* OK")
    conn.send(b"L LOGIN alice alice-pw\r\n")
    assert conn.tagged(b"L")[-1].startswith(b"L OK")
    return conn


# --------------------------------------------------------------------------
# Connecting and logging in
# --------------------------------------------------------------------------

def test_greeting_capability_login_logout(shared):
    client = connect(shared, user=None)
    assert client.welcome.startswith(b"* OK [CAPABILITY IMAP4rev1")
    for cap in ("IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "IDLE", "UIDPLUS", "MOVE", "UNSELECT", "LITERAL+"):
        assert cap in client.capabilities
    assert client.login("alice", "alice-pw")[0] == "OK"
    assert "STARTTLS" not in ok(client.capability())[0].decode()
    assert ok(client.noop()) is not None
    assert client.logout()[0] == "BYE"


def test_bad_credentials_and_wrong_state(shared):
    client = connect(shared, user=None)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("alice", "wrong")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("mallory", "alice-pw")
    client.logout()
    with RawIMAP(shared.imap.address) as conn:  # imaplib itself refuses commands in the wrong state
        conn.line()
        assert conn.command(b"a SELECT INBOX").startswith(b"a BAD")  # not logged in yet
        assert conn.command(b"b LOGIN alice alice-pw").startswith(b"b OK")
        assert conn.command(b"c FETCH 1 FLAGS").startswith(b"c BAD")  # nothing selected
        assert conn.command(b"d LOGIN alice alice-pw").startswith(b"d BAD")  # already logged in


def test_authenticate_plain_with_continuation_and_sasl_ir(shared):
    client = connect(shared, user=None)
    typ, _ = client.authenticate("PLAIN", lambda _: b"\0bob\0bob-pw")  # imaplib answers the "+"
    assert typ == "OK" and client.state == "AUTH"
    client.logout()
    with RawIMAP(shared.imap.address) as conn:
        conn.line()
        token = base64.b64encode(b"\0carol\0carol-pw")
        conn.send(b"a AUTHENTICATE PLAIN " + token + b"\r\n")  # SASL-IR: the response on the command line
        assert conn.tagged(b"a")[-1].startswith(b"a OK")
        conn.send(b"b AUTHENTICATE PLAIN\r\n")
        assert conn.line().startswith(b"b BAD")  # already authenticated: wrong state
    with RawIMAP(shared.imap.address) as conn:
        conn.line()
        conn.send(b"c AUTHENTICATE PLAIN\r\n")
        assert conn.line().startswith(b"+")
        conn.send(b"*\r\n")  # the client cancels
        assert conn.line().startswith(b"c BAD")
        conn.send(b"d AUTHENTICATE PLAIN " + base64.b64encode(b"\0carol\0nope") + b"\r\n")
        assert conn.line().startswith(b"d NO [AUTHENTICATIONFAILED]")
        conn.send(b"e AUTHENTICATE CRAM-MD5\r\n")
        assert conn.line().startswith(b"e NO")


def test_imaps_and_starttls_verify_the_course_ca(shared):
    context = ssl.create_default_context(cafile=shared.ca_file)
    with imaplib.IMAP4_SSL(shared.imap.host, shared.imap.tls_ports["imaps"], ssl_context=context, timeout=10) as c:
        c.login("alice", "alice-pw")
        assert ok(c.select("INBOX", readonly=True)) == [str(SEED_INBOX).encode()]
    client = connect(shared, user=None)
    assert client.starttls(ssl_context=ssl.create_default_context(cafile=shared.ca_file))[0] == "OK"
    assert "STARTTLS" not in client.capabilities
    client.login("bob", "bob-pw")
    assert ok(client.select("INBOX", readonly=True))
    client.logout()


# --------------------------------------------------------------------------
# Mailboxes
# --------------------------------------------------------------------------

def test_select_and_examine_responses(shared):
    client = connect(shared)
    typ, data = client.select("INBOX", readonly=True)
    assert typ == "OK" and data == [str(SEED_INBOX).encode()]
    assert client.untagged_responses["READ-ONLY"] == [b""]
    assert client.response("UIDVALIDITY")[1][0].isdigit()
    assert client.response("UIDNEXT")[1] == [str(SEED_INBOX + 1).encode()]
    assert client.response("PERMANENTFLAGS")[1] == [b"()"]
    flags = client.response("FLAGS")[1][0]
    for flag in (b"\\Seen", b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Draft"):
        assert flag in flags
    assert int(client.response("UNSEEN")[1][0]) == 3  # the first two seeded messages are \Seen
    assert int(client.response("RECENT")[1][0]) >= 0
    refused(client.select("NoSuchBox"), "NONEXISTENT")
    assert client.state == "AUTH"  # a failed SELECT leaves no mailbox selected
    client.logout()


def test_list_lsub_wildcards_and_namespace(fresh):
    client = connect(fresh)
    ok(client.create("Work.Projects.2026"))  # superior names are created too
    ok(client.create("Work.Notes"))
    everything = ok(client.list())
    names = [sexp(line)[2] for line in everything]
    assert names == [b"INBOX", b"&XfJT0ZAB-", b"Archive", b"Sent", b"Work", b"Work.Notes", b"Work.Projects", b"Work.Projects.2026"]
    assert b'(\\HasChildren) "." "Work"' in everything
    top = [sexp(line)[2] for line in ok(client.list(pattern="%"))]
    assert top == [b"INBOX", b"&XfJT0ZAB-", b"Archive", b"Sent", b"Work"]
    assert [sexp(line)[2] for line in ok(client.list("Work.", "%"))] == [b"Work.Notes", b"Work.Projects"]
    assert [sexp(line)[2] for line in ok(client.list(pattern="*2026"))] == [b"Work.Projects.2026"]
    assert [sexp(line)[2] for line in ok(client.list(pattern="inbox"))] == [b"INBOX"]
    assert ok(client.list(pattern='""')) == [b'(\\Noselect) "." ""']
    assert ok(client.list(pattern="Nothing*")) == [None]
    ok(client.delete("Work"))  # its children stay: Work becomes a \Noselect name
    assert b'(\\Noselect \\HasChildren) "." "Work"' in ok(client.list(pattern="%"))
    # LSUB: subscribed to every folder at first; UNSUBSCRIBE removes one
    ok(client.unsubscribe("Archive"))
    subscribed = [sexp(line)[2] for line in ok(client.lsub())]
    assert b"Archive" not in subscribed and b"Sent" in subscribed
    ok(client.subscribe("Archive"))
    assert b"Archive" in [sexp(line)[2] for line in ok(client.lsub())]
    typ, data = client.namespace()
    assert typ == "OK" and data == [b'(("" ".")) NIL NIL']
    client.logout()


def test_create_delete_rename_status(fresh):
    client = connect(fresh)
    ok(client.create("Projects"))
    refused(client.create("Projects"), "ALREADYEXISTS")
    ok(client.create("Projects.Old"))
    ok(client.rename("Projects", "Done"))
    names = [sexp(line)[2] for line in ok(client.list())]
    assert b"Done" in names and b"Done.Old" in names and b"Projects" not in names
    status = ok(client.status("Archive", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)"))[0]
    parsed = sexp(status)
    assert parsed[0] == b"Archive"
    values = dict(zip(parsed[1][::2], parsed[1][1::2]))
    assert values[b"MESSAGES"] == 3 and values[b"UNSEEN"] == 0 and values[b"UIDNEXT"] == 4
    refused(client.status("Nope", "(MESSAGES)"), "NONEXISTENT")
    refused(client.delete("INBOX"))
    ok(client.delete("Done.Old"))
    ok(client.delete("Done"))
    assert b"Done" not in [sexp(line)[2] for line in ok(client.list())]
    # RENAME INBOX moves its messages into a new mailbox and leaves INBOX empty
    ok(client.rename("INBOX", "Saved"))
    assert ok(client.select("INBOX")) == [b"0"]
    assert ok(client.select("Saved")) == [str(SEED_INBOX).encode()]
    client.logout()


def test_alice_never_sees_bobs_mail(shared):
    client = connect(shared)
    for name in ("../bob", "../../mail/bob", "..", "./../bob", "/etc", "a/b", ".imap-uids"):
        typ, data = client._simple_command("SELECT", f'"{name}"')
        assert typ in ("NO", "BAD"), (name, data)
        assert client.state == "AUTH"
    assert all(b"bob" not in line for line in ok(client.list()))
    client.logout()
    bob = connect(shared, "bob", "bob-pw")
    bob.select("INBOX", readonly=True)
    subjects = [v["ENVELOPE"][1] for v in fetch_items(bob, "1:*", "ENVELOPE").values()]
    assert b"Project plan" not in subjects and b"Re: Project plan" in subjects
    bob.logout()


# --------------------------------------------------------------------------
# FETCH: ENVELOPE, BODYSTRUCTURE, sections, partial
# --------------------------------------------------------------------------

def build_message() -> EmailMessage:
    """multipart/mixed: alternative (plain + html), a PDF attachment and a forwarded message."""
    inner = EmailMessage()
    inner["From"] = "Carol Singer <carol@example.test>"
    inner["To"] = "bob@example.test"
    inner["Subject"] = "Inner subject"
    inner["Date"] = "Tue, 03 Mar 2026 10:00:00 +0100"
    inner.set_content("The forwarded text.\n")
    msg = EmailMessage()
    msg["From"] = '"Bob, the Builder" <bob@example.test>'
    msg["To"] = "Alice Liddell <alice@example.test>, carol@example.test"
    msg["Cc"] = "Team: dave@example.org, erin@example.net;"
    msg["Reply-To"] = "replies@example.test"
    msg["Subject"] = "Structure test"
    msg["Date"] = "Wed, 04 Mar 2026 12:00:00 +0100"
    msg["Message-ID"] = "<structure-1@example.test>"
    msg["In-Reply-To"] = "<earlier@example.test>"
    msg.set_content("Plain text line one.\nLine two.\n")
    msg.add_alternative("<p>HTML <b>text</b></p>\n", subtype="html")
    msg.make_mixed()
    msg.add_attachment(b"%PDF-1.4 fake\n" * 20, maintype="application", subtype="pdf", filename="report.pdf")
    msg.add_attachment(inner)
    return msg


def append(client, msg: EmailMessage, mailbox="INBOX", flags=None, date=None) -> int:
    data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    typ, resp = client.append(mailbox, flags, date, data)
    assert typ == "OK", resp
    match = re.search(rb"APPENDUID (\d+) (\d+)", resp[0])
    assert match, resp
    return int(match.group(2))


def test_envelope_and_bodystructure_match_the_email_package(fresh):
    client = connect(fresh)
    sent = build_message()
    wire = sent.as_bytes(policy=sent.policy.clone(linesep="\r\n"))
    uid = append(client, sent)
    client.select("INBOX")
    item = fetch_items(client, str(uid), "(ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE)", uid=True)
    (values,) = item.values()
    assert values["RFC822.SIZE"] == len(wire)

    env = values["ENVELOPE"]
    assert env[0] == b"Wed, 04 Mar 2026 12:00:00 +0100" and env[1] == b"Structure test"
    assert env[2] == [[b"Bob, the Builder", None, b"bob", b"example.test"]]
    assert env[3] == env[2]  # no Sender: the From address
    assert env[4] == [[None, None, b"replies", b"example.test"]]
    assert env[5] == [[b"Alice Liddell", None, b"alice", b"example.test"], [None, None, b"carol", b"example.test"]]
    assert env[6] == [[None, None, b"Team", None], [None, None, b"dave", b"example.org"],
                      [None, None, b"erin", b"example.net"], [None, None, None, None]]  # a group
    assert env[7] is None and env[8] == b"<earlier@example.test>" and env[9] == b"<structure-1@example.test>"

    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    structure = values["BODYSTRUCTURE"]
    assert structure[-5].lower() == b"mixed"
    alternative, pdf, forwarded = structure[0], structure[1], structure[2]
    plain_part, html_part = list(parsed.iter_parts())[0].iter_parts()
    pdf_part, rfc822_part = list(parsed.iter_parts())[1:]
    for node, part in ((alternative[0], plain_part), (alternative[1], html_part)):
        assert [node[0].lower(), node[1].lower()] == part.get_content_type().encode().split(b"/")
        body = crlf(part.get_payload(decode=False).encode())
        assert node[6] == len(body) and node[7] == body.count(b"\r\n")  # octets and lines
        assert dict(zip(node[2][::2], node[2][1::2]))[b"charset"].lower() == b"utf-8"
    assert alternative[2].lower() == b"alternative"
    assert [pdf[0].lower(), pdf[1].lower(), pdf[5].lower()] == [b"application", b"pdf", b"base64"]
    assert pdf[6] == len(crlf(pdf_part.get_payload(decode=False).encode()))
    assert pdf[8][0].lower() == b"attachment" and pdf[8][1] == [b"filename", b"report.pdf"]
    assert [forwarded[0].lower(), forwarded[1].lower()] == [b"message", b"rfc822"]
    assert forwarded[7][1] == b"Inner subject"  # the inner message's ENVELOPE
    assert forwarded[8][0].lower() == b"text"  # ... and its BODYSTRUCTURE
    # BODY is BODYSTRUCTURE without the extension data
    assert values["BODY"][0][0][:8] == alternative[0][:8] and len(values["BODY"][0][0]) == 8
    client.logout()


def test_sections_partial_and_seen(fresh):
    client = connect(fresh)
    sent = build_message()
    wire = sent.as_bytes(policy=sent.policy.clone(linesep="\r\n"))
    uid = append(client, sent)
    client.select("INBOX")
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    plain_part = list(list(parsed.iter_parts())[0].iter_parts())[0]
    header, _, text = wire.partition(b"\r\n\r\n")

    got = fetch_items(client, str(uid), "(BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1.1] "
                                        "BODY.PEEK[1.1.MIME] BODY.PEEK[3.HEADER] BODY.PEEK[3.TEXT] BODY.PEEK[3.1] "
                                        "BODY.PEEK[HEADER.FIELDS (Subject TO)] BODY.PEEK[HEADER.FIELDS.NOT (Subject)] "
                                        "BODY.PEEK[]<10.20> BODY.PEEK[1.1]<5.1000> FLAGS)", uid=True)
    (v,) = got.values()
    assert v["BODY[]"] == wire
    assert v["BODY[HEADER]"] == header + b"\r\n\r\n" and v["BODY[TEXT]"] == text
    assert v["BODY[1.1]"] == crlf(plain_part.get_payload(decode=False).encode())
    assert v["BODY[1.1.MIME]"].startswith(b"Content-Type: text/plain") and v["BODY[1.1.MIME]"].endswith(b"\r\n\r\n")
    assert b"Subject: Inner subject" in v["BODY[3.HEADER]"] and v["BODY[3.TEXT]"] == b"The forwarded text.\r\n"
    assert v["BODY[3.1]"] == b"The forwarded text.\r\n"  # a non-multipart message has one part: its body
    assert v["BODY[HEADER.FIELDS (SUBJECT TO)]"] == (b"To: Alice Liddell <alice@example.test>, carol@example.test\r\n"
                                                     b"Subject: Structure test\r\n\r\n")
    assert b"Subject:" not in v["BODY[HEADER.FIELDS.NOT (SUBJECT)]"] and b"From:" in v["BODY[HEADER.FIELDS.NOT (SUBJECT)]"]
    assert v["BODY[]<10>"] == wire[10:30]
    assert v["BODY[1.1]<5>"] == v["BODY[1.1]"][5:]
    assert b"\\Seen" not in v["FLAGS"]  # PEEK leaves \Seen alone

    rfc822 = fetch_items(client, str(uid), "(RFC822.HEADER RFC822.SIZE)", uid=True)
    (r,) = rfc822.values()
    assert r["RFC822.HEADER"] == header + b"\r\n\r\n" and r["RFC822.SIZE"] == len(wire)
    assert b"\\Seen" not in fetch_items(client, str(uid), "FLAGS", uid=True)[SEED_INBOX + 1]["FLAGS"]
    seen = fetch_items(client, str(uid), "BODY[TEXT]<0.4>", uid=True)[SEED_INBOX + 1]
    assert seen["BODY[TEXT]<0>"] == text[:4] and b"\\Seen" in seen["FLAGS"]  # FLAGS added: \Seen was set
    # RFC822 and RFC822.TEXT, the macros, INTERNALDATE
    whole = fetch_items(client, "1", "(RFC822 RFC822.TEXT)")[1]
    assert whole["RFC822"].endswith(whole["RFC822.TEXT"])
    fast = fetch_items(client, "1", "FAST")[1]
    assert set(fast) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}
    assert set(fetch_items(client, "1", "ALL")[1]) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}
    assert set(fetch_items(client, "1", "FULL")[1]) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}
    assert fetch_items(client, "1", "BODY.PEEK[9]")[1]["BODY[9]"] is None  # no such part
    client.logout()


def test_append_with_flags_and_date_and_literal_plus(fresh):
    client = connect(fresh)
    msg = EmailMessage()
    msg["Subject"] = "appended"
    msg.set_content("appended body\n")
    date = imaplib.Time2Internaldate(time.mktime((2025, 12, 24, 18, 30, 0, 0, 0, -1)))
    uid = append(client, msg, "Archive", r"(\Flagged \Seen $Important)", date)
    client.select("Archive")
    v = fetch_items(client, str(uid), "(FLAGS INTERNALDATE)", uid=True)
    (values,) = v.values()
    assert set(values["FLAGS"]) >= {b"\\Flagged", b"\\Seen", b"$Important"}
    assert values["INTERNALDATE"].startswith(b"24-Dec-2025 18:30:00")
    refused(client.append("NoSuchBox", None, None, b"Subject: x\r\n\r\nx\r\n"), "TRYCREATE")
    # LITERAL+ (RFC 7888): no continuation request, the data follows at once
    with raw_login(fresh) as conn:
        data = b"Subject: plus\r\n\r\nliteral plus\r\n"
        conn.send(b"A APPEND INBOX {%d+}\r\n" % len(data) + data + b"\r\n")
        reply = conn.tagged(b"A")
        assert reply[-1].startswith(b"A OK [APPENDUID ") and not any(l.startswith(b"+") for l in reply)
    client.logout()


# --------------------------------------------------------------------------
# SEARCH
# --------------------------------------------------------------------------

def test_search_keys(shared):
    client = connect(shared)
    client.select("INBOX", readonly=True)
    assert numbers(ok(client.search(None, "ALL"))) == list(range(1, SEED_INBOX + 1))
    invoices = numbers(ok(client.search(None, "SUBJECT", "invoice")))
    assert len(invoices) == 6
    assert numbers(ok(client.search(None, "SUBJECT", '"Invoice 1 for"'))) == invoices[:1]
    assert numbers(ok(client.search(None, "FROM", "jose@example.org"))) == [7]
    assert numbers(ok(client.search(None, "OR", "SUBJECT", "Lunch", "SUBJECT", "invoice"))) == sorted(
        invoices + numbers(ok(client.search(None, "SUBJECT", "lunch"))))
    unseen = numbers(ok(client.search(None, "UNSEEN")))
    seen = numbers(ok(client.search(None, "SEEN")))
    assert sorted(unseen + seen) == list(range(1, SEED_INBOX + 1)) and 1 in seen and 3 in unseen
    assert numbers(ok(client.search(None, "NOT", "SEEN"))) == unseen
    assert numbers(ok(client.search(None, "(SEEN", "SUBJECT", "invoice)"))) == [n for n in invoices if n in seen]
    assert numbers(ok(client.search(None, "1:3,5"))) == [1, 2, 3, 5]
    assert numbers(ok(client.search(None, "UID", "2:4"))) == [2, 3, 4]
    assert numbers(ok(client.search(None, "UID", "1000:*"))) == [SEED_INBOX]  # "*" is the last UID
    assert numbers(ok(client.search(None, "HEADER", "Message-ID", "seed-007"))) == [2]
    assert numbers(ok(client.search(None, "BODY", '"Thursday is fine"'))) == [3]
    assert numbers(ok(client.search(None, "TEXT", '"Thursday is fine"'))) == [3]
    assert numbers(ok(client.search(None, "CC", "carol"))) == numbers(ok(client.search(None, "HEADER", "CC", "carol")))
    assert numbers(ok(client.search(None, "TO", "alice"))) == list(range(1, SEED_INBOX + 1))
    assert numbers(ok(client.search(None, "LARGER", "700"))) == [5, 6, 44]  # HTML alternative, PNG, GBK attachment
    big = numbers(ok(client.search(None, "SMALLER", "700")))
    assert 5 not in big and len(big) == SEED_INBOX - 3
    assert numbers(ok(client.search(None, "SENTON", "3-Mar-2026"))) == [2, 3, 4]
    assert numbers(ok(client.search(None, "SENTBEFORE", "3-Mar-2026"))) == [1]
    assert numbers(ok(client.search(None, "SENTSINCE", '"1-Apr-2026"', "SENTBEFORE", "5-Apr-2026")))
    assert numbers(ok(client.search(None, "SINCE", "1-Jan-2000"))) == list(range(1, SEED_INBOX + 1))
    assert numbers(ok(client.search(None, "BEFORE", "1-Jan-2000"))) == []
    assert numbers(ok(client.search(None, "ON", "2-Mar-2026"))) == [1]
    assert numbers(ok(client.uid("SEARCH", None, "SUBJECT", "Welcome"))) == [1]
    assert numbers(ok(client.search(None, "DELETED"))) == [] and numbers(ok(client.search(None, "FLAGGED"))) == []
    with pytest.raises(imaplib.IMAP4.error):
        client.search(None, "NOSUCHKEY")
    refused(client.search("KOI8-R", "SUBJECT", "x"), "BADCHARSET")
    client.logout()


def test_search_charset_utf8_non_ascii_subject(shared):
    client = connect(shared)
    client.select("INBOX", readonly=True)
    client.literal = "Grüße aus Köln".encode("utf-8")
    assert numbers(ok(client.search("UTF-8", "SUBJECT"))) == [7]
    client.literal = "café ☕".encode("utf-8")  # case-insensitive, encoded words decoded
    assert numbers(ok(client.search("UTF-8", "SUBJECT"))) == [7]
    client.literal = "Grüße, José".encode("utf-8")  # the body, quoted-printable or base64 on disk
    assert numbers(ok(client.search("UTF-8", "BODY"))) == [7]
    client.literal = "聚会".encode("utf-8")  # a GBK encoded-word in the seeded mail from 张伟
    assert numbers(ok(client.search("UTF-8", "SUBJECT"))) == [SEED_INBOX]
    client.literal = "张伟".encode("utf-8")
    assert numbers(ok(client.search("UTF-8", "FROM"))) == [SEED_INBOX]
    client.literal = "漏掉的人".encode("utf-8")  # a GB18030 body in base64
    assert numbers(ok(client.search("UTF-8", "BODY"))) == [SEED_INBOX]
    client.logout()


def test_the_chinese_mail_travels_in_the_encodings_chinese_mail_programs_write(shared):
    """alice's last seeded message: GBK encoded-words, a GB18030 body, an RFC 2231 GBK file name."""
    client = connect(shared)
    client.select("INBOX", readonly=True)
    raw = ok(client.fetch(str(SEED_INBOX), "(BODY.PEEK[])"))[0][1]
    client.logout()
    assert b"Subject: =?GBK?B?" in raw and b"From: =?GBK?B?" in raw
    assert b'charset="GB18030"' in raw and b"filename*=GBK''%BE%DB%BB%E1%C3%FB%B5%A5.txt" in raw
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert (message["Subject"], str(message["From"])) == ("周六聚会的名单", "张伟 <zhangwei@example.cn>")
    text, attachment = [part for part in message.walk() if not part.is_multipart()]
    assert "漏掉的人" in text.get_content()
    assert attachment.get_filename() == "聚会名单.txt" and "韩梅梅" in attachment.get_content()


# --------------------------------------------------------------------------
# STORE, UIDs, EXPUNGE, COPY, MOVE
# --------------------------------------------------------------------------

def test_store_flags_and_keywords(fresh):
    client = connect(fresh)
    client.select("INBOX")
    assert ok(client.store("1:2", "+FLAGS", r"(\Flagged $Work)")) == [
        b"1 (FLAGS ($Work \\Flagged \\Seen))", b"2 (FLAGS ($Work \\Flagged \\Seen))"]
    assert ok(client.store("1", "-FLAGS", r"(\Seen $Work)")) == [b"1 (FLAGS (\\Flagged))"]
    assert ok(client.store("2", "FLAGS", r"(\Answered \Draft)")) == [b"2 (FLAGS (\\Answered \\Draft))"]
    assert ok(client.store("3", "+FLAGS.SILENT", r"\Seen")) == [None]
    assert numbers(ok(client.search(None, "KEYWORD", "$work"))) == []
    assert numbers(ok(client.search(None, "FLAGGED"))) == [1]
    assert numbers(ok(client.search(None, "ANSWERED", "DRAFT"))) == [2]
    assert 3 in numbers(ok(client.search(None, "SEEN")))
    with pytest.raises(imaplib.IMAP4.error):
        client.store("1", "+FLAGS", r"(\Bogus)")
    with pytest.raises(imaplib.IMAP4.error):
        client.store("99", "+FLAGS", r"(\Seen)")
    # flags are in the file names, where POP3 and the mail store read them
    files = {mailstore.split_name(p.name)[1] for p in (mail_dir(fresh) / "alice" / "cur").iterdir()}
    assert "DR" in files
    client.select("INBOX", readonly=True)
    refused(client.store("1", "+FLAGS", r"\Seen"), "READ-ONLY")
    client.logout()
    again = connect(fresh)  # flags persist across sessions
    again.select("INBOX", readonly=True)
    assert fetch_items(again, "1", "FLAGS")[1]["FLAGS"] == [b"\\Flagged"]
    again.logout()


def test_uids_versus_sequence_numbers_and_expunge(fresh):
    client = connect(fresh)
    client.select("INBOX")
    ok(client.store("1,3", "+FLAGS", r"\Deleted"))
    assert ok(client.expunge()) == [b"3", b"1"]  # each number valid when it is sent
    assert ok(client.select("INBOX")) == [str(SEED_INBOX - 2).encode()]
    first = fetch_items(client, "1", "UID")[1]["UID"]
    assert first == 2
    assert fetch_items(client, "2", "UID", uid=True) == {1: {"UID": 2}}
    assert fetch_items(client, "3", "FLAGS", uid=True) == {}  # UID 3 is gone: nothing, not an error
    assert fetch_items(client, "4", "UID", uid=True) == {2: {"UID": 4}}
    assert numbers(ok(client.uid("SEARCH", None, "UID", "1:5"))) == [2, 4, 5]
    assert numbers(ok(client.uid("SEARCH", None, "1:3"))) == [2, 4, 5]  # sequence numbers, answered as UIDs
    assert numbers(ok(client.search(None, "1:3"))) == [1, 2, 3]
    ok(client.uid("STORE", "4:5", "+FLAGS", r"\Deleted"))
    client.untagged_responses.clear()
    typ, data = client.uid("EXPUNGE", "5")  # UIDPLUS: only UID 5, though UID 4 is \Deleted too
    assert typ == "OK" and client.untagged_responses["EXPUNGE"] == [b"3"]
    assert numbers(ok(client.uid("SEARCH", None, "DELETED"))) == [4]
    with pytest.raises(imaplib.IMAP4.error):
        client.fetch(str(SEED_INBOX), "UID")  # beyond the last message: BAD
    ok(client.close())  # CLOSE expunges \Deleted messages silently
    assert ok(client.select("INBOX")) == [str(SEED_INBOX - 4).encode()]
    client.logout()


def test_copy_move_and_copyuid(fresh):
    client = connect(fresh)
    client.select("INBOX")
    typ, data = client.copy("1:3", "Archive")
    assert typ == "OK"
    assert re.search(rb"\[COPYUID \d+ 1:3 4:6\]", client.untagged_responses.get("COPYUID", [b""])[0]
                     if "COPYUID" in client.untagged_responses else data[0]) or b"COPYUID" in data[0]
    refused(client.copy("1", "Nowhere"), "TRYCREATE")
    typ, data = client._simple_command("MOVE", "2:3", "Sent")
    assert typ == "OK"
    assert client.untagged_responses["EXPUNGE"] == [b"3", b"2"]
    assert b"COPYUID" in client.untagged_responses["OK"][-1]
    assert ok(client.select("INBOX")) == [str(SEED_INBOX - 2).encode()]
    typ, _ = client.uid("MOVE", "1", "Sent")
    assert typ == "OK"
    client.select("Sent", readonly=True)
    subjects = [v["ENVELOPE"][1] for v in fetch_items(client, "1:*", "ENVELOPE").values()]
    assert subjects == [b"Re: Project plan", b"Project plan", b"Re: Project plan", b"Welcome to example.test"]
    client.select("Archive", readonly=True)
    assert len(fetch_items(client, "1:*", "UID")) == 6
    client.logout()


def test_two_sessions_see_each_others_changes(fresh):
    a, b = connect(fresh), connect(fresh)
    a.select("INBOX")
    b.select("INBOX")
    ok(a.store("2", "+FLAGS", r"\Deleted"))
    ok(a.expunge())
    # B's FETCH must not be told of the expunge (its numbers would shift under it) ...
    assert ok(b.fetch("3", "(UID)")) == [b"3 (UID 3)"] and "EXPUNGE" not in b.untagged_responses
    assert ok(b.fetch("2", "(UID)")) == [None]  # message 2 is gone: no data (RFC 2180 4.1)
    # ... but a NOOP is the right time, and so are the flags A changed
    ok(a.store("1", "+FLAGS", r"\Flagged"))
    b.untagged_responses.clear()
    b.noop()
    assert b.untagged_responses.get("EXPUNGE") == [b"2"]
    assert any(b"\\Flagged" in line for line in b.untagged_responses.get("FETCH", []))
    # a message A appends is announced to B as EXISTS
    msg = EmailMessage()
    msg["Subject"] = "from a"
    msg.set_content("x\n")
    append(a, msg)
    b.untagged_responses.clear()
    b.noop()
    assert b.untagged_responses.get("EXISTS") == [str(SEED_INBOX).encode()]
    a.logout()
    b.logout()


# --------------------------------------------------------------------------
# IDLE and delivery by SMTP
# --------------------------------------------------------------------------

def test_idle_sees_mail_delivered_by_smtp(fresh):
    with RawIMAP(fresh.imap.address) as conn:
        conn.line()
        conn.send(b"a LOGIN alice alice-pw\r\nb SELECT INBOX\r\n")
        selected = b"".join(conn.tagged(b"b"))
        recent = int(re.search(rb"\* (\d+) RECENT", selected).group(1))
        assert recent > 0  # the seeded messages in new/ (not yet seen by any reader)
        conn.send(b"c IDLE\r\n")
        assert conn.line().startswith(b"+")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "bob@example.test", "alice@example.test", "idle test"
        msg.set_content("wake up\n")
        sent_at = time.monotonic()
        with smtplib.SMTP(fresh.smtp.host, fresh.smtp.port, timeout=10) as smtp:
            smtp.send_message(msg)
        conn.sock.settimeout(2.5)
        line = conn.line()
        assert line == b"* %d EXISTS\r\n" % (SEED_INBOX + 1)
        assert time.monotonic() - sent_at < 2.0
        assert conn.line() == b"* %d RECENT\r\n" % (recent + 1)
        conn.send(b"DONE\r\n")
        assert conn.tagged(b"c")[-1].startswith(b"c OK")
        conn.send(b"d FETCH %d (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n" % (SEED_INBOX + 1))
        reply = b"".join(conn.tagged(b"d"))
        assert b"\\Recent" in reply and b"Subject: idle test" in reply


def test_new_mail_from_the_store_and_pop3_style_deletes(fresh):
    client = connect(fresh)
    client.select("INBOX")
    box = mail_dir(fresh)
    mailstore.deliver(box, "alice", b"Subject: direct\n\nwritten by mailstore.deliver\n")
    client.untagged_responses.clear()
    client.noop()
    assert client.untagged_responses.get("EXISTS") == [str(SEED_INBOX + 1).encode()]
    uid = fetch_items(client, str(SEED_INBOX + 1), "UID")[SEED_INBOX + 1]["UID"]
    assert uid == SEED_INBOX + 1
    # another program (POP3 at its QUIT) deletes message 1 by key: IMAP reports it as expunged
    first = mailstore.messages(mailstore.user_dir(box, "alice"))[0]
    first.path.unlink()
    client.untagged_responses.clear()
    client.noop()
    assert client.untagged_responses.get("EXPUNGE") == [b"1"]
    client.logout()
    uids = (mailstore.user_dir(box, "alice") / ".imap-uids").read_text().splitlines()
    assert uids[1] == f"uidnext {SEED_INBOX + 2}"


# --------------------------------------------------------------------------
# curl, a third-party client
# --------------------------------------------------------------------------

def test_curl_list_fetch_search_and_upload(fresh):
    base = f"imap://{fresh.imap.host}:{fresh.imap.port}"
    user = ["--user", "alice:alice-pw"]
    listing = curl(*user, base + "/")
    assert listing.returncode == 0, listing.stderr
    assert b'"Archive"' in listing.stdout and b'"INBOX"' in listing.stdout
    fetched = curl(*user, base + "/INBOX;UID=2")
    assert fetched.returncode == 0 and b"Subject: Project plan" in fetched.stdout
    found = curl(*user, base + "/INBOX?SUBJECT%20invoice")
    assert found.returncode == 0 and found.stdout.split()[:2] == [b"*", b"SEARCH"]
    assert len(found.stdout.split()) == 2 + 6
    upload = Path(fresh.state_dir) / "upload.eml"
    upload.write_bytes(b"From: curl@example.test\r\nSubject: uploaded by curl\r\n\r\nhello\r\n")
    put = curl(*user, "-T", str(upload), base + "/Archive")
    assert put.returncode == 0, put.stderr
    secure = f"imaps://localhost:{fresh.imap.tls_ports['imaps']}"
    back = curl(*user, "--cacert", fresh.ca_file, "--resolve", f"localhost:{fresh.imap.tls_ports['imaps']}:127.0.0.1",
                secure + "/Archive;UID=4")
    assert back.returncode == 0, back.stderr
    assert b"Subject: uploaded by curl" in back.stdout


# --------------------------------------------------------------------------
# Bad input: BAD replies, and the server keeps serving
# --------------------------------------------------------------------------

def test_bad_input_gets_bad_and_the_server_keeps_serving(shared):
    with raw_login(shared) as conn:
        replies = {}
        for tag, line in [
            (b"1", b"1 FOO"),  # unknown command
            (b"2", b"2 SELECT"),  # missing argument
            (b"3", b'3 LOGIN "unterminated'),
            (b"4", b"4 FETCH 1 FLAGS"),  # nothing selected
            (b"5", b"5 EXAMINE INBOX extra"),
            (b"6", b"6 LIST \"\" \"\\q\""),  # a backslash may only escape " and \
            (b"7", b"7 EXAMINE INBOX"),
            (b"8", b"8 FETCH 1:x FLAGS"),
            (b"9", b"9 FETCH 1 (BODY[4.HEADERS])"),
            (b"10", b"10 SEARCH BEFORE 32-Foo-2026"),
            (b"11", b"11 STORE 1 +FLAGS (\\Seen)"),  # EXAMINE is read-only
            (b"12", b"12 UID FROB 1"),
        ]:
            conn.send(line + b"\r\n")
            replies[tag] = conn.tagged(tag)[-1]
        assert [replies[t][len(t) + 1:len(t) + 3] for t in replies] == [
            b"BA", b"BA", b"BA", b"BA", b"BA", b"BA", b"OK", b"BA", b"BA", b"BA", b"NO", b"BA"]
        conn.send(b"\x00\xff garbage\r\n")
        assert conn.line().startswith(b"* BAD")
        conn.send(b"x" * 100_000 + b"\r\n")  # overlong line
        assert conn.line().startswith(b"* BAD")
        conn.send(b"13 APPEND INBOX {60000000}\r\n")  # a literal we will not take: no "+", a BAD
        assert conn.line().startswith(b"13 BAD [TOOBIG]")
        conn.send(b"14 NOOP\r\n")
        assert conn.tagged(b"14")[-1].startswith(b"14 OK")
    client = connect(shared)  # and a new client is served as ever
    assert ok(client.select("INBOX", readonly=True)) == [str(SEED_INBOX).encode()]
    client.logout()


def test_dropped_connections_mid_command(shared):
    for data in (b"a LOGIN alice alice-pw\r\nb APPEND INBOX {500}\r\npartial", b"a LOGIN {5}\r\nal",
                 b"a LOGIN alice alice-pw\r\nb IDLE\r\n"):
        sock = socket.create_connection(shared.imap.address, timeout=5)
        sock.sendall(data)
        time.sleep(0.05)
        sock.close()
    client = connect(shared)
    assert ok(client.select("INBOX", readonly=True)) == [str(SEED_INBOX).encode()]
    client.logout()


def test_starttls_ignores_commands_pipelined_in_the_clear(shared):
    """Commands sent after STARTTLS before the handshake must not run as if sent over TLS."""
    sock = socket.create_connection(shared.imap.address, timeout=10)
    file = sock.makefile("rb")
    file.readline()
    sock.sendall(b"a STARTTLS\r\nb LOGIN alice alice-pw\r\n")
    assert file.readline().startswith(b"a OK")
    context = ssl.create_default_context(cafile=shared.ca_file)
    with context.wrap_socket(sock, server_hostname=shared.imap.host) as tls:
        tls.sendall(b"c SELECT INBOX\r\n")
        assert tls.recv(1024).startswith(b"c BAD")  # still not logged in: "b LOGIN" was dropped


def test_autologout_after_the_idle_timeout(servers_factory):
    handle = servers_factory(names=["imap"], options={"imap_idle_timeout": "1"})
    with RawIMAP(handle.imap.address) as conn:
        conn.line()
        conn.sock.settimeout(5)
        assert conn.line().startswith(b"* BYE")  # silent for a second: logged out
    with RawIMAP(handle.imap.address) as conn:
        conn.line()
        conn.send(b"a LOGIN alice alice-pw\r\nb IDLE\r\n")
        conn.tagged(b"a")
        assert conn.line().startswith(b"+")
        conn.sock.settimeout(5)
        assert conn.line().startswith(b"* BYE")  # IDLE too ends at the timeout


# --------------------------------------------------------------------------
# The MIME splitter on awkward messages (no server needed)
# --------------------------------------------------------------------------

def test_mime_edge_cases():
    from local_servers.mail.imap import mime

    def part(text: bytes) -> mime.Part:
        return mime.Part(text.replace(b"\n", b"\r\n"))

    header_only = part(b"Subject: only a header\n")
    assert mime.bodystructure(header_only) == (b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 '
                                               b'NIL NIL NIL NIL)')
    unclosed = part(b"Content-Type: multipart/mixed; boundary=b\n\npreamble\n--b\n\none\n--b\n"
                    b"Content-Type: text/html\n\n<p>two</p>\n")
    assert [c.body for c in unclosed.children] == [b"one", b"<p>two</p>\r\n"]  # the last part runs to the end
    assert mime.section_data(unclosed, (2,), "MIME") == b"Content-Type: text/html\r\n\r\n"
    longer = part(b"Content-Type: multipart/mixed; boundary=b\n\n--bx\n--b\n\nreal\n--b--\n")
    assert [c.body for c in longer.children] == [b"real"]  # "--bx" is not our boundary
    digest = part(b'Content-Type: multipart/digest; boundary="d d"\n\n--d d\n\nSubject: in digest\n\nbody\n--d d--\n')
    structure = sexp(mime.bodystructure(digest))[0]
    assert structure[0][:2] == [b"message", b"rfc822"] and structure[0][7][1] == b"in digest"
    assert mime.section_data(digest, (1, 1), "") == b"body"
    assert mime.section_data(digest, (1,), "HEADER") == b"Subject: in digest\r\n\r\n"
    assert mime.section_data(digest, (2,), "") is None
    raw8 = part("Subject: Grüße\nFrom: \"Zoë\" <zoe@example.net>\nTo: undisclosed-recipients:;\n\nx\n".encode())
    envelope = sexp(mime.envelope(raw8))[0]
    assert envelope[1] == "Grüße".encode() and envelope[2] == [["Zoë".encode(), None, b"zoe", b"example.net"]]
    assert envelope[5] == [[None, None, b"undisclosed-recipients", None], [None, None, None, None]]
    assert b"{" in mime.envelope(raw8)  # 8-bit strings travel as literals, never as quoted strings


def test_public_server_takes_passwords_only_over_tls(servers_factory):
    handle = servers_factory(names=["imap"], host="127.0.0.2")  # not loopback's 127.0.0.1: counts as public
    client = imaplib.IMAP4(handle.imap.host, handle.imap.port, timeout=10)
    assert "LOGINDISABLED" in client.capabilities and "AUTH=PLAIN" not in client.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        client.login("alice", "alice-pw")
    client.starttls(ssl_context=ssl.create_default_context(cafile=handle.ca_file))
    assert "LOGINDISABLED" not in client.capabilities
    assert client.login("alice", "alice-pw")[0] == "OK"
    client.logout()
