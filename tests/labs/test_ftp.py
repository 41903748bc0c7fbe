"""Lab 2 (FTP): download, mirror, resume and upload in 02_ftp/ftp_lab.py."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab("ftp")


def public(handle) -> Path:
    """The anonymous tree on the server's disk: what a correct download must equal."""
    return handle.state_dir / "data" / "ftp" / "public"


def ftp_args(handle):
    return handle.ftp.host, handle.ftp.port


@pytest.mark.points(2, hint="Log in, cwd() to the folder, retrbinary('RETR name', out.write) into a file opened 'wb'.")
def test_download(student, lab_servers, tmp_path):
    """download() copies a file byte for byte and returns its size."""
    target = tmp_path / "weather.csv"
    size = student.download(*ftp_args(lab_servers), "pub/data/weather.csv", str(target))
    expected = (public(lab_servers) / "pub/data/weather.csv").read_bytes()
    assert target.read_bytes() == expected, "the downloaded file differs from the server's (binary mode?)"
    assert size == len(expected), f"returned {size}, the file has {len(expected)} bytes"


@pytest.mark.points(2, hint="Catch the OSError of connect() and raise DownloadError('connect', ...).")
def test_download_unreachable(student, closed_port, tmp_path):
    """An address where no server listens gives DownloadError with reason "connect", and no local file."""
    target = tmp_path / "x.txt"
    with pytest.raises(student.DownloadError) as info:
        student.download("127.0.0.1", closed_port, "pub/docs/hello.txt", str(target), timeout=3)
    assert info.value.reason == "connect"
    assert not target.exists(), "a failed download left a local file behind"


@pytest.mark.points(2, hint="ftplib raises error_perm (530) when login is refused: raise DownloadError('login', ...).")
def test_download_login_refused(student, lab_servers, tmp_path):
    """A wrong password gives DownloadError with reason "login"."""
    target = tmp_path / "welcome.txt"
    with pytest.raises(student.DownloadError) as info:
        student.download(*ftp_args(lab_servers), "welcome.txt", str(target), user="alice", password="wrong")
    assert info.value.reason == "login"
    assert not target.exists(), "a failed download left a local file behind"


@pytest.mark.points(3, hint="cwd() to the folder first (error_perm: reason 'folder'), then RETR (error_perm: "
                            "'file'); open the local file only when the transfer starts, or remove it on failure.")
def test_download_missing_folder_and_file(student, lab_servers, tmp_path):
    """A missing folder and a missing file are told apart, and no partial file is left."""
    target = tmp_path / "missing.txt"
    with pytest.raises(student.DownloadError) as info:
        student.download(*ftp_args(lab_servers), "pub/no-such-folder/a.txt", str(target))
    assert info.value.reason == "folder"
    with pytest.raises(student.DownloadError) as info:
        student.download(*ftp_args(lab_servers), "pub/docs/no-such-file.txt", str(target))
    assert info.value.reason == "file"
    assert not target.exists(), "a failed download left a (partial or empty) local file behind"


@pytest.mark.points(3, hint="Walk the tree with ftp.mlsd(path, facts=['type']): recurse into 'dir' entries, "
                            "download 'file' entries; create local folders as you go.")
def test_mirror(student, lab_servers, tmp_path):
    """mirror() copies a folder with its sub-folders and non-ASCII names exactly."""
    source = public(lab_servers) / "pub" / "docs"
    expected = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    copied = student.mirror(*ftp_args(lab_servers), "pub/docs", str(tmp_path / "docs"))
    assert sorted(copied) == expected, f"mirror() returned {copied!r}, expected {expected!r}"
    for rel in expected:
        local = tmp_path / "docs" / rel
        assert local.is_file(), f"{rel} is missing locally"
        assert local.read_bytes() == (source / rel).read_bytes(), f"{rel} differs from the server's copy"


@pytest.mark.points(3, hint="Open the file in 'ab' and pass rest=<local size> to retrbinary (it sends REST).")
def test_resume_download(student, lab_servers, tmp_path):
    """resume_download() asks only for the missing bytes (REST) and appends them."""
    remote = public(lab_servers) / "pub/images/gradient.png"
    data = remote.read_bytes()
    # The part "already downloaded" is marked, so a fresh full download is detected.
    have = b"\0" * 100
    target = tmp_path / "gradient.png"
    target.write_bytes(have)
    received = student.resume_download(*ftp_args(lab_servers), "pub/images/gradient.png", str(target))
    content = target.read_bytes()
    assert content[100:] == data[100:], "the end of the file is wrong"
    assert content[:100] == have, "the file was downloaded again from the start instead of resumed"
    assert received == len(data) - 100, f"returned {received}, {len(data) - 100} bytes were missing"
    assert student.resume_download(*ftp_args(lab_servers), "pub/images/gradient.png", str(target)) == 0, \
        "resuming a complete file must receive nothing"


@pytest.mark.points(3, hint="storbinary('STOR name', open(path, 'rb')); then ftp.size(name) to check.")
def test_upload(student, lab_writable, tmp_path):
    """upload() stores a binary file unchanged in the user's home and returns its size."""
    data = bytes(range(256)) * 40 + b"line\r\nend\n"
    local = tmp_path / "upload.bin"
    local.write_bytes(data)
    name = f"upload-{uuid.uuid4().hex[:8]}.bin"
    size = student.upload(*ftp_args(lab_writable), str(local), name, "alice", "alice-pw")
    stored = lab_writable.state_dir / "data" / "ftp" / "home" / "alice" / name
    assert stored.is_file(), f"{name} is not in alice's home on the server"
    assert stored.read_bytes() == data, "the uploaded file differs (uploaded in text mode?)"
    assert size == len(data)
