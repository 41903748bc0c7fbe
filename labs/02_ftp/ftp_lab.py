"""Lab 2, FTP: a download that fails clearly, a mirror, a resume and an upload.

Every function takes the server's address and the login; nothing here
knows a fixed host, so the grader can point your code at its own server.
Use ftplib; transfer files in binary mode (retrbinary/storbinary).
"""

from __future__ import annotations

import ftplib
import os
import posixpath
from pathlib import Path


class DownloadError(Exception):
    """A download failed. `reason` says why, for a program; the message says it for people.

    reason is one of: "connect" (no server there: the connection is refused,
    the server stays silent past the timeout, or the host name does not
    resolve; all three are OSErrors), "login" (user or password
    refused), "folder" (the remote folder does not exist), "file" (the
    remote file does not exist), "transfer" (the transfer broke off).
    This class is given: raise it, do not change it.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def download(host: str, port: int, remote_path: str, local_path: str, user: str = "anonymous",
             password: str = "", timeout: float = 10.0) -> int:
    """Download remote_path (e.g. "pub/docs/hello.txt") to local_path; return the number of bytes.

    Change to the remote folder first, then RETR the file name, so a missing
    folder and a missing file can be told apart. Every failure raises
    DownloadError with its reason (see the class). A failed download must
    not leave a partial or empty local file behind.
    """
    raise NotImplementedError("TODO: write download()")


def mirror(host: str, port: int, remote_dir: str, local_dir: str, user: str = "anonymous",
           password: str = "", timeout: float = 10.0) -> list[str]:
    """Copy the remote folder remote_dir, with all its sub-folders, into local_dir.

    Return the relative paths (with "/") of the files downloaded, sorted.
    Use MLSD (ftp.mlsd()) to tell files from folders; keep file names
    exactly, including non-ASCII ones.
    """
    raise NotImplementedError("TODO: write mirror()")


def resume_download(host: str, port: int, remote_path: str, local_path: str, user: str = "anonymous",
                    password: str = "", timeout: float = 10.0) -> int:
    """Finish an interrupted download: fetch only the bytes local_path does not have yet.

    Send REST with the local file's size (retrbinary's `rest` argument) and
    append to the file. Return the number of bytes received this time (0 if
    the file was already complete). If local_path does not exist, download
    it all.
    """
    raise NotImplementedError("TODO: write resume_download()")


def upload(host: str, port: int, local_path: str, remote_path: str, user: str, password: str,
           timeout: float = 10.0) -> int:
    """Upload local_path to remote_path (in binary mode); return the size the server reports.

    After STOR, ask the server for the file's SIZE and raise IOError (OSError)
    if it differs from the local file's size.
    """
    raise NotImplementedError("TODO: write upload()")
