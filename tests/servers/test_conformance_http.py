"""HTTP driven by curl and `openssl s_client`: keep-alive, chunked uploads, HEAD, redirects, auth, HTTPS.

test_http.py covers the endpoints with the standard library (http.client,
urllib) and a few curl calls; here curl's own HTTP/1.1 machinery meets the
server: connection reuse, chunked request bodies, compressed replies.
Without curl or openssl the tests are skipped (CI installs them).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed (apt-get install curl)")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


@pytest.fixture(scope="module")
def web(servers):
    return servers.http


def base(web) -> str:
    return f"http://{web.host}:{web.port}"


def curl(*args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "20", *args], input=stdin,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


@needs_curl
def test_curl_reuses_one_connection_for_several_requests(web):
    out = curl("--write-out", "connects=%{num_connects}\n", "--output", "/dev/null", f"{base(web)}/get",
               "--output", "/dev/null", f"{base(web)}/ip", "--output", "/dev/null", f"{base(web)}/status/404")
    assert out.decode().split() == ["connects=1", "connects=0", "connects=0"]


@needs_curl
def test_curl_chunked_upload(web, tmp_path):
    payload = "".join(f"line {n}\n" for n in range(5000))
    reply = json.loads(curl("-H", "Transfer-Encoding: chunked", "-H", "Content-Type: text/plain",
                            "--data-binary", "@-", f"{base(web)}/post", stdin=payload.encode()))
    assert reply["data"] == payload
    assert reply["headers"]["Transfer-Encoding"] == "chunked"


@needs_curl
def test_curl_head_redirects_auth_and_gzip(web):
    head = curl("--head", f"{base(web)}/get").decode()
    assert head.startswith("HTTP/1.1 200 ") and "Content-Length:" in head
    assert json.loads(curl("--location", f"{base(web)}/redirect/3"))["url"].endswith("/get")
    assert json.loads(curl("--user", "alice:alice-pw", f"{base(web)}/basic-auth/alice/alice-pw")) == {
        "authenticated": True, "user": "alice"}
    assert json.loads(curl("--compressed", f"{base(web)}/gzip"))["gzipped"] is True


@needs_curl
def test_curl_https_keep_alive_with_the_course_ca(web):
    url = f"https://localhost:{web.tls_ports['https']}"
    out = curl("--cacert", web.ca_file, "--write-out", "%{http_code} %{num_connects}\n", "--output", "/dev/null",
               f"{url}/get", "--output", "/dev/null", f"{url}/uuid")
    assert out.decode().split("\n")[:2] == ["200 1", "200 0"]


@needs_openssl
def test_openssl_s_client_https(web):
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"{web.host}:{web.tls_ports['https']}", "-CAfile", web.ca_file,
         "-servername", "localhost", "-verify_return_error", "-quiet", "-ign_eof"],
        input=b"GET /ip HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body) == {"origin": "127.0.0.1"}
