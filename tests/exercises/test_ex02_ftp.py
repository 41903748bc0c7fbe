"""The FTP chapter's exercise solutions, run against the course's servers."""

from __future__ import annotations

import ftplib
import hashlib
import io

import pytest

MIB = 1024 * 1024


def session(svc, user: str = "anonymous") -> ftplib.FTP:
    ftp = ftplib.FTP(timeout=10)
    ftp.connect(svc.host, svc.port)
    ftp.login(user, svc.accounts[user])
    return ftp


def fetch(ftp: ftplib.FTP, path: str) -> bytes:
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {path}", out.write)
    return out.getvalue()


@pytest.fixture
def ftp_only(servers_factory):
    """An FTP server with freshly seeded data, for the tests that write."""
    return servers_factory(names=["ftp"])


def test_mirror_fetches_the_whole_tree(servers, solution, tmp_path):
    got = solution.mirror(servers.ftp.address, "/pub/docs", tmp_path / "docs")
    assert got == ["café-menü.txt", "hello.txt", "rfc/reply-codes.txt", "rfc/rfc959-commands.txt"]
    with session(servers.ftp) as ftp:
        for relative in got:
            assert (tmp_path / "docs" / relative).read_bytes() == fetch(ftp, f"/pub/docs/{relative}")


def test_mirror_of_a_missing_folder_is_an_error(servers, solution, tmp_path):
    with pytest.raises(ftplib.error_perm, match="^5"):  # this server: 501 for MLSD of a missing folder
        solution.mirror(servers.ftp.address, "/pub/no-such-folder", tmp_path)


def test_resume_download_completes_an_interrupted_file(servers, solution, tmp_path):
    large, size = servers.ftp.extra["large_file"], servers.ftp.extra["large_file_size"]
    local = tmp_path / "large.bin"

    class Enough(Exception):
        pass

    ftp = session(servers.ftp)
    try:
        with open(local, "wb") as out:
            def write(block):
                out.write(block)
                if out.tell() >= MIB:
                    raise Enough

            with pytest.raises(Enough):
                ftp.retrbinary(f"RETR {large}", write)
    finally:
        ftp.close()  # the transfer was cut: its final reply is never read, so just close
    offset = local.stat().st_size
    assert MIB <= offset < size

    assert solution.resume_download(servers.ftp.address, large, local) == size - offset
    assert hashlib.sha256(local.read_bytes()).hexdigest() == servers.ftp.extra["large_file_sha256"]
    assert solution.resume_download(servers.ftp.address, large, local) == 0  # nothing left to fetch


def test_resume_download_without_a_local_file_fetches_it_all(servers, solution, tmp_path):
    local = tmp_path / "gradient.png"
    fetched = solution.resume_download(servers.ftp.address, "/pub/images/gradient.png", local)
    assert fetched == local.stat().st_size
    assert local.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_upload_tree_recreates_folders_and_files(ftp_only, solution, tmp_path):
    tree = {"a.txt": b"alpha\n", "sub/b.bin": bytes(range(256)), "sub/deeper/ç.txt": "ça va\n".encode()}
    for relative, content in tree.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(content)

    stored = solution.upload_tree(ftp_only.ftp.address, "carol", "carol-pw", tmp_path, "/ex02-upload")
    assert stored == sorted(f"/ex02-upload/{relative}" for relative in tree)
    with session(ftp_only.ftp, "carol") as ftp:
        for relative, content in tree.items():
            assert fetch(ftp, f"/ex02-upload/{relative}") == content
        assert "welcome.txt" in ftp.nlst("/")  # carol's own file is still there

    # Again, into folders that exist now: files are replaced, nothing fails.
    assert solution.upload_tree(ftp_only.ftp.address, "carol", "carol-pw", tmp_path, "/ex02-upload") == stored


def test_upload_tree_refused_for_anonymous(ftp_only, solution, tmp_path):
    (tmp_path / "x.txt").write_bytes(b"x")
    with pytest.raises(ftplib.error_perm, match="^550"):
        solution.upload_tree(ftp_only.ftp.address, "anonymous", "", tmp_path, "/pub/mine")


def test_gbk_texts_decodes_names_and_texts(servers, solution):
    """Expected values from the server's own files: GBK bytes on disk, decoded here."""
    folder = servers.state_dir / "data" / "ftp" / "public" / "pub" / "gbk"
    expected = {path.name: path.read_bytes().decode("gbk") for path in folder.iterdir()}
    assert len(expected) >= 2 and any(not name.isascii() for name in expected)
    assert solution.gbk_texts(servers.ftp.address, "/pub/gbk") == expected
