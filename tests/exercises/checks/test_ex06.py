"""check("ex06"): the exercises of chapter 6 (HTTP), graded like a lab.

The student's answers are exercises/ex06_http.py in their labs folder
(labs/exercises/ holds the starter, solutions/exercises/ the reference).
Each function runs in the student's process against this run's own HTTP
server; what a server or opener it returns does is asked of it from here,
and the expected values come from that server, fetched here with urllib.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import ssl
import urllib.error
import urllib.request
import xmlrpc.client

import pytest

from grader.helpers import spy
from local_servers.tls import ensure_certificates

pytestmark = pytest.mark.lab("ex06")


def base(handle) -> str:
    return f"http://{handle.http.host}:{handle.http.port}"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.read()


@pytest.mark.points(1, hint="urlopen follows redirects for you; an error status arrives as HTTPError (catch it "
                            "before URLError, its base class) whose .code is the status (chapter 6, 'Errors: "
                            "HTTPError, URLError and timeouts' and 'Redirects').")
def test_status_of(student, lab_servers):
    """status_of() gives the final status after redirects, and error statuses too."""
    for path, expected in (("/get", 200), ("/redirect/2", 200), ("/status/404", 404), ("/status/503", 503)):
        got = student.status_of(base(lab_servers) + path)
        assert got == expected, f"status_of({path!r}) returned {got!r}, the server answers {expected}"


@pytest.mark.points(1, hint="No reply at all (refused, timed out, a certificate nobody vouches for) is URLError "
                            "or OSError: return None (chapter 6, 'Errors: HTTPError, URLError and timeouts' and 'HTTPS "
                            "with the course's certificate authority').")
def test_status_of_without_a_reply(student, lab_servers):
    """status_of() returns None for a refused connection, a timeout and an unverifiable certificate."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert student.status_of(f"http://127.0.0.1:{free}/") is None, "a refused connection must give None"
    assert student.status_of(base(lab_servers) + "/delay/2", timeout=0.2) is None, "a timeout must give None"
    https = f"https://{lab_servers.http.host}:{lab_servers.http.tls_ports['https']}/get"
    assert student.status_of(https) is None, "the system's CAs do not know the course's certificate: None"


@pytest.mark.points(1, hint="Feed the page to an HTMLParser that keeps each <a href>, and urljoin each link with "
                            "reply.url, where the page really is after redirects (chapter 6, 'urllib.request: "
                            "urlopen and info()' and 'Redirects').")
def test_site_links(student, lab_servers):
    """site_links() returns the absolute URLs of the page's links, relative to where the page really is."""
    site = base(lab_servers)
    expected = [site + "/site/about.html", site + "/site/form.html", site + "/site/data.json", site + "/"]
    got = student.site_links(site + "/site/index.html")
    assert got == expected, f"site_links() returned {got!r}"
    redirected = student.site_links(site + "/site")  # /site redirects to /site/
    assert redirected[:1] == expected[:1], f"from /site (a redirect to /site/) site_links() returned {redirected!r}"


@pytest.mark.points(1, hint="ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(SimpleHTTPRequestHandler, "
                            "directory=folder)), serve_forever in a daemon thread, and a log_message that prints "
                            "nothing (chapter 6b, 'http.server: serving a folder').")
def test_serve_folder(student, tmp_path):
    """serve_folder() serves the folder's files (404 for others) on a free port."""
    (tmp_path / "hello.txt").write_text("hello\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.json").write_text('{"n": 1}', encoding="utf-8")
    server = student.serve_folder(tmp_path)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert fetch(url + "/hello.txt") == b"hello\n", "/hello.txt did not come back as written"
        assert json.loads(fetch(url + "/sub/data.json")) == {"n": 1}, "/sub/data.json did not come back"
        with pytest.raises(urllib.error.HTTPError) as error:
            fetch(url + "/missing.txt")
        assert error.value.code == 404, f"a missing file gave {error.value.code}"
        error.value.close()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.points(1, hint="build_opener(HTTPBasicAuthHandler(a password manager with base_url, user, password), "
                            "HTTPCookieProcessor(CookieJar())) (chapter 6, 'Basic authentication: "
                            "HTTPBasicAuthHandler' and 'Cookies: HTTPCookieProcessor').")
def test_logged_in_opener(student, lab_servers):
    """The opener answers Basic authentication as alice and sends back the cookies it was given."""
    site = base(lab_servers)
    opener = student.logged_in_opener(site, "alice", "alice-pw")
    got = json.loads(opener.open(site + "/basic-auth/alice/alice-pw", timeout=10).read())
    assert got == {"authenticated": True, "user": "alice"}, f"/basic-auth/alice/alice-pw answered {got!r}"
    opener.open(site + "/cookies/set?seen=1", timeout=10).read()
    got = json.loads(opener.open(site + "/cookies", timeout=10).read())
    assert got == {"cookies": {"seen": "1"}}, f"the cookie set before did not come back: /cookies answered {got!r}"


@pytest.mark.points(1, hint="ssl.create_default_context(cafile=cafile), connect, and read subjectAltName from "
                            "sock.getpeercert() (chapter 6, 'HTTPS with the course's certificate authority').")
def test_certificate_names(student, lab_servers, tmp_path):
    """certificate_names() lists the names in the certificate, and fails against a CA that did not sign it."""
    ca = tmp_path / "ca.pem"
    shutil.copyfile(lab_servers.ca_file, ca)
    names = student.certificate_names(lab_servers.http.host, lab_servers.http.tls_ports["https"], str(ca))
    assert {"localhost", "127.0.0.1"} <= set(names), f"certificate_names() returned {names!r}"
    other_ca = ensure_certificates(tmp_path / "tls").ca_file  # a CA that did not sign the server's certificate
    with pytest.raises(ssl.SSLError):
        student.certificate_names(lab_servers.http.host, lab_servers.http.tls_ports["https"], str(other_ca))


@pytest.mark.points(1, hint="Send Accept-Encoding: gzip, and gzip.decompress only when the reply's "
                            "Content-Encoding says gzip (chapter 6b, 'Compressed responses: gzip').")
def test_fetch_json(student, lab_servers):
    """fetch_json() decompresses a gzipped reply and leaves a plain one alone."""
    zipped = student.fetch_json(base(lab_servers) + "/gzip")
    assert isinstance(zipped, dict) and zipped.get("gzipped") is True, f"/gzip gave {zipped!r}"
    plain = student.fetch_json(base(lab_servers) + "/get?x=1")
    assert plain["args"] == {"x": "1"}, f"/get?x=1 gave {plain!r}"
    assert plain["headers"].get("Accept-Encoding") == "gzip", "the request did not ask for gzip"


@pytest.mark.points(1, hint="Loop on reply.read(chunk_size) until it returns b'', updating a sha256 and writing "
                            "each piece (chapter 6b, 'Streamed downloads').")
def test_download(student, lab_servers, tmp_path):
    """download() streams the body in pieces of chunk_size bytes at most and returns (size, sha256)."""
    url = base(lab_servers) + "/bytes/102400?seed=course"
    expected = fetch(url)
    student.download  # import the module (and http.client with it) before watching
    reads = spy(student, "http.client.HTTPResponse.read")
    try:
        got = student.download(url, tmp_path / "data.bin", chunk_size=8192)
        calls = reads.calls()
    finally:
        reads.restore()
    assert got == (len(expected), hashlib.sha256(expected).hexdigest()), f"download() returned {got!r}"
    assert (tmp_path / "data.bin").read_bytes() == expected, "the file differs from the server's body"
    unbounded = [args for args in calls if not args or int(args[0]) > 8192]
    assert calls and not unbounded, \
        f"reply.read() was called with {unbounded[:3]!r}: read at most chunk_size bytes at a time"


@pytest.mark.points(1, hint="The body is --boundary parts, each with Content-Disposition: form-data; name=...; "
                            "the file's also with filename= and Content-Type, then --boundary-- (chapter 6b, "
                            "'Uploading files: multipart/form-data').")
def test_upload_file(student, lab_servers, tmp_path):
    """upload_file() posts the file and the fields as multipart/form-data."""
    path = tmp_path / "notes.txt"
    path.write_text("line one\nline two\n", encoding="utf-8")
    answer = student.upload_file(base(lab_servers) + "/post", path, {"title": "Notes", "lang": "en"})
    assert answer["files"] == {"file": "line one\nline two\n"}, f"the server received files {answer['files']!r}"
    assert answer["form"] == {"title": "Notes", "lang": "en"}, f"the server received fields {answer['form']!r}"


@pytest.mark.points(1, hint="A RobotFileParser per site, read once and kept; can_fetch(agent, url) before the "
                            "GET, PermissionError when it says no (chapter 6b, 'Rules for robots: "
                            "urllib.robotparser').")
def test_polite_get(student, lab_servers):
    """polite_get() sends its agent, refuses what robots.txt forbids, and reads robots.txt once."""
    site = base(lab_servers)
    student.polite_get  # import the module (and urllib.robotparser with it) before watching
    reads = spy(student, "urllib.robotparser.RobotFileParser.read")
    try:
        answer = json.loads(student.polite_get(site + "/user-agent", agent="ex06-bot"))
        assert answer == {"user-agent": "ex06-bot"}, f"the server saw {answer!r}"
        with pytest.raises(PermissionError):
            student.polite_get(site + "/deny")
        assert student.polite_get(site + "/get").startswith(b"{"), "/get is allowed"
        calls = reads.calls()
    finally:
        reads.restore()
    assert len(calls) == 1, f"robots.txt was read {len(calls)} times for three pages of one site"


@pytest.mark.points(1, hint="SimpleXMLRPCServer(('127.0.0.1', 0), logRequests=False), register_function for add "
                            "and multiply, register_introspection_functions, serve_forever in a thread (chapter 6b, "
                            "'Remote procedure calls: xmlrpc').")
def test_start_calculator(student):
    """start_calculator() serves add, multiply and system.listMethods over XML-RPC."""
    server, url = student.start_calculator()
    try:
        with xmlrpc.client.ServerProxy(url) as proxy:
            assert proxy.add(2, 3) == 5 and proxy.add("con", "cat") == "concat", "add() does not add"
            assert proxy.multiply(4, 5) == 20, "multiply() does not multiply"
            methods = set(proxy.system.listMethods())
            assert {"add", "multiply", "system.listMethods"} <= methods, f"the server lists {sorted(methods)}"
    finally:
        server.shutdown()
        server.server_close()
