"""The HTTP chapter's exercise solutions, run against the course's servers."""

import hashlib
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
import xmlrpc.client

import pytest

from local_servers.tls import ensure_certificates


def base(servers) -> str:
    return f"http://{servers.http.host}:{servers.http.port}"


def test_status_of_replies_and_errors(servers, solution):
    assert solution.status_of(base(servers) + "/get") == 200
    assert solution.status_of(base(servers) + "/redirect/2") == 200  # the status after the redirects
    assert solution.status_of(base(servers) + "/status/404") == 404
    assert solution.status_of(base(servers) + "/status/503") == 503


def test_status_of_without_a_reply(servers, solution):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert solution.status_of(f"http://127.0.0.1:{free}/") is None
    assert solution.status_of(base(servers) + "/delay/2", timeout=0.2) is None


def test_status_of_https(servers, solution):
    url = f"https://{servers.http.host}:{servers.http.tls_ports['https']}/get"
    assert solution.status_of(url, context=ssl.create_default_context(cafile=servers.ca_file)) == 200
    assert solution.status_of(url) is None  # the system's CAs do not know the course's certificate


def test_site_links(servers, solution):
    assert solution.site_links(base(servers) + "/site/index.html") == [
        base(servers) + "/site/about.html", base(servers) + "/site/form.html",
        base(servers) + "/site/data.json", base(servers) + "/"]
    # /site redirects to /site/: the links are relative to where the page really is
    assert solution.site_links(base(servers) + "/site")[0] == base(servers) + "/site/about.html"


def test_serve_folder(solution, tmp_path, capfd):
    (tmp_path / "hello.txt").write_text("hello\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.json").write_text('{"n": 1}', encoding="utf-8")
    server = solution.serve_folder(tmp_path)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(url + "/hello.txt", timeout=5) as reply:
            assert reply.read() == b"hello\n"
        with urllib.request.urlopen(url + "/sub/data.json", timeout=5) as reply:
            assert json.load(reply) == {"n": 1}
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(url + "/missing.txt", timeout=5)
        assert error.value.code == 404
        error.value.close()
    finally:
        server.shutdown()
        server.server_close()
    assert capfd.readouterr() == ("", "")  # no request log


def test_logged_in_opener_authenticates_and_keeps_cookies(servers, solution):
    opener = solution.logged_in_opener(base(servers), "alice", "alice-pw")
    with opener.open(base(servers) + "/basic-auth/alice/alice-pw", timeout=10) as reply:
        assert json.load(reply) == {"authenticated": True, "user": "alice"}
    with opener.open(base(servers) + "/cookies/set?seen=1", timeout=10) as reply:
        assert json.load(reply) == {"cookies": {"seen": "1"}}
    with opener.open(base(servers) + "/cookies", timeout=10) as reply:
        assert json.load(reply) == {"cookies": {"seen": "1"}}
    with pytest.raises(urllib.error.HTTPError) as error:  # bob's page: alice's password does not open it
        opener.open(base(servers) + "/basic-auth/bob/bob-pw", timeout=10)
    assert error.value.code == 401
    error.value.close()


def test_certificate_names(servers, solution):
    names = solution.certificate_names(servers.http.host, servers.http.tls_ports["https"], servers.ca_file)
    assert {"localhost", "127.0.0.1"} <= set(names)


def test_certificate_names_verifies(servers, solution, tmp_path):
    other_ca = ensure_certificates(tmp_path / "tls").ca_file  # a CA that did not sign the server's certificate
    with pytest.raises(ssl.SSLCertVerificationError):
        solution.certificate_names(servers.http.host, servers.http.tls_ports["https"], str(other_ca))


# ---- exercises 6-10: gzip, streamed downloads, multipart uploads, robots.txt, xmlrpc

def test_fetch_json_decompresses_only_gzip(servers, solution):
    assert solution.fetch_json(base(servers) + "/gzip")["gzipped"] is True
    plain = solution.fetch_json(base(servers) + "/get?x=1")  # not compressed: must not be gunzipped
    assert plain["args"] == {"x": "1"} and plain["headers"]["Accept-Encoding"] == "gzip"


def test_download_streams_in_bounded_pieces(servers, solution, tmp_path, monkeypatch):
    url = base(servers) + "/bytes/102400?seed=course"
    with urllib.request.urlopen(url, timeout=10) as reply:
        expected = reply.read()
    reads = []
    original = http.client.HTTPResponse.read

    def recording_read(self, amt=None):
        reads.append(amt)
        return original(self, amt)

    monkeypatch.setattr(http.client.HTTPResponse, "read", recording_read)
    size, digest = solution.download(url, tmp_path / "data.bin", chunk_size=8192)
    monkeypatch.undo()
    assert (size, digest) == (len(expected), hashlib.sha256(expected).hexdigest())
    assert (tmp_path / "data.bin").read_bytes() == expected
    assert reads and all(amt is not None and amt <= 8192 for amt in reads), reads


def test_download_a_chunked_reply(servers, solution, tmp_path):
    url = base(servers) + "/stream/5"
    size, digest = solution.download(url, tmp_path / "stream.json", chunk_size=100)
    lines = (tmp_path / "stream.json").read_bytes().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1, 2, 3, 4]
    assert size == (tmp_path / "stream.json").stat().st_size
    assert digest == hashlib.sha256((tmp_path / "stream.json").read_bytes()).hexdigest()


def test_upload_file(servers, solution, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("line one\nline two\n")
    answer = solution.upload_file(base(servers) + "/post", path, {"title": "Notes", "lang": "en"})
    assert answer["files"] == {"file": "line one\nline two\n"}
    assert answer["form"] == {"title": "Notes", "lang": "en"}
    assert answer["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")


def test_polite_get_obeys_robots_and_reads_them_once(servers, solution, monkeypatch):
    reads = []
    original = solution.RobotFileParser.read
    monkeypatch.setattr(solution.RobotFileParser, "read", lambda self: (reads.append(self.url), original(self))[1])
    answer = json.loads(solution.polite_get(base(servers) + "/user-agent", agent="ex06-bot"))
    assert answer == {"user-agent": "ex06-bot"}
    with pytest.raises(PermissionError):
        solution.polite_get(base(servers) + "/deny")
    assert solution.polite_get(base(servers) + "/get").startswith(b"{")
    assert reads == [base(servers) + "/robots.txt"]


def test_start_calculator(solution):
    server, url = solution.start_calculator()
    try:
        with xmlrpc.client.ServerProxy(url) as proxy:
            assert proxy.add(2, 3) == 5 and proxy.add("con", "cat") == "concat"
            assert proxy.multiply(4, 5) == 20
            assert {"add", "multiply", "system.listMethods"} <= set(proxy.system.listMethods())
    finally:
        server.shutdown()
        server.server_close()
