"""Solutions to the exercises of notebooks/02_ftp.ipynb."""

from __future__ import annotations

import ftplib
from pathlib import Path


def _session(address: tuple[str, int], user: str = "anonymous", password: str = "") -> ftplib.FTP:
    """A logged-in ftplib session (use it in a `with` block, which quits at the end)."""
    ftp = ftplib.FTP(timeout=10)
    ftp.connect(*address)
    try:
        ftp.login(user, password)
    except BaseException:
        ftp.close()
        raise
    return ftp


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


def mirror(address: tuple[str, int], remote_dir: str, local_dir, user: str = "anonymous",
           password: str = "") -> list[str]:
    """Exercise 1: download every file under remote_dir (recursively) into local_dir.

    Returns the sorted relative paths downloaded, with "/" between folders.
    A file that fails half-way is removed before the error goes on.
    """
    fetched: list[str] = []

    def walk(ftp: ftplib.FTP, remote: str, local: Path, prefix: str) -> None:
        local.mkdir(parents=True, exist_ok=True)
        for name, facts in sorted(ftp.mlsd(remote, facts=["type"])):
            if facts["type"] == "dir":
                walk(ftp, _join(remote, name), local / name, f"{prefix}{name}/")
            elif facts["type"] == "file":
                target = local / name
                try:
                    with open(target, "wb") as out:
                        ftp.retrbinary(f"RETR {_join(remote, name)}", out.write)
                except BaseException:
                    target.unlink(missing_ok=True)
                    raise
                fetched.append(prefix + name)
            # other types ("cdir", "pdir": the folder itself and its parent) are skipped

    with _session(address, user, password) as ftp:
        walk(ftp, remote_dir, Path(local_dir), "")
    return sorted(fetched)


def resume_download(address: tuple[str, int], remote_path: str, local_path, user: str = "anonymous",
                    password: str = "") -> int:
    """Exercise 2: continue a download from where the local file ends (REST); return the bytes fetched."""
    local_path = Path(local_path)
    offset = local_path.stat().st_size if local_path.exists() else 0
    fetched = 0
    with _session(address, user, password) as ftp:
        ftp.voidcmd("TYPE I")  # SIZE and REST count bytes: binary mode
        size = ftp.size(remote_path)
        if offset > size:
            raise ValueError(f"the local file ({offset} bytes) is longer than the remote one ({size} bytes)")
        if offset == size:
            return 0  # complete already
        with open(local_path, "ab") as out:
            def append(block: bytes) -> None:
                nonlocal fetched
                out.write(block)
                fetched += len(block)

            ftp.retrbinary(f"RETR {remote_path}", append, rest=offset)
    return fetched


def _ensure_folder(ftp: ftplib.FTP, path: str) -> None:
    """mkd(path), unless it exists already (then mkd's 550 is no error)."""
    try:
        ftp.mkd(path)
    except ftplib.error_perm:
        here = ftp.pwd()
        ftp.cwd(path)  # raises error_perm again if the folder really could not be made
        ftp.cwd(here)


def upload_tree(address: tuple[str, int], user: str, password: str, local_dir, remote_dir: str) -> list[str]:
    """Exercise 3: recreate local_dir's tree under remote_dir; return the sorted remote paths stored."""
    stored: list[str] = []

    def walk(ftp: ftplib.FTP, local: Path, remote: str) -> None:
        _ensure_folder(ftp, remote)
        for entry in sorted(local.iterdir()):
            target = _join(remote, entry.name)
            if entry.is_dir():
                walk(ftp, entry, target)
            elif entry.is_file():
                with open(entry, "rb") as source:
                    ftp.storbinary(f"STOR {target}", source)
                stored.append(target)

    with _session(address, user, password) as ftp:
        walk(ftp, Path(local_dir), remote_dir.rstrip("/") or "/")
    return sorted(stored)


def gbk_texts(address: tuple[str, int], folder: str) -> dict[str, str]:
    """Exercise 4: {file name: text} of a folder whose names and texts are GBK.

    The encoding is given when the FTP object is made, because ftplib decodes
    the control connection with it from the greeting on; "OPTS UTF8 OFF"
    asks the course's server for GBK, as an older server would send anyway.
    """
    host, port = address
    texts = {}
    with ftplib.FTP(encoding="gbk", timeout=10) as ftp:
        ftp.connect(host, port)
        ftp.login()
        ftp.sendcmd("OPTS UTF8 OFF")
        for name, facts in ftp.mlsd(folder, facts=["type"]):
            if facts["type"] != "file":
                continue
            lines: list[str] = []
            ftp.retrlines(f"RETR {_join(folder, name)}", lines.append)
            texts[name] = "\n".join(lines) + "\n"
    return texts
