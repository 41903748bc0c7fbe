"""check("ex03"): the exercises of chapter 3 (NNTP), graded like a lab.

The student's answers are exercises/ex03_nntp.py in their labs folder
(labs/exercises/ holds the starter, solutions/exercises/ the reference).
Each function runs in the student's process against this run's own news
server; the expected values come from that server, read here with nntplib.
"""

from __future__ import annotations

import email
import os
import shutil
import ssl
import sys
import uuid
import warnings

import pytest

if sys.version_info >= (3, 13):
    pytest.importorskip("nntplib", reason="nntplib comes from the standard-nntplib package on 3.13+")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib  # noqa: E402

pytestmark = pytest.mark.lab("ex03")
CLP = "comp.lang.python"


def news(handle) -> nntplib.NNTP:
    return nntplib.NNTP(handle.nntp.host, handle.nntp.port, timeout=10)


def post(handle, subject: str, references: str = "") -> int:
    """Post a plain article to course.test; return its number there."""
    message_id = f"<{uuid.uuid4().hex}@grader.example.test>"
    lines = ["From: grader@example.test", "Newsgroups: course.test", f"Subject: {subject}",
             f"Message-ID: {message_id}"] + ([f"References: {references}"] if references else [])
    with news(handle) as server:
        server.post(("\r\n".join(lines) + "\r\n\r\nHi\r\n").encode())
        return number_of(server, message_id)


def number_of(server: nntplib.NNTP, message_id: str) -> int:
    """The number of an article in course.test, from its Xref header (STAT by id says 0)."""
    _, info = server.head(message_id)
    stored = email.message_from_bytes(b"\n".join(info.lines))
    return int(dict(item.rpartition(":")[::2] for item in stored["Xref"].split()[1:])["course.test"])


def ca_copy(handle, tmp_path) -> str:
    """The run's CA certificate, copied where the student's process may read it."""
    path = tmp_path / "ca.pem"
    shutil.copyfile(handle.nntp.ca_file, path)
    return str(path)


@pytest.mark.points(3, hint="over((first, last)) gives every article's message-id and references; the LAST "
                            "reference is the parent; walk the threads depth first, children in number order, "
                            "and decode_header each subject (chapter 3, 'Threads: the References header' and "
                            "'Decoding encoded subjects: decode_header').")
def test_thread_tree(student, lab_servers):
    """thread_tree() puts the seeded comp.lang.python in thread order with depths and decoded subjects."""
    tree = student.thread_tree(lab_servers.nntp.host, lab_servers.nntp.port, CLP)
    with news(lab_servers) as server:
        _, count, first, last, _ = server.group(CLP)
        _, overviews = server.over((first, last))
    numbers = sorted(number for _, number, _ in tree)
    assert numbers == [number for number, _ in overviews], f"thread_tree() gave articles {numbers}"
    # the first thread: 2 answers 1, 3 answers 2, 4 answers 3, and 5 answers 2 again
    assert [(depth, number) for depth, number, _ in tree[:6]] == [(0, 1), (1, 2), (2, 3), (3, 4), (2, 5), (0, 6)], \
        f"the first thread (articles 1-5) came out as {tree[:6]!r}"
    subjects = {number: nntplib.decode_header(fields["subject"]) for number, fields in overviews}
    wrong = [(number, subject) for _, number, subject in tree if subject != subjects[number]]
    assert not wrong, f"these subjects are not decoded to text: {wrong[:3]!r}"
    start = [number for _, number, _ in tree].index(10)
    assert [(d, n) for d, n, _ in tree[start:start + 4]] == [(0, 10), (1, 11), (2, 12), (2, 13)], \
        f"12 and 13 both answer 11, which answers 10; got {tree[start:start + 4]!r}"


@pytest.mark.points(1, hint="A reference to an article that is not in this group (or not on the server) cannot "
                            "be a parent here: the article starts a thread of its own (chapter 3, 'Threads: "
                            "the References header').")
def test_thread_tree_parent_outside_the_group(student, lab_writable):
    """A reply to an article of another group starts a thread; a reply to one of this group goes under it."""
    with news(lab_writable) as server:
        server.group("course.test")
        welcome_number, welcome_id = server.stat(1)[1:]
    inside = post(lab_writable, "Re: Welcome", welcome_id)
    outside = post(lab_writable, "Re: Reading a large file", "<20240304091500.t1a@example.test>")
    tree = student.thread_tree(lab_writable.nntp.host, lab_writable.nntp.port, "course.test")
    depth = {number: d for d, number, _ in tree}
    assert depth.get(outside) == 0, \
        f"article {outside} answers an article of comp.lang.python; its depth is {depth.get(outside)!r}, not 0"
    assert depth.get(inside) == depth.get(int(welcome_number), -9) + 1, \
        f"article {inside} answers article {welcome_number} of this group; tree: {tree!r}"


@pytest.mark.points(2, hint="Parse the article's lines with email.message_from_bytes(..., policy=email.policy."
                            "default): its headers are decoded for you and get_content() gives the body as text "
                            "(chapter 3, 'Reading an article: article').")
def test_read_text(student, lab_servers):
    """read_text() decodes the author, subject and body of an article in UTF-8 and quoted-printable."""
    author, subject, body = student.read_text(lab_servers.nntp.host, lab_servers.nntp.port,
                                              "<20240306083000.t3b@example.test>")
    assert author == "Łukasz Nowak <lukasz@example.test>", f"author: {author!r}"
    assert subject == "Re: Unicode in Python 3 — ça marche ?", f"subject: {subject!r}"
    assert 'len("zażółć gęślą jaźń")' in body, f"the body is not decoded to text: {body[:200]!r}"


@pytest.mark.points(1, hint="nntplib undoes the dot-stuffing of lines that start with a dot: use its lines as "
                            "they come (chapter 3, 'The protocol on the wire').")
def test_read_text_dots(student, lab_servers):
    """read_text() keeps lines that start with dots as the poster wrote them."""
    _, _, body = student.read_text(lab_servers.nntp.host, lab_servers.nntp.port, "<20240312090000.t7a@example.test>")
    assert "\n.\n..and this one starts with two dots.\n" in body.replace("\r\n", "\n"), f"body: {body!r}"


@pytest.mark.points(2, hint="NNTP_SSL(host, nntps_port, ssl_context=ssl.create_default_context(cafile=ca_file)), "
                            "login, post an article with a Message-ID of your own, then find its number in the "
                            "Xref header (chapter 3, 'Encrypted news: NNTP_SSL and login').")
def test_post_securely(student, lab_writable, tmp_path):
    """post_securely() posts a non-ASCII subject over NNTPS and returns the Message-ID and number."""
    info = lab_writable.nntp
    subject = f"Grüße aus dem Kurs {uuid.uuid4().hex[:6]}"
    message_id, number = student.post_securely(info.host, info.tls_ports["nntps"], ca_copy(lab_writable, tmp_path),
                                               "alice", "alice-pw", "Alice Example <alice@example.test>", "course.test",
                                               subject, "Hallo!\n")
    with news(lab_writable) as server:
        server.group("course.test")
        try:
            found = number_of(server, message_id)
        except nntplib.NNTPTemporaryError:
            pytest.fail(f"no article {message_id!r} is on the server")
        assert number == found, f"post_securely() says number {number}; the article is number {found}"
        _, over = server.over(message_id)
        got = nntplib.decode_header(over[0][1]["subject"])
        assert got == subject, f"the subject arrived as {got!r}"
        _, info_body = server.body(message_id)
        assert info_body.lines == [b"Hallo!"], f"the body arrived as {info_body.lines!r}"


@pytest.mark.points(1, hint="Let the server's 481 reach the caller, and verify the certificate against the CA "
                            "file you were given, not a default (chapter 3, 'Encrypted news: NNTP_SSL and login').")
def test_post_securely_refused(student, lab_writable, tmp_path):
    """A wrong password raises 481; a CA file that did not sign the server's certificate fails the handshake."""
    info = lab_writable.nntp
    with news(lab_writable) as server:
        before = server.group("course.test")[3]
    args = ("Alice <alice@example.test>", "course.test", "x", "y\n")
    with pytest.raises(nntplib.NNTPTemporaryError, match="^481"):
        student.post_securely(info.host, info.tls_ports["nntps"], ca_copy(lab_writable, tmp_path), "alice", "wrong",
                              *args)
    other_ca = ssl.get_default_verify_paths().cafile
    if other_ca and os.path.isfile(other_ca):  # the system's CAs never signed the course's certificates
        with pytest.raises(ssl.SSLError):
            student.post_securely(info.host, info.tls_ports["nntps"], other_ca, "alice", "alice-pw", *args)
    with news(lab_writable) as server:
        assert server.group("course.test")[3] == before, "an article was posted all the same"
