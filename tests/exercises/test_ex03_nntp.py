"""The news chapter's exercise solutions, run against the course's servers."""

from __future__ import annotations

import ssl
import sys
import warnings

import pytest

if sys.version_info >= (3, 13):
    pytest.importorskip("nntplib", reason="nntplib comes from the standard-nntplib package on 3.13+")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib  # noqa: E402

CLP = "comp.lang.python"


@pytest.fixture
def news_only(servers_factory):
    """A news server with freshly seeded data, for the tests that post."""
    return servers_factory(names=["nntp"])


def test_thread_tree_of_the_seeded_group(servers, solution):
    tree = solution.thread_tree(servers.nntp.host, servers.nntp.port, CLP)
    assert sorted(number for _, number, _ in tree) == list(range(1, 31))
    # the first thread: 2 answers 1, 3 answers 2, 4 answers 3, and 5 answers 2 again
    assert [(depth, number) for depth, number, _ in tree[:6]] == [(0, 1), (1, 2), (2, 3), (3, 4), (2, 5), (0, 6)]
    assert tree[0][2] == "Reading a large file line by line"
    # the Unicode thread: 11 answers 10; 12 and 13 both answer 11, in number order
    start = [number for _, number, _ in tree].index(10)
    assert [(d, n) for d, n, _ in tree[start:start + 4]] == [(0, 10), (1, 11), (2, 12), (2, 13)]
    assert tree[start][2] == "Unicode in Python 3 — ça marche ?"
    assert sum(1 for depth, _, _ in tree if depth == 0) == 8


def test_thread_tree_parent_outside_the_group(news_only, solution):
    host, port = news_only.nntp.host, news_only.nntp.port
    with nntplib.NNTP(host, port, timeout=10) as news:
        news.group("course.test")
        welcome_id = news.stat(1)[2]
        for references, subject in ((welcome_id, "Re: Welcome"),
                                    ("<20240304091500.t1a@example.test>", "Re: Reading a large file")):
            news.post(f"From: a@example.test\r\nNewsgroups: course.test\r\nSubject: {subject}\r\n"
                      f"References: {references}\r\n\r\nHi\r\n".encode())
    tree = solution.thread_tree(host, port, "course.test")
    # the reply to an article of comp.lang.python starts a thread of its own
    assert [(d, n) for d, n, _ in tree] == [(0, 1), (1, 2), (0, 3)]


def test_read_text_decodes_headers_and_body(servers, solution):
    author, subject, body = solution.read_text(servers.nntp.host, servers.nntp.port,
                                               "<20240306083000.t3b@example.test>")
    assert author == "Łukasz Nowak <lukasz@example.test>"
    assert subject == "Re: Unicode in Python 3 — ça marche ?"
    assert 'len("zażółć gęślą jaźń")' in body
    _, _, dots = solution.read_text(servers.nntp.host, servers.nntp.port, "<20240312090000.t7a@example.test>")
    assert "\n.\n..and this one starts with two dots.\n" in dots.replace("\r\n", "\n")


def test_post_securely_over_nntps(news_only, solution):
    info = news_only.nntp
    message_id, number = solution.post_securely(info.host, info.tls_ports["nntps"], info.ca_file, "alice", "alice-pw",
                                                "Alice Example <alice@example.test>", "course.test",
                                                "Grüße aus dem Kurs", "Hallo!\n")
    with nntplib.NNTP(info.host, info.port, timeout=10) as news:
        assert news.group("course.test")[3] == number == 2
        resp, over = news.over(message_id)
        assert nntplib.decode_header(over[0][1]["subject"]) == "Grüße aus dem Kurs"
        assert news.body(message_id)[1].lines == [b"Hallo!"]


def test_post_securely_refuses_a_wrong_password_or_certificate(news_only, servers, solution):
    info = news_only.nntp
    args = ("Alice <alice@example.test>", "course.test", "x", "y\n")
    with pytest.raises(nntplib.NNTPTemporaryError, match="^481"):
        solution.post_securely(info.host, info.tls_ports["nntps"], info.ca_file, "alice", "wrong", *args)
    # another set of servers has another CA: its file must not validate this server's certificate
    with pytest.raises(ssl.SSLCertVerificationError):
        solution.post_securely(info.host, info.tls_ports["nntps"], servers.ca_file, "alice", "alice-pw", *args)
    with nntplib.NNTP(info.host, info.port, timeout=10) as news:
        assert news.group("course.test")[1] == 1  # nothing was posted
