"""Undo what a chapter left in a mailbox, so that it can run again from the top.

A chapter marks everything it sends with its tag (``[ch05]`` in the Subject)
and names every folder it makes after itself (``Ch05-...``). reset_scratch()
removes those and nothing else, over IMAP like any client would: a student's
own mail and the seeded mail stay. The chapters call it in their first cell,
before they have taught the commands it uses (UID SEARCH, STORE, EXPUNGE).
"""

from __future__ import annotations

import imaplib


def reset_scratch(servers, chapter: str, user: str = "alice") -> list[str]:
    """Remove the chapter's tagged messages from INBOX and its own folders; return what went.

    `chapter` is like "ch05": messages whose Subject holds "[ch05]" and
    folders named "Ch05-..." (with their subfolders) are removed.
    """
    tag, prefix = f"[{chapter}]", chapter.capitalize() + "-"
    removed = []
    with imaplib.IMAP4(servers.imap.host, servers.imap.port, timeout=10) as imap:
        imap.login(user, servers.imap.accounts[user])
        imap.select("INBOX")
        uids = imap.uid("SEARCH", "SUBJECT", f'"{tag}"')[1][0].split()
        if uids:
            message_set = b",".join(uids)
            imap.uid("STORE", message_set, "+FLAGS.SILENT", r"(\Deleted)")
            imap.uid("EXPUNGE", message_set)  # UIDPLUS: only these, not other messages marked \Deleted
            removed.append(f"{len(uids)} {tag} message(s) from INBOX")
        imap.unselect()
        listing = imap.list('""', f"{prefix}*")[1]
        names = [line.rsplit(b' "." ', 1)[1].strip(b'"').decode() for line in listing if line]
        for name in sorted(names, key=len, reverse=True):  # subfolders before their parents
            imap.delete(f'"{name}"')
            removed.append(f"folder {name}")
    return removed
