"""Lab 3 (NNTP): newest subjects, finding articles, posting a follow-up in 03_nntp/nntp_lab.py.

The expected answers are computed here with nntplib from the same server,
so the tests hold whatever the seeded articles are.
"""

from __future__ import annotations

import sys
import uuid

import pytest

if sys.version_info >= (3, 13):
    pytest.importorskip("nntplib", reason="nntplib comes from the standard-nntplib package on 3.13+")
import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # removed in 3.13; the course installs it back
    import nntplib  # noqa: E402

pytestmark = pytest.mark.lab("nntp")
GROUP = "comp.lang.python"


def reference_overview(handle, group):
    with nntplib.NNTP(handle.nntp.host, handle.nntp.port, timeout=10) as news:
        _, _, first, last, _ = news.group(group)
        _, overviews = news.over((first, last))
    return overviews


def post(handle, subject: str, from_: str = "grader@example.test", extra: tuple[str, ...] = (),
         group: str = "course.test") -> str:
    """Post an article of this test's own to the run's server; return its Message-ID.

    Only the server the test gives has it, so a module that talks to a fixed
    address (the course's default ports) cannot find it."""
    message_id = f"<{uuid.uuid4().hex}@grader.example.test>"
    lines = [f"From: {from_}", f"Newsgroups: {group}", f"Subject: {subject}", f"Message-ID: {message_id}",
             *extra, "", "posted by the lab's tests"]
    with nntplib.NNTP(handle.nntp.host, handle.nntp.port, timeout=10) as news:
        news.post([line.encode() for line in lines])
    return message_id


def head_fields(handle, message_id) -> tuple[dict, str]:
    """The article's headers, unfolded (RFC 5536 headers fold like RFC 5322's), and its whole text."""
    with nntplib.NNTP(handle.nntp.host, handle.nntp.port, timeout=10) as news:
        _, info = news.article(message_id)
    text = b"\n".join(info.lines).decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0].replace("\n ", " ").replace("\n\t", " ")
    fields = {}
    for line in head.split("\n"):
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), value.strip())
    return fields, text


@pytest.mark.points(3, hint="GROUP gives the first and last article numbers; ask the overview (OVER) for the last "
                            "n only, newest first, and decode the encoded-words: see chapter 3, 'Listing a group: "
                            "over' and 'Decoding encoded subjects: decode_header'.")
def test_newest_subjects(student, lab_writable):
    """newest_subjects() lists the n newest subjects of the server it is given, newest first, decoded."""
    token = uuid.uuid4().hex[:8]
    post(lab_writable, f"first {token}")
    post(lab_writable, f"=?utf-8?q?zweit=C3=A9s_{token}?=")
    post(lab_writable, f"=?utf-8?b?{__import__('base64').b64encode(f'dritte ✓ {token}'.encode()).decode()}?=")
    expected = [f"dritte ✓ {token}", f"zweités {token}", f"first {token}"]
    got = student.newest_subjects(lab_writable.nntp.host, lab_writable.nntp.port, "course.test", 3)
    assert got == expected, f"the three newest subjects are {expected!r}; newest_subjects() returned {got!r}"


@pytest.mark.points(1, hint="A group may hold fewer articles than asked for: never ask for numbers below its first "
                            "(see chapter 3, 'Selecting a group: GROUP and its reply').")
def test_newest_subjects_small_group(student, lab_writable):
    """Asking for more subjects than a group has returns them all."""
    post(lab_writable, f"one more {uuid.uuid4().hex[:8]}")
    overviews = reference_overview(lab_writable, "course.test")
    got = student.newest_subjects(lab_writable.nntp.host, lab_writable.nntp.port, "course.test", 1000)
    assert isinstance(got, list) and len(got) == len(overviews), \
        f"the group has {len(overviews)} articles, newest_subjects() returned {got!r}"


@pytest.mark.points(2, hint="Compare decoded values (decode_header) in one case (lower()), and turn the article "
                            "numbers into Message-IDs: see chapter 3, 'One header of many articles: xhdr'.")
def test_find_articles(student, lab_writable):
    """find_articles() finds by From or Subject, ignoring case, on decoded values (non-ASCII names too)."""
    token = uuid.uuid4().hex[:8]
    first = post(lab_writable, f"files {token}", from_=f"=?utf-8?q?J=C3=BCrgen_M=C3=BCller-{token}?= <jm@example.test>")
    post(lab_writable, f"other {token}", from_=f"Ada-{token} <ada@example.test>")
    third = post(lab_writable, f"Re: FILES {token}", from_=f"=?utf-8?q?M=C3=BCller-{token}?= <m@example.test>")
    host, port = lab_writable.nntp.host, lab_writable.nntp.port
    for header, text, expected in (("From", f"MÜLLER-{token.upper()}", [first, third]),
                                   ("Subject", f"files {token}", [first, third]),
                                   ("From", f"nobody-{token}", [])):
        got = student.find_articles(host, port, "course.test", header, text)
        assert got == expected, f"{header} containing {text!r}: the group has {expected!r}, find_articles() returned {got!r}"


@pytest.mark.points(1, hint="The overview holds only a few headers (LIST OVERVIEW.FMT); HDR/XHDR reads any header "
                            "(see chapter 3, 'One header of many articles: xhdr').")
def test_find_articles_other_header(student, lab_writable):
    """find_articles() also finds by a header that is not in the overview."""
    token = uuid.uuid4().hex[:8]
    tagged = post(lab_writable, f"tagged {token}", extra=(f"Organization: Lab {token} Ltd",))
    post(lab_writable, f"untagged {token}", extra=("Organization: Somewhere else",))
    got = student.find_articles(lab_writable.nntp.host, lab_writable.nntp.port, "course.test", "Organization",
                                f"lab {token}")
    assert got == [tagged], f"Organization containing 'lab {token}': expected [{tagged!r}], got {got!r}"


def welcome_article(handle) -> dict:
    """The cross-posted welcome article of course.test, whose Followup-To says where replies go."""
    return reference_overview(handle, "course.test")[0][1]


@pytest.mark.points(2, hint="A follow-up goes to the parent's Followup-To (else its Newsgroups), with 'Re: ' before "
                            "the subject once: see chapter 3, 'Posting a follow-up'.")
def test_post_followup(student, lab_writable):
    """post_followup() posts the body to the right group with a "Re:" subject and its own Message-ID."""
    welcome = welcome_article(lab_writable)
    token = uuid.uuid4().hex
    new_id = student.post_followup(lab_writable.nntp.host, lab_writable.nntp.port, welcome["message-id"],
                                   f"Thanks! {token}", "alice@example.test")
    fields, text = head_fields(lab_writable, new_id)
    assert token in text, f"the article {new_id} does not hold the body"
    assert fields.get("newsgroups") == "course.test", \
        f"Newsgroups: {fields.get('newsgroups')!r}; the parent says Followup-To: course.test"
    subject = nntplib.decode_header(fields.get("subject", ""))
    assert subject == "Re: " + nntplib.decode_header(welcome["subject"]), f"Subject: {subject!r}"


@pytest.mark.points(1, hint="References is the parent's References followed by the parent's Message-ID, and a reply "
                            "to a reply does not stack 'Re:' (see chapter 3, 'Threads: the References header').")
def test_followup_references(student, lab_writable):
    """References chain the thread, also for a reply to a reply, and "Re:" is not stacked."""
    host, port = lab_writable.nntp.host, lab_writable.nntp.port
    parent = post(lab_writable, f"question {uuid.uuid4().hex[:8]}")
    first = student.post_followup(host, port, parent, "an answer", "alice@example.test")
    second = student.post_followup(host, port, first, "a second answer", "bob@example.test")
    fields, _ = head_fields(lab_writable, second)
    assert fields.get("references", "").split() == [parent, first], \
        f"the reply to a reply has References: {fields.get('references')!r}, expected {parent} {first}"
    assert not nntplib.decode_header(fields.get("subject", "")).lower().startswith("re: re:"), \
        f"Subject stacks 'Re:': {fields.get('subject')!r}"


@pytest.mark.points(1, hint="A long header is folded over several lines (a continuation line starts with white "
                            "space): unfold it before reading its value (see chapter 3, 'Threads: the References "
                            "header').")
def test_followup_folded_references(student, lab_writable):
    """A parent whose References header is folded over lines keeps its whole chain in the follow-up."""
    chain = [f"<{uuid.uuid4().hex}@old.example.test>" for _ in range(4)]
    parent = post(lab_writable, f"long thread {uuid.uuid4().hex[:8]}",
                  extra=(f"References: {chain[0]} {chain[1]}", f" {chain[2]}", f"\t{chain[3]}"))
    new_id = student.post_followup(lab_writable.nntp.host, lab_writable.nntp.port, parent, "me too",
                                   "carol@example.test")
    fields, _ = head_fields(lab_writable, new_id)
    assert fields.get("references", "").split() == chain + [parent], \
        f"the parent's References is folded over 3 lines; the follow-up has References: {fields.get('references')!r}"
