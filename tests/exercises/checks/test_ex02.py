"""check("ex02"): the exercises of chapter 2 (FTP), graded like a lab.

The student's answers are exercises/ex02_ftp.py in their labs folder
(labs/exercises/ holds the starter, solutions/exercises/ the reference).
Each function runs in the student's process, against this run's own FTP
server; the expected values come from that server's files on disk.
"""

from __future__ import annotations

import ftplib
import hashlib
import uuid

import pytest

from grader.helpers import data_dir

pytestmark = pytest.mark.lab("ex02")

MIB = 1024 * 1024


def address(handle) -> tuple[str, int]:
    return handle.ftp.host, handle.ftp.port


def public(handle, path: str) -> bytes:
    """A file of the anonymous tree, read from the server's disk."""
    return (data_dir(handle, "ftp") / "public" / path.lstrip("/")).read_bytes()


@pytest.mark.points(2, hint="Walk the tree: list each folder (mlsd tells files from folders), go into each "
                            "folder, retrbinary each file into the same place locally (chapter 2, 'Downloading "
                            "every file of a folder').")
def test_mirror(student, lab_servers, tmp_path):
    """mirror() downloads every file under /pub/docs, subfolders too, and returns their relative paths."""
    got = student.mirror(address(lab_servers), "/pub/docs", tmp_path / "docs")
    tree = data_dir(lab_servers, "ftp") / "public" / "pub" / "docs"
    expected = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    assert got == expected, f"mirror() returned {got!r}; the folder holds {expected!r}"
    wrong = [name for name in expected
             if not (tmp_path / "docs" / name).is_file()
             or (tmp_path / "docs" / name).read_bytes() != public(lab_servers, f"pub/docs/{name}")]
    assert not wrong, f"these files are missing or differ from the server's: {wrong}"


@pytest.mark.points(2, hint="Open the local file for appending and ask the server to start at its size, as the "
                            "exercise says (REST; chapter 2, 'Downloading: retrlines, retrbinary, and callbacks').")
def test_resume_download(student, lab_servers, tmp_path):
    """resume_download() fetches only the rest of a file cut after 1 MiB, then nothing more."""
    large, size = lab_servers.ftp.extra["large_file"], lab_servers.ftp.extra["large_file_size"]
    local = tmp_path / "large.bin"
    local.write_bytes(public(lab_servers, large)[:MIB])
    fetched = student.resume_download(address(lab_servers), large, local)
    assert fetched == size - MIB, f"{MIB} of {size} bytes were there; resume_download() says it fetched {fetched}"
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    assert digest == lab_servers.ftp.extra["large_file_sha256"], \
        f"the resumed file has {local.stat().st_size} bytes and differs from the server's ({size} bytes)"
    again = student.resume_download(address(lab_servers), large, local)
    assert again == 0, f"the file was complete, yet resume_download() fetched {again} bytes"


@pytest.mark.points(1, hint="No local file means an offset of 0: fetch it all (chapter 2, 'Downloading: "
                            "retrlines, retrbinary, and callbacks').")
def test_resume_download_from_nothing(student, lab_servers, tmp_path):
    """resume_download() without a local file fetches the whole (binary) file."""
    local = tmp_path / "gradient.png"
    fetched = student.resume_download(address(lab_servers), "/pub/images/gradient.png", local)
    expected = public(lab_servers, "pub/images/gradient.png")
    assert local.is_file() and local.read_bytes() == expected, \
        f"the local file differs from the server's {len(expected)} bytes (resume_download() returned {fetched!r})"
    assert fetched == len(expected), f"resume_download() returned {fetched!r}, it fetched {len(expected)} bytes"


@pytest.mark.points(2, hint="mkd each folder (a 550 for one that exists is fine), storbinary each file "
                            "(chapter 2, 'Uploading: storbinary and storlines' and 'Managing files and folders: "
                            "rename, delete, mkd, rmd').")
def test_upload_tree(student, lab_writable, tmp_path):
    """upload_tree() recreates folders and files in carol's home, and can run again over them."""
    tree = {"a.txt": b"alpha\n", "sub/b.bin": bytes(range(256)), "sub/deeper/\u00e7.txt": "\u00e7a va\n".encode()}
    for relative, content in tree.items():
        (tmp_path / "up" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "up" / relative).write_bytes(content)
    remote = f"/ex02-{uuid.uuid4().hex[:8]}"
    expected = sorted(f"{remote}/{relative}" for relative in tree)
    stored = student.upload_tree(address(lab_writable), "carol", "carol-pw", tmp_path / "up", remote)
    assert stored == expected, f"upload_tree() returned {stored!r}"
    home = data_dir(lab_writable, "ftp") / "home" / "carol" / remote.lstrip("/")
    wrong = [r for r, content in tree.items() if not (home / r).is_file() or (home / r).read_bytes() != content]
    assert not wrong, f"on the server these files are missing or differ: {wrong}"
    try:
        again = student.upload_tree(address(lab_writable), "carol", "carol-pw", tmp_path / "up", remote)
    except ftplib.Error as exc:
        pytest.fail(f"a second upload into the folders made the first time failed: {exc}")
    assert again == expected, f"the second upload returned {again!r}"


@pytest.mark.points(1, hint="Anonymous users may not write: let the server's 550 reach the caller as "
                            "ftplib.error_perm (chapter 2, 'Anonymous and named logins').")
def test_upload_tree_refused(student, lab_writable, tmp_path):
    """upload_tree() as anonymous raises error_perm 550."""
    (tmp_path / "x.txt").write_bytes(b"x")
    with pytest.raises(ftplib.error_perm) as info:
        student.upload_tree(address(lab_writable), "anonymous", "", tmp_path, "/pub/mine")
    assert str(info.value).startswith("550"), f"raised error_perm {info.value}"


@pytest.mark.points(2, hint="ftplib decodes the control connection from the greeting on: give the encoding "
                            "when you make the FTP object (chapter 2, 'File names in GBK: FTP(encoding=...)').")
def test_gbk_texts(student, lab_servers):
    """gbk_texts() decodes the GBK names and texts of /pub/gbk."""
    folder = data_dir(lab_servers, "ftp") / "public" / "pub" / "gbk"
    expected = {path.name: path.read_bytes().decode("gbk") for path in folder.iterdir()}
    got = student.gbk_texts(address(lab_servers), "/pub/gbk")
    assert got == expected, f"gbk_texts() returned {got!r}"

