"""The web chapter's server: httpbin-style endpoints, the static site, HTTPS, bad input.

Every test talks to the server with a real client: http.client,
urllib.request, curl, or a raw socket where the point is a malformed request.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import http.cookiejar
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from local_servers.http.server import Handler, HTTPService
from local_servers.service import Context
from local_servers.tls import ensure_certificates


@pytest.fixture(scope="module")
def web(servers):
    return servers.http


def base(web) -> str:
    return f"http://{web.host}:{web.port}"


def tls_base(web) -> str:
    return f"https://{web.host}:{web.tls_ports['https']}"


def get_json(url: str, **kwargs) -> dict:
    with urllib.request.urlopen(url, timeout=10, **kwargs) as reply:
        return json.load(reply)


def raw_request(address, data: bytes, timeout: float = 5) -> bytes:
    """Send bytes as they are and return everything the server answers until it closes."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


# ----------------------------------------------------------------------
# http.client


def test_http_client_get_with_query(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request("GET", "/get?course=python&tag=a&tag=b", headers={"X-Lesson-Id": "7"})
    reply = conn.getresponse()
    assert reply.status == 200 and reply.reason == "OK"
    assert reply.getheader("Content-Type") == "application/json"
    body = json.loads(reply.read())
    conn.close()
    assert set(body) == {"args", "headers", "origin", "url"}
    assert body["args"] == {"course": "python", "tag": ["a", "b"]}
    assert body["headers"]["X-Lesson-Id"] == "7"  # httpbin's Title-Case names
    assert body["headers"]["Host"] == f"{web.host}:{web.port}"
    assert body["origin"] == "127.0.0.1"
    assert body["url"] == f"{base(web)}/get?course=python&tag=a&tag=b"


def test_http_client_post_json_is_echoed_on_a_kept_alive_connection(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    payloads = [{"name": "alice", "langs": ["python", "c"]}, {"n": 2, "ok": True, "text": "Grüße"}]
    for payload in payloads:
        conn.request("POST", "/post", body=json.dumps(payload), headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        assert reply.status == 200
        assert not reply.will_close, "HTTP/1.1 replies should keep the connection open"
        body = json.loads(reply.read())
        assert body["json"] == payload
        assert body["data"] == json.dumps(payload)
        assert body["form"] == {} and body["files"] == {}
        assert set(body) == {"args", "data", "files", "form", "headers", "json", "origin", "url"}
    conn.close()


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_have_their_own_endpoints(web, method):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request(method, f"/{method.lower()}?x=1", body=b"plain text")
    reply = conn.getresponse()
    body = json.loads(reply.read())
    conn.close()
    assert reply.status == 200
    assert body["data"] == "plain text" and body["json"] is None and body["args"] == {"x": "1"}


def test_head_sends_the_length_but_no_body(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request("GET", "/json")
    full = conn.getresponse().read()
    conn.request("HEAD", "/json")
    reply = conn.getresponse()
    assert reply.status == 200
    assert int(reply.getheader("Content-Length")) == len(full)
    assert reply.read() == b""
    conn.request("GET", "/uuid")  # and the connection is still in step
    assert "uuid" in json.loads(conn.getresponse().read())
    conn.close()


def test_anything_answers_any_method_and_path(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request("PATCH", "/anything/some/path?q=1", body=b"\xff\x00binary")
    body = json.loads(conn.getresponse().read())
    conn.close()
    assert body["method"] == "PATCH"
    assert body["url"].endswith("/anything/some/path?q=1")
    assert body["data"] == "data:application/octet-stream;base64,/wBiaW5hcnk="


def test_chunked_request_body(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request("POST", "/post", body=iter([b'{"parts": ', b"[1, 2", b", 3]}"]),
                 headers={"Content-Type": "application/json"}, encode_chunked=True)
    body = json.loads(conn.getresponse().read())
    conn.close()
    assert body["json"] == {"parts": [1, 2, 3]}


def test_multipart_upload_is_parsed_into_form_and_files(web):
    boundary = "course-boundary-42"
    binary = bytes(range(256))
    parts = [
        (b'Content-Disposition: form-data; name="user"\r\n\r\nalice', ),
        (b'Content-Disposition: form-data; name="note"; filename="note.txt"\r\n'
         b"Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n", ),
        (b'Content-Disposition: form-data; name="blob"; filename="blob.bin"\r\n'
         b"Content-Type: application/octet-stream\r\n\r\n" + binary, ),
    ]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part[0] + b"\r\n" for part in parts)
    body += b"--" + boundary.encode() + b"--\r\n"
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request("POST", "/post", body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    result = json.loads(conn.getresponse().read())
    conn.close()
    assert result["form"] == {"user": "alice"}
    assert result["files"]["note"] == "line one\r\nline two\r\n"
    import base64
    assert result["files"]["blob"] == "data:application/octet-stream;base64," + base64.b64encode(binary).decode()
    assert result["data"] == "" and result["json"] is None


def test_stream_is_chunked_json_lines(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request("GET", "/stream/5")
    reply = conn.getresponse()
    assert reply.getheader("Transfer-Encoding") == "chunked"
    lines = reply.read().decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1, 2, 3, 4]
    conn.request("GET", "/ip")  # the chunked reply ended where it should
    assert json.loads(conn.getresponse().read()) == {"origin": "127.0.0.1"}
    conn.close()


def test_bytes_are_deterministic_with_a_seed_and_capped(web):
    with urllib.request.urlopen(f"{base(web)}/bytes/64?seed=7", timeout=10) as reply:
        first = reply.read()
        assert reply.headers["Content-Type"] == "application/octet-stream"
    with urllib.request.urlopen(f"{base(web)}/bytes/64?seed=7", timeout=10) as reply:
        assert reply.read() == first and len(first) == 64
    with urllib.request.urlopen(f"{base(web)}/bytes/64?seed=8", timeout=10) as reply:
        assert reply.read() != first
    with urllib.request.urlopen(f"{base(web)}/bytes/999999999", timeout=10) as reply:
        assert len(reply.read()) == 100 * 1024


def test_sample_documents(web):
    assert "slideshow" in get_json(f"{base(web)}/json")
    with urllib.request.urlopen(f"{base(web)}/xml", timeout=10) as reply:
        assert ET.fromstring(reply.read()).tag == "slideshow"
    with urllib.request.urlopen(f"{base(web)}/html", timeout=10) as reply:
        assert reply.headers.get_content_charset() == "utf-8" and b"<h1>" in reply.read()
    with urllib.request.urlopen(f"{base(web)}/encoding/utf8", timeout=10) as reply:
        assert "Привет" in reply.read().decode("utf-8")
    first, second = get_json(f"{base(web)}/uuid")["uuid"], get_json(f"{base(web)}/uuid")["uuid"]
    assert first != second and len(first) == 36
    assert get_json(f"{base(web)}/user-agent")["user-agent"].startswith("Python-urllib/")
    assert get_json(f"{base(web)}/headers")["headers"]["Accept-Encoding"] == "identity"


def test_gzip_reply_is_compressed(web):
    with urllib.request.urlopen(f"{base(web)}/gzip", timeout=10) as reply:
        assert reply.headers["Content-Encoding"] == "gzip"
        body = json.loads(gzip.decompress(reply.read()))
    assert body["gzipped"] is True and body["method"] == "GET"


def test_robots_txt_is_understood_by_robotparser(web):
    import urllib.robotparser
    robots = urllib.robotparser.RobotFileParser(f"{base(web)}/robots.txt")
    robots.read()
    assert robots.can_fetch("*", f"{base(web)}/get")
    assert not robots.can_fetch("*", f"{base(web)}/deny")


def test_landing_page_lists_endpoints_and_links_the_site(web):
    with urllib.request.urlopen(f"{base(web)}/", timeout=10) as reply:
        page = reply.read().decode()
    for path in ("/get", "/post", "/status/", "/basic-auth/", "/delay/", 'href="/site/"'):
        assert path in page


def test_response_headers_come_from_the_query(web):
    with urllib.request.urlopen(f"{base(web)}/response-headers?X-Course=python", timeout=10) as reply:
        assert reply.headers["X-Course"] == "python"
    with pytest.raises(urllib.error.HTTPError) as error:  # no header injection
        urllib.request.urlopen(f"{base(web)}/response-headers?X-A=1%0d%0aX-B:%202", timeout=10)
    assert error.value.code == 400


# ----------------------------------------------------------------------
# urllib.request


def test_urlopen_request_with_headers_and_form_data(web):
    data = urllib.parse.urlencode({"custname": "Bob", "topping": ["cheese", "olive"]}, doseq=True).encode()
    request = urllib.request.Request(f"{base(web)}/post", data=data,
                                     headers={"User-Agent": "course-test/1.0", "X-Course": "web"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200
        body = json.load(reply)
    assert body["form"] == {"custname": "Bob", "topping": ["cheese", "olive"]}
    assert body["headers"]["User-Agent"] == "course-test/1.0"
    assert body["headers"]["X-Course"] == "web"
    assert body["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert body["data"] == ""


@pytest.mark.parametrize("code", [404, 500, 503])
def test_status_errors_raise_http_error(web, code):
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{base(web)}/status/{code}", timeout=10)
    assert error.value.code == code
    error.value.close()


def test_status_codes_with_extras(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    for path, status in (("/status/418", 418), ("/status/204", 204), ("/status/200", 200), ("/status/99", 400)):
        conn.request("GET", path)
        reply = conn.getresponse()
        body = reply.read()
        assert reply.status == status, path
    assert b"teapot" not in body
    conn.request("GET", "/status/418")
    assert b"teapot" in conn.getresponse().read()
    conn.request("GET", "/status/401")
    reply = conn.getresponse()
    reply.read()
    assert reply.getheader("WWW-Authenticate") == 'Basic realm="Fake Realm"'
    conn.close()


def test_redirects_are_followed(web):
    with urllib.request.urlopen(f"{base(web)}/redirect/3", timeout=10) as reply:
        assert reply.url == f"{base(web)}/get"
    with urllib.request.urlopen(f"{base(web)}/absolute-redirect/2", timeout=10) as reply:
        assert reply.url == f"{base(web)}/get"
    target = urllib.parse.quote("/get?from=redirect-to", safe="")
    with urllib.request.urlopen(f"{base(web)}/redirect-to?url={target}&status_code=307", timeout=10) as reply:
        assert json.load(reply)["args"] == {"from": "redirect-to"}


def test_redirect_locations(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    expected = [("/redirect/2", 302, "/relative-redirect/1"), ("/relative-redirect/1", 302, "/get"),
                ("/absolute-redirect/2", 302, f"{base(web)}/absolute-redirect/1"),
                ("/redirect-to?url=http://example.test/x&status_code=301", 301, "http://example.test/x"),
                ("/redirect-to?url=/get&status_code=200", 302, "/get"),
                ("/status/303", 303, "/redirect/1")]
    for path, status, location in expected:
        conn.request("GET", path)
        reply = conn.getresponse()
        reply.read()
        assert (reply.status, reply.getheader("Location")) == (status, location), path
    conn.close()


def test_basic_auth_with_the_handler(web):
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, base(web), "alice", "alice-pw")
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))
    with opener.open(f"{base(web)}/basic-auth/alice/alice-pw", timeout=10) as reply:
        assert json.load(reply) == {"authenticated": True, "user": "alice"}


def test_basic_auth_refuses_a_wrong_password(web):
    request = urllib.request.Request(f"{base(web)}/basic-auth/alice/alice-pw",
                                     headers={"Authorization": "Basic YWxpY2U6d3Jvbmc="})  # alice:wrong
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 401
    assert error.value.headers["WWW-Authenticate"].startswith("Basic realm=")
    error.value.close()


def test_cookies_with_the_cookie_processor(web):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base(web)}/cookies/set?flavour=oatmeal&count=3", timeout=10) as reply:
        assert reply.url == f"{base(web)}/cookies"
        assert json.load(reply) == {"cookies": {"flavour": "oatmeal", "count": "3"}}
    assert {cookie.name for cookie in jar} == {"flavour", "count"}
    with opener.open(f"{base(web)}/cookies/delete?flavour", timeout=10) as reply:
        assert json.load(reply) == {"cookies": {"count": "3"}}
    with opener.open(f"{base(web)}/cookies/set/name/ginger", timeout=10) as reply:
        assert json.load(reply)["cookies"] == {"count": "3", "name": "ginger"}


# ----------------------------------------------------------------------
# HTTPS


def test_https_verified_with_the_course_ca(web):
    context = ssl.create_default_context(cafile=web.ca_file)
    with urllib.request.urlopen(f"{tls_base(web)}/get?secure=yes", timeout=10, context=context) as reply:
        body = json.load(reply)
    assert body["url"] == f"{tls_base(web)}/get?secure=yes"
    conn = http.client.HTTPSConnection(web.host, web.tls_ports["https"], timeout=10, context=context)
    conn.request("POST", "/post", body=b'{"tls": true}', headers={"Content-Type": "application/json"})
    assert json.loads(conn.getresponse().read())["json"] == {"tls": True}
    conn.request("GET", "/ip")  # a second request on the same TLS connection
    assert json.loads(conn.getresponse().read()) == {"origin": "127.0.0.1"}
    conn.close()


def test_https_is_rejected_without_the_course_ca(web):
    context = ssl.create_default_context()  # the system's CAs only: verification is on
    with pytest.raises(urllib.error.URLError) as error:
        urllib.request.urlopen(f"{tls_base(web)}/get", timeout=10, context=context)
    assert isinstance(error.value.reason, ssl.SSLCertVerificationError)


def test_silent_and_plain_text_clients_do_not_stall_https(web):
    context = ssl.create_default_context(cafile=web.ca_file)
    tls_address = (web.host, web.tls_ports["https"])
    with socket.create_connection(tls_address, timeout=10) as silent, \
            socket.create_connection(tls_address, timeout=10) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain text to the TLS port
        started = time.monotonic()
        assert get_json(f"{tls_base(web)}/get", context=context)["url"].startswith("https://")
        assert time.monotonic() - started < 2, "the handshake of a silent client held up another"
        try:
            answer = plain.recv(100)
        except ConnectionResetError:
            answer = b""
        assert answer == b"" or answer[:1] == b"\x15", "expected a TLS alert or a closed connection"
        silent.sendall(b"")


# ----------------------------------------------------------------------
# curl, a real third-party client

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@needs_curl
def test_curl_http_post_json(web):
    result = subprocess.run(["curl", "-sS", "--max-time", "10", "-H", "Content-Type: application/json",
                             "-d", '{"from": "curl"}', f"{base(web)}/post"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["json"] == {"from": "curl"}


@needs_curl
def test_curl_https_with_the_course_ca(web):
    result = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", web.ca_file,
                             "-F", "user=alice", f"{tls_base(web)}/post"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["form"] == {"user": "alice"}
    refused = subprocess.run(["curl", "-sS", "--max-time", "10", f"{tls_base(web)}/get"],
                             capture_output=True, text=True, timeout=20)
    assert refused.returncode == 60, "curl must refuse a certificate it cannot verify"


# ----------------------------------------------------------------------
# The static site


@pytest.mark.parametrize("path, content_type, marker", [
    ("/site/", "text/html; charset=utf-8", b"<title>The course's little web site</title>"),
    ("/site/index.html", "text/html; charset=utf-8", b"about.html"),
    ("/site/about.html", "text/html; charset=utf-8", b"About this site"),
    ("/site/form.html", "text/html; charset=utf-8", b'action="/post"'),
    ("/site/style.css", "text/css; charset=utf-8", b"font-family"),
    ("/site/logo.png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("/site/data.json", "application/json", b'"chapters"'),
])
def test_static_site_files(web, path, content_type, marker):
    with urllib.request.urlopen(base(web) + path, timeout=10) as reply:
        assert reply.headers["Content-Type"] == content_type
        body = reply.read()
    assert marker in body
    assert int(reply.headers["Content-Length"]) == len(body)


def test_static_site_json_and_image_are_whole(web):
    data = get_json(f"{base(web)}/site/data.json")
    assert data["chapters"][0]["title"] == "Sockets"
    with urllib.request.urlopen(f"{base(web)}/site/logo.png", timeout=10) as reply:
        png = reply.read()
    assert png[12:16] == b"IHDR" and int.from_bytes(png[16:20], "big") == 64 and png.endswith(b"IEND\xaeB`\x82")


def test_form_page_posts_to_post(web):
    from html.parser import HTMLParser

    class Fields(HTMLParser):
        def __init__(self):
            super().__init__()
            self.form, self.names = None, set()

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "form":
                self.form = attrs
            elif tag in ("input", "textarea") and "name" in attrs:
                self.names.add(attrs["name"])

    with urllib.request.urlopen(f"{base(web)}/site/form.html", timeout=10) as reply:
        parser = Fields()
        parser.feed(reply.read().decode())
    assert parser.form == {"method": "post", "action": "/post"}
    data = urllib.parse.urlencode({name: "x" for name in sorted(parser.names)}).encode()
    posted = get_json(base(web) + parser.form["action"], data=data)
    assert set(posted["form"]) == parser.names


def test_static_site_redirects_missing_and_conditional(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request("GET", "/site")
    reply = conn.getresponse()
    reply.read()
    assert (reply.status, reply.getheader("Location")) == (301, "/site/")
    conn.request("GET", "/site/nothing-here.html")
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 404
    conn.request("GET", "/site/about.html")
    reply = conn.getresponse()
    reply.read()
    modified = reply.getheader("Last-Modified")
    conn.request("GET", "/site/about.html", headers={"If-Modified-Since": modified})
    reply = conn.getresponse()
    assert reply.status == 304 and reply.read() == b""
    conn.close()


@pytest.mark.parametrize("path", [
    "/site/../../../tls/ca.pem",
    "/site/%2e%2e/%2e%2e/%2e%2e/tls/ca.pem",
    "/site/..%2f..%2f..%2ftls%2fca.pem",
    "/site/%252e%252e/%252e%252e/%252e%252e/tls/ca.pem",
    "/site/..\\..\\..\\tls\\ca.pem",
    "/site/%2e%2e%5c%2e%2e%5c%2e%2e%5ctls%5cca.pem",
    "/site//etc/passwd",
    "/site/../../../../../../../../etc/passwd",
])
def test_directory_traversal_is_confined(web, servers, path):
    outside = Path(servers.state_dir) / "tls" / "ca.pem"
    assert outside.exists(), "the file the attack aims at is really there"
    response = raw_request(web.address, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert status_of(response) == 404
    assert b"BEGIN CERTIFICATE" not in response and b"root:" not in response


# ----------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("request_bytes, status", [
    (b"NONSENSE\r\n\r\n", 400),
    (b"GET /get HTTP/1.1 extra\r\n\r\n", 400),
    (b"GET /get HTTP/9.9\r\n\r\n", 505),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /get HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", 431),
    (b"GET /get HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", 431),
    (b"BREW /get HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    (b"POST /get HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 405),
    (b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: nine\r\n\r\n", 400),
    (b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"POST /post HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32) + b"\r\n\r\n", 400),  # TLS to the plain port
])
def test_bad_requests_get_the_right_error(web, request_bytes, status):
    response = raw_request(web.address, request_bytes)
    assert status_of(response) == status
    assert get_json(f"{base(web)}/ip") == {"origin": "127.0.0.1"}  # and the server carries on


def test_an_oversized_body_is_refused_before_it_is_sent(web):
    with socket.create_connection(web.address, timeout=5) as sock:
        sock.sendall(b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert status_of(sock.recv(4096)) == 413  # not "100 Continue"


def test_folded_request_headers_cannot_inject_response_headers(web):
    response = raw_request(web.address, b"GET /absolute-redirect/1 HTTP/1.1\r\nHost: x\r\n Set-Cookie: evil=1\r\n"
                                        b"Origin: o\r\n X-Evil: 1\r\nConnection: close\r\n\r\n")
    head = response.split(b"\r\n\r\n")[0].lower()
    assert status_of(response) == 302
    assert b"\r\nset-cookie:" not in head and b"\r\nx-evil:" not in head


def test_method_not_allowed_says_what_is(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request("DELETE", "/get")
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 405 and reply.getheader("Allow") == "GET, HEAD, OPTIONS"
    conn.request("OPTIONS", "/post")
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 200 and reply.getheader("Allow") == "POST, OPTIONS"
    conn.close()


def test_unknown_path_is_404_and_keeps_the_connection(web):
    conn = http.client.HTTPConnection(web.host, web.port, timeout=10)
    conn.request("GET", "/no/such/endpoint")
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 404
    conn.request("GET", "/ip")
    assert conn.getresponse().status == 200
    conn.close()


def test_clients_that_vanish_do_not_disturb_others(web):
    for data in (b"GET /get HTTP/1.1\r\nHost:", b"POST /post HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort",
                 bytes(range(256)), b"GET /delay/0.2 HTTP/1.1\r\nHost: x\r\n\r\n"):
        with socket.create_connection(web.address, timeout=5) as sock:
            sock.sendall(data)  # and hang up at once
    assert get_json(f"{base(web)}/get")["args"] == {}


def test_no_unexpected_errors_in_the_log(web, servers):
    log = Path(servers.log_file).read_text(encoding="utf-8", errors="replace")
    assert "local_servers.http ERROR" not in log
    assert "Exception occurred during processing of request" not in log  # socketserver's stderr report


# ----------------------------------------------------------------------
# Concurrency and stopping


def test_a_slow_request_does_not_block_others(web):
    results = {}

    def slow():
        started = time.monotonic()
        results["body"] = get_json(f"{base(web)}/delay/2")
        results["slow"] = time.monotonic() - started

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert get_json(f"{base(web)}/get")["url"].endswith("/get")
    quick = time.monotonic() - started
    thread.join(10)
    assert quick < 1.0, f"/get waited {quick:.2f} s behind /delay/2"
    assert results["slow"] >= 2.0
    assert set(results["body"]) == {"args", "data", "files", "form", "headers", "origin", "url"}


@pytest.fixture
def in_process(tmp_path):
    """The service started in this process (no server process), to look at start and stop directly."""
    tls = ensure_certificates(tmp_path / "tls")
    HTTPService.seed(tmp_path / "data" / "http")
    ctx = Context(host="127.0.0.1", ports={"http": 0, "https": 0}, data_dir=tmp_path / "data", tls=tls)
    loop = asyncio.new_event_loop()
    service = HTTPService(ctx)
    loop.run_until_complete(service.start())
    service.stopped = False

    def stop():
        loop.run_until_complete(service.stop())
        service.stopped = True

    service.stop_now = stop
    yield service
    if not service.stopped:
        stop()
    loop.close()


def test_a_failing_route_costs_one_500_not_the_server(in_process, monkeypatch):
    def broken(self):
        raise ZeroDivisionError("a bug in a route")

    monkeypatch.setattr(Handler, "route_uuid", broken)
    url = f"http://127.0.0.1:{in_process.info()['port']}"
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{url}/uuid", timeout=10)
    assert error.value.code == 500
    error.value.close()
    assert get_json(f"{url}/ip") == {"origin": "127.0.0.1"}


def test_stop_is_prompt_and_releases_the_ports(in_process):
    info = in_process.info()
    address = ("127.0.0.1", info["port"])
    assert get_json(f"http://127.0.0.1:{info['port']}/site/data.json")["chapters"]
    with socket.create_connection(address, timeout=5) as idle, \
            socket.create_connection(("127.0.0.1", info["tls_ports"]["https"]), timeout=5), \
            socket.create_connection(address, timeout=5) as waiting:
        idle.sendall(b"GET /ip HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while not reply.endswith(b"}\n"):  # the whole JSON reply; the connection stays open, idle
            reply += idle.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200 ")
        waiting.sendall(b"GET /delay/10 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        started = time.monotonic()
        in_process.stop_now()
        assert time.monotonic() - started < 2
        for port in (info["port"], info["tls_ports"]["https"]):
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
        idle.settimeout(2)
        assert idle.recv(100) == b""  # the idle keep-alive connection was closed, not left hanging


# ----------------------------------------------------------------------
# Request smuggling and malformed chunking (RFC 9112 §6.1, §6.3): 400 and close

HIDDEN = b"GET /deny HTTP/1.1\r\nHost: x\r\n\r\n"  # the second request a smuggler hides in a body


def post(headers: bytes, body: bytes) -> bytes:
    return b"POST /post HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body


@pytest.mark.parametrize("request_bytes", [
    post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n", b"0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding: xchunked\r\n", b"5\r\nhello\r\n0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding: chunked \r\n", b"5\r\nhello\r\n0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding: chunked, identity\r\n", b"5\r\nhello\r\n0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding : chunked\r\nContent-Length: 3\r\n", b"0\r\n\r\n" + HIDDEN),
    post(b"Content-Length: 5\r\nContent-Length: 37\r\n", b"hello" + HIDDEN),
    post(b"Content-Length: 5, 37\r\n", b"hello" + HIDDEN),
    post(b"Transfer-Encoding: chunked\r\n", b"-1\r\nhello\r\n0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding: chunked\r\n", b"+5\r\nhello\r\n0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding: chunked\r\n", b"0" * 17 + b"5\r\nhello\r\n0\r\n\r\n" + HIDDEN),
    post(b"Transfer-Encoding: chunked\r\n", b"5" * 2000 + b"\r\n"),
    post(b"Transfer-Encoding: chunked\r\n", b"5\r\nhelloXX0\r\n\r\n" + HIDDEN),
], ids=["cl-te", "te-cl", "xchunked", "chunked-space", "chunked-identity", "te-twice", "space-before-colon",
        "two-lengths", "length-list", "chunk-minus-one", "chunk-0x", "chunk-plus", "chunk-17-digits",
        "chunk-overlong-line", "chunk-no-crlf"])
def test_ambiguous_bodies_get_400_and_the_connection_closes(web, request_bytes):
    response = raw_request(web.address, request_bytes, timeout=10)
    assert status_of(response) == 400
    assert response.count(b"HTTP/1.") == 1, "the hidden request was answered too"
    assert b"\r\nconnection: close\r\n" in response.lower()


def test_one_content_length_repeated_is_still_one_body(web):
    response = raw_request(web.address, post(b"Content-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n",
                                              b"hello"))
    assert status_of(response) == 200
    assert json.loads(response.split(b"\r\n\r\n", 1)[1])["data"] == "hello"


def test_chunk_extensions_and_hex_sizes_are_read(web):
    response = raw_request(web.address, post(b"Transfer-Encoding: chunked\r\nConnection: close\r\n",
                                              b"A;name=value\r\n0123456789\r\n0\r\n\r\n"))
    assert status_of(response) == 200
    assert json.loads(response.split(b"\r\n\r\n", 1)[1])["data"] == "0123456789"


# ----------------------------------------------------------------------
# Slow and too many clients: 408, 503, bounded threads


@pytest.fixture(scope="module")
def strict_web(tmp_path_factory):
    """An HTTP server with a 1-second head timeout and room for three connections per address."""
    from local_servers import control

    state_dir = tmp_path_factory.mktemp("strict-http")
    handle = control.start(state_dir, ephemeral=True, names=["http"],
                           options={"http_head_timeout": 1, "http_max_per_address": 3})
    yield handle.http
    control.stop(state_dir)


def test_a_slowloris_head_gets_408_and_is_closed(strict_web):
    with socket.create_connection(strict_web.address, timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /ip HTTP/1.1\r\n")
        answer = b""
        for _ in range(30):  # one header byte every 0.2 s: each byte alone would satisfy an idle timeout
            time.sleep(0.2)
            try:
                sock.sendall(b"X")
            except OSError:
                break
            sock.settimeout(0.01)
            try:
                answer += sock.recv(4096)
            except TimeoutError:
                continue
            if answer.endswith(b"\r\n\r\n"):
                break
        sock.settimeout(5)
        while not answer.endswith(b"\r\n\r\n"):
            chunk = sock.recv(4096)
            assert chunk, f"closed without a reply: {answer!r}"
            answer += chunk
        assert status_of(answer) == 408
        assert time.monotonic() - started < 4
        try:
            assert sock.recv(100) == b""  # and closed
        except ConnectionResetError:
            pass  # closed with our unread header bytes in its buffer: also closed


def test_an_idle_connection_is_not_cut_by_the_head_timeout(strict_web):
    with socket.create_connection(strict_web.address, timeout=10) as sock:
        time.sleep(1.5)  # longer than the head timeout, but no request has begun
        sock.sendall(b"GET /ip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert status_of(reply) == 200


def _hold_three_places(address) -> list:
    """Three served keep-alive connections. An earlier test's connections may still hold places for a
    moment after their close (the server frees a place when its thread has seen the close): retry."""
    deadline = time.monotonic() + 10
    while True:
        held = [socket.create_connection(address, timeout=10) for _ in range(3)]
        statuses = []
        for sock in held:
            sock.sendall(b"GET /ip HTTP/1.1\r\nHost: x\r\n\r\n")
            statuses.append(status_of(sock.recv(4096)))
        if statuses == [200, 200, 200] or time.monotonic() > deadline:
            return held, statuses
        for sock in held:
            sock.close()
        time.sleep(0.1)


def test_connections_beyond_the_limit_get_503_and_later_ones_are_served(strict_web):
    held, statuses = _hold_three_places(strict_web.address)
    try:
        assert statuses == [200, 200, 200]  # each is served: it holds one of the three places
        refused = raw_request(strict_web.address, b"")
        assert status_of(refused) == 503
    finally:
        held.pop().close()
    deadline = time.monotonic() + 10
    while True:  # the freed place is given back once the server saw the close
        reply = raw_request(strict_web.address, b"GET /ip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        if status_of(reply) == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status_of(reply) == 200
    for sock in held:
        sock.close()


def test_https_connections_beyond_the_limit_are_closed(strict_web):
    address = (strict_web.host, strict_web.tls_ports["https"])
    context = strict_web.ssl_context()
    held = [context.wrap_socket(socket.create_connection(address, timeout=10), server_hostname="localhost")
            for _ in range(3)]
    try:
        with socket.create_connection(address, timeout=10) as raw:
            with pytest.raises(OSError):  # ssl.SSLError is an OSError too: no handshake, just the end
                context.wrap_socket(raw, server_hostname="localhost").close()
    finally:
        for sock in held:
            sock.close()


def test_https_pipelined_requests_then_close_notify_get_both_replies(web):
    """RFC 8446 §6.1: close_notify ends the client's half only; the server still answers."""
    from tls_client import TLSClient

    with socket.create_connection((web.host, web.tls_ports["https"]), timeout=10) as sock:
        client = TLSClient(sock, web.ssl_context())
        client.send(b"GET /ip HTTP/1.1\r\nHost: x\r\n\r\nGET /uuid HTTP/1.1\r\nHost: x\r\n\r\n")
        client.close_notify()
        replies = client.read_to_end()
    assert replies.count(b"HTTP/1.1 200 OK\r\n") == 2
