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


@pytest.mark.points(3, hint="group() gives first and last; over((last - n + 1, last)); "
                            "nntplib.decode_header() on each subject; newest (highest number) first.")
def test_newest_subjects(student, lab_servers):
    """newest_subjects() lists the n newest subjects, newest first, decoded (no =?utf-8?...?= left)."""
    overviews = reference_overview(lab_servers, GROUP)
    expected = [nntplib.decode_header(f["subject"]) for _, f in sorted(overviews, key=lambda o: -o[0])[:5]]
    got = student.newest_subjects(lab_servers.nntp.host, lab_servers.nntp.port, GROUP, 5)
    assert got == expected, f"expected {expected!r}, got {got!r}"


@pytest.mark.points(1, hint="Ask for at most as many articles as the group has.")
def test_newest_subjects_small_group(student, lab_servers):
    """Asking for more subjects than a group has returns them all."""
    overviews = reference_overview(lab_servers, "course.announce")
    got = student.newest_subjects(lab_servers.nntp.host, lab_servers.nntp.port, "course.announce", 1000)
    assert len(got) == len(overviews), f"the group has {len(overviews)} articles, got {len(got)} subjects"


@pytest.mark.points(3, hint="xhdr(header, 'first-last') returns (number, value) pairs; decode the value, "
                            "compare in lower case, then stat(number) gives the Message-ID.")
def test_find_articles(student, lab_servers):
    """find_articles() finds by a header, ignoring case, on decoded values (non-ASCII names too)."""
    overviews = reference_overview(lab_servers, GROUP)
    for header, text in (("From", "ALICE"), ("From", "müller"), ("Subject", "file")):
        expected = [f["message-id"] for _, f in overviews
                    if text.lower() in nntplib.decode_header(f[header.lower()]).lower()]
        got = student.find_articles(lab_servers.nntp.host, lab_servers.nntp.port, GROUP, header, text)
        assert got == expected, f"{header} containing {text!r}: expected {expected!r}, got {got!r}"
    assert student.find_articles(lab_servers.nntp.host, lab_servers.nntp.port, GROUP, "From", "nobody-xyz") == []


@pytest.mark.points(4, hint="Read the parent's HEAD; Newsgroups = its Followup-To or Newsgroups; Subject = 'Re: ' "
                            "once; References = parent's References + its Message-ID.")
def test_post_followup(student, lab_writable):
    """post_followup() posts a correct follow-up: group, Re: subject, References chain, own Message-ID."""
    host, port = lab_writable.nntp.host, lab_writable.nntp.port
    with nntplib.NNTP(host, port, timeout=10) as news:
        # The cross-posted welcome article, whose Followup-To says where replies go.
        _, _, tfirst, tlast, _ = news.group("course.test")
        _, test_overviews = news.over((tfirst, tlast))
        welcome = test_overviews[0][1]
    token = uuid.uuid4().hex
    new_id = student.post_followup(host, port, welcome["message-id"], f"Thanks! {token}", "alice@example.test")
    with nntplib.NNTP(host, port, timeout=10) as news:
        _, info = news.article(new_id)
        text = b"\n".join(info.lines).decode("utf-8", "replace")
        headers = {}
        for line in text.split("\n\n", 1)[0].replace("\n ", " ").replace("\n\t", " ").split("\n"):
            name, _, value = line.partition(":")
            headers.setdefault(name.lower(), value.strip())
    assert token in text, "the body is not in the posted article"
    assert headers.get("newsgroups") == "course.test", f"Newsgroups: {headers.get('newsgroups')!r} (Followup-To?)"
    assert nntplib.decode_header(headers.get("subject", "")) == "Re: " + nntplib.decode_header(welcome["subject"])
    assert headers.get("references", "").split()[-1:] == [welcome["message-id"]], "References must end with the parent"
    # A reply to a reply keeps the whole chain and does not stack "Re:".
    second = student.post_followup(host, port, new_id, f"Me too {token}", "bob@example.test")
    with nntplib.NNTP(host, port, timeout=10) as news:
        _, info = news.head(second)
    head = b"\n".join(info.lines).decode("utf-8", "replace").replace("\n ", " ").replace("\n\t", " ")
    fields = {}
    for line in head.split("\n"):
        name, _, value = line.partition(":")
        fields.setdefault(name.lower(), value.strip())
    assert fields["references"].split() == headers["references"].split() + [new_id], "References lost the thread's chain"
    assert not nntplib.decode_header(fields["subject"]).lower().startswith("re: re:"), "Subject stacks 'Re:'"
