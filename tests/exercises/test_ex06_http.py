"""The HTTP chapter's exercise solutions, run against the course's servers."""

import json
import socket
import ssl
import urllib.error
import urllib.request

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
