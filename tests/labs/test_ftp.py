"""Lab 2 (FTP): download, mirror, resume and upload in 02_ftp/ftp_lab.py."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab("ftp")


def public(handle) -> Path:
    """The anonymous tree on the server's disk: what a correct download must equal."""
    return handle.state_dir / "data" / "ftp" / "public"


def ftp_args(handle):
    return handle.ftp.host, handle.ftp.port


@contextlib.contextmanager
def silent_server(close_after: float = 6.0):
    """A server that accepts connections but never says a word; it hangs up after close_after seconds,
    so a client without a timeout fails instead of hanging the test. Yields (port, accepted sockets)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=8)
    listener.settimeout(0.02)  # accept() wakes up often to notice the end (the check waits for it)
    accepted: list[socket.socket] = []
    deadline = time.monotonic() + close_after

    def accept():
        while time.monotonic() < deadline:
            try:
                accepted.append(listener.accept()[0])
            except socket.timeout:
                continue
            except OSError:
                return
        listener.close()
        for conn in accepted:
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        deadline = 0
        thread.join(1)
        listener.close()
        for conn in accepted:
            conn.close()


def put_public(handle, relative: str, data: bytes) -> str:
    """A file of this test's own in the server's anonymous tree: a server elsewhere (the course's
    default ports, say) does not have it, so only the address the test gives finds it."""
    path = public(handle) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative


def token() -> str:
    return uuid.uuid4().hex[:8]


def download_works(student, handle, tmp_path) -> None:
    """The error checks start with a download that must succeed from the server given: a module that
    talks to a fixed address fails them on every machine, not only where no course server runs."""
    name = put_public(handle, f"pub/data/control-{token()}.txt", b"control\n")
    target = tmp_path / "control.txt"
    try:
        student.download(*ftp_args(handle), name, str(target))
    except NotImplementedError:
        raise
    except Exception as exc:
        pytest.fail(f"before the error cases: downloading {name}, which the server given has, raised "
                    f"{type(exc).__name__}: {exc}")
    assert target.is_file() and target.read_bytes() == b"control\n", \
        "before the error cases: a download from the server given did not bring its file"


def raised(info) -> str:
    return f"{type(info.value).__name__}: {info.value}"


@pytest.mark.points(1, hint="Log in, change to the folder, RETR the file into a local file: see chapter 2, "
                            "'Downloading: retrlines, retrbinary, and callbacks', and use the host and port you are "
                            "given.")
def test_download(student, lab_writable, tmp_path):
    """download() copies a text file from the server it is given and returns its size."""
    name = put_public(lab_writable, f"pub/data/notes-{token()}.txt", "line one\nzwei: ü\n".encode())
    target = tmp_path / "notes.txt"
    size = student.download(*ftp_args(lab_writable), name, str(target))
    expected = (public(lab_writable) / name).read_bytes()
    assert target.exists(), f"download() returned {size!r} but wrote no file"
    assert target.read_bytes() == expected, f"the server has {expected!r}, the local file {target.read_bytes()!r}"
    assert size == len(expected), f"returned {size!r}, the file has {len(expected)} bytes"


@pytest.mark.points(2, hint="A file that is not text must be transferred in binary mode (TYPE I), bytes written "
                            "as they come: see chapter 2, 'Downloading: retrlines, retrbinary, and callbacks'.")
def test_download_binary(student, lab_writable, tmp_path):
    """download() copies a binary file byte for byte."""
    data = bytes(range(256)) * 8 + b"\r\n\n\r\xff\x00"
    name = put_public(lab_writable, f"pub/images/blob-{token()}.bin", data)
    target = tmp_path / "blob.bin"
    try:
        student.download(*ftp_args(lab_writable), name, str(target))
    except NotImplementedError:
        raise
    except Exception as exc:
        pytest.fail(f"downloading a binary file raised {type(exc).__name__}: {exc}")
    got = target.read_bytes() if target.exists() else None
    assert got == data, (f"the server's file has {len(data)} bytes, the local one "
                         f"{'is missing' if got is None else f'{len(got)} bytes and differs'}")


@pytest.mark.points(1, hint="connect() fails with an OSError when nothing listens: raise DownloadError('connect', ...) "
                            "(see chapter 2, 'The classic download function').")
def test_download_refused(student, lab_writable, closed_port, tmp_path):
    """A refused connection gives DownloadError with reason "connect", and no local file."""
    download_works(student, lab_writable, tmp_path)
    target = tmp_path / "x.txt"
    with pytest.raises(student.DownloadError) as info:
        student.download("127.0.0.1", closed_port, "pub/docs/hello.txt", str(target), timeout=3)
    assert info.value.reason == "connect", f"reason {info.value.reason!r} ({raised(info)})"
    assert not target.exists(), "a failed download left a local file behind"


@pytest.mark.points(1, hint="A server that never answers makes connect() time out: TimeoutError is an OSError "
                            "too, and the timeout you are given must be used (see chapter 1a, 'The errors a "
                            "client meets').")
def test_download_silent_server(student, tmp_path):
    """A server that accepts but never greets gives DownloadError "connect" after the timeout given."""
    target = tmp_path / "x.txt"
    with silent_server() as (port, accepted):
        begin = time.monotonic()
        try:
            student.download("127.0.0.1", port, "pub/docs/hello.txt", str(target), timeout=0.3)
        except student.DownloadError as exc:
            assert exc.reason == "connect", f"reason {exc.reason!r} ({exc})"
        except NotImplementedError:
            raise
        except Exception as exc:
            pytest.fail(f"a silent server made download() raise {type(exc).__name__}: {exc}")
        else:
            pytest.fail("download() returned although the server never answered")
        took = time.monotonic() - begin
        reached = len(accepted)
    assert reached == 1, "download() never connected to the silent server at the address given"
    assert took < 2.5, f"with timeout=0.3 download() took {took:.1f} s to give up"
    assert not target.exists(), "a failed download left a local file behind"


@pytest.mark.points(1, hint="A host name that does not resolve raises socket.gaierror, an OSError as well: catch "
                            "the OSError family, not one of its members (see chapter 1a, 'The errors a client meets').")
def test_download_unknown_host(student, lab_writable, tmp_path):
    """A host name that does not exist gives DownloadError with reason "connect"."""
    download_works(student, lab_writable, tmp_path)
    target = tmp_path / "x.txt"
    try:
        student.download("no-such-host.invalid", 21, "pub/docs/hello.txt", str(target), timeout=3)
    except student.DownloadError as exc:
        assert exc.reason == "connect", f"reason {exc.reason!r} ({exc})"
    except NotImplementedError:
        raise
    except Exception as exc:
        pytest.fail(f"an unknown host made download() raise {type(exc).__name__}: {exc}")
    else:
        pytest.fail("download() returned for a host that does not exist")
    assert not target.exists(), "a failed download left a local file behind"


@pytest.mark.points(2, hint="A refused login is a 530 reply, which ftplib raises as error_perm (see chapter 2, "
                            "'Anonymous and named logins').")
def test_download_login_refused(student, lab_writable, tmp_path):
    """A wrong password gives DownloadError with reason "login"."""
    download_works(student, lab_writable, tmp_path)
    target = tmp_path / "welcome.txt"
    with pytest.raises(student.DownloadError) as info:
        student.download(*ftp_args(lab_writable), "welcome.txt", str(target), user="alice", password="wrong")
    assert info.value.reason == "login", f"reason {info.value.reason!r} ({raised(info)})"
    assert not target.exists(), "a failed download left a local file behind"


@pytest.mark.points(2, hint="Change to the folder before asking for the file: the reply to CWD says whether the "
                            "folder exists (see chapter 2, 'Where am I? pwd, cwd, and raw commands').")
def test_download_missing_folder(student, lab_writable, tmp_path):
    """A missing folder gives DownloadError with reason "folder", and no local file."""
    download_works(student, lab_writable, tmp_path)
    target = tmp_path / "missing.txt"
    with pytest.raises(student.DownloadError) as info:
        student.download(*ftp_args(lab_writable), "pub/no-such-folder/a.txt", str(target))
    assert info.value.reason == "folder", f"reason {info.value.reason!r} ({raised(info)})"
    assert not target.exists(), "a failed download left a local file behind"


@pytest.mark.points(1, hint="RETR of a missing file is refused with a 550 reply; a local file opened before it "
                            "must not stay behind (see chapter 2, 'The classic download function').")
def test_download_missing_file(student, lab_writable, tmp_path):
    """A missing file gives DownloadError with reason "file", and no (empty) local file."""
    folder = put_public(lab_writable, f"pub/only-here-{token()}/present.txt", b"x").rpartition("/")[0]
    target = tmp_path / "missing.txt"
    with pytest.raises(student.DownloadError) as info:
        student.download(*ftp_args(lab_writable), f"{folder}/no-such-file.txt", str(target))
    assert info.value.reason == "file", f"reason {info.value.reason!r} ({raised(info)})"
    assert not target.exists(), "a failed download left a (partial or empty) local file behind"


TEXT_TREE = {"readme.txt": b"top level\n", "notes/caf\u00e9-men\u00fc.txt": "Kaffee \u2615\n".encode(),
             "notes/deep/todo.txt": b"one\ntwo\n"}
BINARY_TREE = {"data.bin": bytes(range(256)) * 4 + b"\r\n\xff", "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(300)}


def own_tree(handle, files: dict[str, bytes]) -> str:
    """A folder of this test's own on the server, holding files; returns its path."""
    folder = f"pub/tree-{token()}"
    for rel, data in files.items():
        put_public(handle, f"{folder}/{rel}", data)
    return folder


@pytest.mark.points(2, hint="MLSD tells files from folders ('type' fact): walk the folders recursively and make "
                            "the local ones as you go (see chapter 2, 'Listing folders: nlst, dir and mlsd').")
def test_mirror(student, lab_writable, tmp_path):
    """mirror() copies every file of a folder and its sub-folders (non-ASCII names too) and lists them."""
    folder, files = own_tree(lab_writable, TEXT_TREE), TEXT_TREE
    copied = student.mirror(*ftp_args(lab_writable), folder, str(tmp_path / "copy"))
    local = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*") if p.is_file()) \
        if (tmp_path / "copy").is_dir() else []
    assert local == sorted(files), f"the server's folder has {sorted(files)!r}, the local copy {local!r}"
    assert sorted(copied or []) == sorted(files), f"mirror() returned {copied!r}, expected {sorted(files)!r}"
    differ = [rel for rel in files if (tmp_path / "copy" / rel).read_bytes() != files[rel]]
    assert not differ, f"these files differ from the server's copy: {differ}"


@pytest.mark.points(1, hint="Binary files in a mirror too: retrbinary, not retrlines (see chapter 2, 'Downloading: "
                            "retrlines, retrbinary, and callbacks').")
def test_mirror_binary_files(student, lab_writable, tmp_path):
    """mirror() copies binary files byte for byte."""
    folder = own_tree(lab_writable, BINARY_TREE)
    try:
        student.mirror(*ftp_args(lab_writable), folder, str(tmp_path / "copy"))
    except NotImplementedError:
        raise
    except Exception as exc:
        pytest.fail(f"mirroring a folder with binary files raised {type(exc).__name__}: {exc}")
    for rel, data in BINARY_TREE.items():
        local = tmp_path / "copy" / rel
        assert local.is_file() and local.read_bytes() == data, f"{rel} is missing or differs from the server's"


@pytest.mark.points(3, hint="REST tells the server where to start the next transfer; what arrives is appended "
                            "to what you have (see chapter 2, 'Downloading: retrlines, retrbinary, and callbacks').")
def test_resume_download(student, lab_writable, tmp_path):
    """resume_download() asks only for the missing bytes (REST) and appends them."""
    data = bytes(range(256)) * 20 + b"\r\n the end"
    name = put_public(lab_writable, f"pub/images/big-{token()}.bin", data)
    have = b"\0" * 100
    target = tmp_path / "big.bin"
    target.write_bytes(have)
    received = student.resume_download(*ftp_args(lab_writable), name, str(target))
    content = target.read_bytes()
    assert content[:100] == have, "the file was downloaded again from the start instead of resumed"
    assert content[100:] == data[100:], \
        f"after resuming the local file has {len(content)} bytes, the server's {len(data)}; the end differs"
    assert received == len(data) - 100, f"returned {received}, {len(data) - 100} bytes were missing"
    assert student.resume_download(*ftp_args(lab_writable), name, str(target)) == 0, \
        "resuming a complete file must receive nothing"


@pytest.mark.points(3, hint="Upload in binary mode, to the server and account you are given (see chapter 2, "
                            "'Uploading: storbinary and storlines').")
def test_upload(student, lab_writable, tmp_path):
    """upload() stores a binary file unchanged in the user's home and returns its size."""
    data = bytes(range(256)) * 40 + b"line\r\nend\n"
    local = tmp_path / "upload.bin"
    local.write_bytes(data)
    name = f"upload-{uuid.uuid4().hex[:8]}.bin"
    size = student.upload(*ftp_args(lab_writable), str(local), name, "alice", "alice-pw")
    stored = lab_writable.state_dir / "data" / "ftp" / "home" / "alice" / name
    assert stored.is_file(), f"{name} is not in alice's home on the server"
    assert stored.read_bytes() == data, \
        f"the server stored {stored.stat().st_size} bytes that differ from the {len(data)} sent (text mode?)"
    assert size == len(data), f"upload() returned {size!r}, the file has {len(data)} bytes"
