"""FTP and FTPS driven by lftp: listings, downloads, uploads and whole trees, passive and active.

lftp is the command-line client many people use and the one that found the
FTPS upload defect (see test_ftp.py): each scenario is a real lftp script.
`apt-get install lftp` (CI installs it); without it these tests are skipped.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("lftp") is None, reason="lftp is not installed (apt-get install lftp)")

MODES = [pytest.param(tls, passive, id=f"{'ftps' if tls else 'ftp'}-{'passive' if passive else 'active'}")
         for tls in (False, True) for passive in (True, False)]


@pytest.fixture(scope="module")
def ftp_servers(tmp_path_factory):
    """One FTP server for the module; each test writes only below its own folder of alice's home."""
    from local_servers import control

    state_dir = tmp_path_factory.mktemp("lftp-servers")
    handle = control.start(state_dir, ephemeral=True, names=["ftp"])
    yield handle
    control.stop(state_dir)


def lftp(handle, script: str, *, user: str | None = None, tls: bool, passive: bool, cwd: Path) -> str:
    """Run one lftp session; fail with its output unless it succeeds."""
    info = handle.ftp
    login = f"-u {user},{info.accounts[user]}" if user else "-u anonymous,guest@example.test"
    settings = [
        f"set ssl:ca-file {handle.ca_file}", "set ssl:verify-certificate yes",
        f"set ftp:ssl-force {'yes' if tls else 'no'}", f"set ftp:ssl-protect-data {'yes' if tls else 'no'}",
        f"set ftp:ssl-allow {'yes' if tls else 'no'}",
        f"set ftp:passive-mode {'yes' if passive else 'no'}", "set ftp:prefer-epsv no",
        "set net:max-retries 1", "set net:timeout 15", "set cmd:fail-exit yes", "set xfer:clobber yes",
    ]
    commands = ";".join([*settings, f"open {login} -p {info.port} localhost", script])
    result = subprocess.run(["lftp", "-c", commands], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"lftp failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def public_dir(handle) -> Path:
    return Path(handle.state_dir) / "data" / "ftp" / "public"


def alice_home(handle) -> Path:
    return Path(handle.state_dir) / "data" / "ftp" / "home" / "alice"


def same_tree(left: Path, right: Path) -> bool:
    compared = filecmp.dircmp(left, right)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, compared.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(left / d, right / d) for d in compared.common_dirs)


@pytest.mark.parametrize("tls, passive", MODES)
def test_lftp_lists_and_gets_anonymously(ftp_servers, tmp_path, tls, passive):
    listing = lftp(ftp_servers, "cd /pub; cls -1; get /pub/README.txt -o readme.txt; get '/pub/docs/café-menü.txt' -o menu.txt",
                   tls=tls, passive=passive, cwd=tmp_path)
    assert {"README.txt", "data/", "docs/", "large/"} <= set(listing.split())
    pub = public_dir(ftp_servers) / "pub"
    assert (tmp_path / "readme.txt").read_bytes() == (pub / "README.txt").read_bytes()
    assert (tmp_path / "menu.txt").read_bytes() == (pub / "docs" / "café-menü.txt").read_bytes()


@pytest.mark.parametrize("tls, passive", MODES)
def test_lftp_mirrors_a_tree_down_and_up(ftp_servers, tmp_path, tls, passive):
    mode = f"{'ftps' if tls else 'ftp'}-{'passive' if passive else 'active'}"
    lftp(ftp_servers, "mirror --no-perms /pub/docs docs", tls=tls, passive=passive, cwd=tmp_path)
    assert same_tree(tmp_path / "docs", public_dir(ftp_servers) / "pub" / "docs")
    lftp(ftp_servers, f"mkdir -p {mode}; mirror -R --no-perms docs {mode}/docs", user="alice", tls=tls,
         passive=passive, cwd=tmp_path)
    assert same_tree(tmp_path / "docs", alice_home(ftp_servers) / mode / "docs")


@pytest.mark.parametrize("tls, passive", MODES)
def test_lftp_put_many_times_keeps_every_file(ftp_servers, tmp_path, tls, passive):
    """Ten uploads of 3 MB in one session: over TLS each ends with close_notify and an immediate close."""
    mode = f"{'ftps' if tls else 'ftp'}-{'passive' if passive else 'active'}-put"
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(range(256)) * (3 * 4096))
    puts = "; ".join(f"put payload.bin -o {mode}/p{n}.bin" for n in range(10))
    lftp(ftp_servers, f"mkdir -p {mode}; {puts}", user="alice", tls=tls, passive=passive, cwd=tmp_path)
    for n in range(10):
        assert (alice_home(ftp_servers) / mode / f"p{n}.bin").read_bytes() == payload.read_bytes()
    assert not [p.name for p in (alice_home(ftp_servers) / mode).iterdir() if p.name.endswith(".part")]


def test_lftp_is_refused_a_write_as_anonymous(ftp_servers, tmp_path):
    (tmp_path / "x.txt").write_text("x")
    result = subprocess.run(["lftp", "-c", f"set net:max-retries 1; set ftp:ssl-allow no; set cmd:fail-exit yes; "
                             f"open -u anonymous,x -p {ftp_servers.ftp.port} localhost; put x.txt -o /pub/x.txt"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "550" in result.stderr
    assert not (public_dir(ftp_servers) / "pub" / "x.txt").exists()
