"""Eva's FTP lab: the reference layout, with my own error handling."""

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
    folder, name = posixpath.split(remote_path)
    try:
        ftp = ftplib.FTP()
        ftp.connect(host, port, timeout=timeout)
    except ConnectionRefusedError as exc:  # nobody listening
        raise DownloadError("connect", f"cannot connect to {host}:{port}: {exc}") from exc
    try:
        try:
            ftp.login(user, password)
        except ftplib.error_perm as exc:
            raise DownloadError("login", f"login as {user!r} refused: {exc}") from exc
        if folder:
            try:
                ftp.cwd(folder)
            except ftplib.error_perm as exc:
                raise DownloadError("folder", f"no folder {folder!r} on the server: {exc}") from exc
        received = 0
        try:
            with open(local_path, "wb") as out:
                def write(block: bytes) -> None:
                    nonlocal received
                    out.write(block)
                    received += len(block)
                ftp.retrbinary(f"RETR {name}", write)
        except ftplib.error_perm as exc:
            _remove(local_path)
            raise DownloadError("file", f"no file {remote_path!r} on the server: {exc}") from exc
        except (OSError, EOFError, ftplib.Error) as exc:
            _remove(local_path)
            raise DownloadError("transfer", f"the transfer of {remote_path!r} failed: {exc}") from exc
        except BaseException:
            _remove(local_path)
            raise
        return received
    finally:
        _close(ftp)


def mirror(host: str, port: int, remote_dir: str, local_dir: str, user: str = "anonymous",
           password: str = "", timeout: float = 10.0) -> list[str]:
    """Copy the remote folder remote_dir, with all its sub-folders, into local_dir.

    Return the relative paths (with "/") of the files downloaded, sorted.
    Use MLSD (ftp.mlsd()) to tell files from folders; keep file names
    exactly, including non-ASCII ones.
    """
    copied: list[str] = []
    with ftplib.FTP() as ftp:
        ftp.connect(host, port, timeout=timeout)
        ftp.login(user, password)

        def walk(remote: str, relative: str) -> None:
            Path(local_dir, relative).mkdir(parents=True, exist_ok=True)
            for name, facts in sorted(ftp.mlsd(remote, facts=["type"])):
                kind = facts.get("type")
                if kind == "dir":
                    walk(posixpath.join(remote, name), posixpath.join(relative, name))
                elif kind == "file":
                    rel = posixpath.join(relative, name) if relative else name
                    with open(Path(local_dir, rel), "wb") as out:
                        ftp.retrbinary(f"RETR {posixpath.join(remote, name)}", out.write)
                    copied.append(rel)

        walk(remote_dir, "")
    return sorted(copied)


def resume_download(host: str, port: int, remote_path: str, local_path: str, user: str = "anonymous",
                    password: str = "", timeout: float = 10.0) -> int:
    """Finish an interrupted download: fetch only the bytes local_path does not have yet.

    Send REST with the local file's size (retrbinary's `rest` argument) and
    append to the file. Return the number of bytes received this time (0 if
    the file was already complete). If local_path does not exist, download
    it all.
    """
    have = os.path.getsize(local_path) if os.path.exists(local_path) else 0
    received = 0
    with ftplib.FTP() as ftp:
        ftp.connect(host, port, timeout=timeout)
        ftp.login(user, password)
        ftp.voidcmd("TYPE I")
        if have and have >= ftp.size(remote_path):
            return 0
        with open(local_path, "ab") as out:
            def write(block: bytes) -> None:
                nonlocal received
                out.write(block)
                received += len(block)
            ftp.retrbinary(f"RETR {remote_path}", write, rest=have or None)
    return received


def upload(host: str, port: int, local_path: str, remote_path: str, user: str, password: str,
           timeout: float = 10.0) -> int:
    """Upload local_path to remote_path (in binary mode); return the size the server reports.

    After STOR, ask the server for the file's SIZE and raise IOError (OSError)
    if it differs from the local file's size.
    """
    size = os.path.getsize(local_path)
    with ftplib.FTP() as ftp:
        ftp.connect(host, port, timeout=timeout)
        ftp.login(user, password)
        with open(local_path, "rb") as source:
            ftp.storbinary(f"STOR {remote_path}", source)
        ftp.voidcmd("TYPE I")
        remote_size = ftp.size(remote_path)
    if remote_size != size:
        raise OSError(f"uploaded {size} bytes but the server has {remote_size}")
    return remote_size


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _close(ftp: ftplib.FTP) -> None:
    try:
        ftp.quit()
    except (OSError, EOFError, ftplib.Error):
        ftp.close()
