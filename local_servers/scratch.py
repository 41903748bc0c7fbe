"""A clean scratch folder for a chapter's examples, made before the chapter teaches how.

A chapter that uploads, renames and deletes works in a folder of its own and
must start from the same state on every run, even after a run stopped half-way.
Emptying a folder tree takes calls the chapter only teaches later (a recursive
MLSD walk, DELE, RMD), so its setup cell calls this instead:

    SCRATCH = scratch.fresh_ftp_folder(servers.ftp, "alice", "/ch02-scratch")

It talks to the server like any client (nothing here touches the server's
files directly), so it works the same against servers on another machine.
"""

from __future__ import annotations

import ftplib


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
