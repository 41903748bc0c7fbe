"""Scratch space for a chapter's examples, cleaned before the chapter teaches how.

A chapter that uploads, sends, moves and deletes works only on things of its
own (an FTP folder such as ``/ch02-scratch``; mail tagged ``[ch05]`` in the
Subject and folders named ``Ch05-...``) and must start from the same state on
every run, even after a run stopped half-way. Cleaning them takes calls the
chapter teaches later (a recursive MLSD walk, DELE and RMD; UID SEARCH, STORE
and EXPUNGE), so its setup cell calls one of these instead:

    SCRATCH = scratch.fresh_ftp_folder(servers.ftp, "alice", "/ch02-scratch")
    reset_scratch(servers, "ch05")

Both talk to the server like any client (nothing here touches the server's
files directly): a student's own files and mail and the seeded data stay.
"""

from __future__ import annotations

import ftplib
import imaplib


def remove_ftp_tree(ftp: ftplib.FTP, path: str) -> None:
    """Delete the remote folder `path` and everything in it, like `rm -r`."""
    for name, facts in ftp.mlsd(path, facts=["type"]):
        if facts["type"] == "file":
            ftp.delete(f"{path}/{name}")
        elif facts["type"] == "dir":  # servers may also list "cdir" and "pdir" (. and ..): skip them
            remove_ftp_tree(ftp, f"{path}/{name}")
    ftp.rmd(path)


def fresh_ftp_folder(service, user: str, path: str, timeout: float = 10) -> str:
    """Make sure `path` does not exist in `user`'s FTP home (remove what a run left); return path.

    `service` is the handle's FTP entry (servers.ftp): its address and accounts.
    The folder is left absent, not empty: the chapter makes it with mkd().
    """
    parent, _, name = path.rstrip("/").rpartition("/")
    with ftplib.FTP(timeout=timeout) as ftp:
        ftp.connect(service.host, service.port)
        ftp.login(user, service.accounts[user])
        if name in ftp.nlst(parent or "/"):
            remove_ftp_tree(ftp, path)
    return path


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
