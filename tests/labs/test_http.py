"""Lab 6 (HTTP): the JSON API client (http.client, urllib) and the handler in 06_http/http_lab.py."""

from __future__ import annotations

import http.client
import json
import uuid

import pytest

from grader.helpers import serve_handler

pytestmark = pytest.mark.lab("http")


def api(handle):
    return handle.http.host, handle.http.port


@pytest.mark.points(2, hint="HTTPConnection(host, port).request('GET', path); getresponse(); json.loads(read()).")
def test_get_json(student, lab_servers):
    """get_json() returns the decoded JSON of GET /get?..."""
    token = uuid.uuid4().hex[:8]
    data = student.get_json(*api(lab_servers), f"/get?lab={token}")
    assert data["args"] == {"lab": token}, f"got {data!r}"


@pytest.mark.points(2, hint="On 3xx, read the body, take the Location header (urljoin for relative ones), ask again.")
def test_get_json_follows_redirects(student, lab_servers):
    """get_json() follows a chain of redirects (http.client does not)."""
    data = student.get_json(*api(lab_servers), "/redirect/3")
    assert data.get("url", "").endswith("/get"), f"expected the /get answer at the end of the chain, got {data!r}"


@pytest.mark.points(2, hint="response.status >= 400: raise ApiError(response.status, response.reason).")
def test_get_json_errors(student, lab_servers):
    """get_json() raises ApiError with the status for 404 and 500."""
    for status in (404, 500):
        with pytest.raises(student.ApiError) as info:
            student.get_json(*api(lab_servers), f"/status/{status}")
        assert info.value.status == status


@pytest.mark.points(2, hint="request('POST', path, body=json.dumps(payload).encode(), "
                            "headers={'Content-Type': 'application/json'}).")
def test_post_json(student, lab_servers):
    """post_json() sends JSON with its Content-Type; /post echoes it back."""
    payload = {"name": "Ada", "tags": ["x", "ü"], "n": 3}
    data = student.post_json(*api(lab_servers), "/post", payload)
    assert data["json"] == payload, f"the server received {data.get('json')!r}"
    assert data["headers"].get("Content-Type", "").startswith("application/json")


@pytest.mark.points(3, hint="urllib.request.Request(url, data=..., headers=...); urlopen(); response.url; "
                            "catch urllib.error.HTTPError and raise ApiError(exc.code, exc.reason).")
def test_fetch_json(student, lab_servers):
    """fetch_json() GETs (following redirects), POSTs JSON, and turns HTTP errors into ApiError."""
    base = f"http://{lab_servers.http.host}:{lab_servers.http.port}"
    url, data = student.fetch_json(f"{base}/redirect/2")
    assert url == f"{base}/get", f"final URL {url!r}"
    assert "args" in data
    url, data = student.fetch_json(f"{base}/post", {"a": [1, 2]})
    assert data["json"] == {"a": [1, 2]}
    with pytest.raises(student.ApiError) as info:
        student.fetch_json(f"{base}/status/418")
    assert info.value.status == 418


@pytest.fixture
def own_server(student):
    """Starts the student's handler (in the student's process) when the test body calls it."""
    servers = []

    def start():
        server = serve_handler(student, "GreetingHandler")
        servers.append(server)
        return server

    yield start
    for server in servers:
        try:
            server.close()
        except Exception:  # the student's process may be gone already (a failed check restarts it)
            pass


def ask(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection(*server.server_address, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, response.getheader("Content-Type", ""), response.getheader("Content-Length"), data
    except (OSError, http.client.HTTPException):
        server.raise_last()  # the handler's own exception says more than a dropped connection
        raise
    finally:
        connection.close()


@pytest.mark.points(3, hint="do_GET: urlsplit(self.path), parse_qs(query); send_response, send_header "
                            "(Content-Type, Content-Length), end_headers, wfile.write.")
def test_handler_get(student, own_server):
    """The handler greets by name (default "world"), answers JSON with a length, and 404s other paths."""
    own_server = own_server()
    status, kind, length, data = ask(own_server, "GET", "/hello?name=Ada")
    assert status == 200 and kind.startswith("application/json"), f"{status} {kind}"
    assert length is not None and int(length) == len(data), "Content-Length is missing or wrong"
    assert json.loads(data) == {"greeting": "Hello, Ada!"}
    assert json.loads(ask(own_server, "GET", "/hello")[3]) == {"greeting": "Hello, world!"}
    status, kind, _, data = ask(own_server, "GET", "/nowhere")
    assert status == 404 and "error" in json.loads(data)


@pytest.mark.points(3, hint="do_POST: read exactly Content-Length bytes from self.rfile; 400 when the JSON is bad.")
def test_handler_post(student, own_server):
    """POST /reverse reverses the text; a bad body gets 400 with an error, and the server keeps serving."""
    own_server = own_server()
    status, _, _, data = ask(own_server, "POST", "/reverse", json.dumps({"text": "héllo"}).encode(),
                             {"Content-Type": "application/json"})
    assert status == 200 and json.loads(data) == {"reversed": "olléh"}, f"{status} {data!r}"
    status, _, _, data = ask(own_server, "POST", "/reverse", b"not json", {"Content-Type": "application/json"})
    assert status == 400 and "error" in json.loads(data), f"a bad body got {status} {data!r}"
    status, _, _, data = ask(own_server, "POST", "/reverse", json.dumps({"text": 5}).encode())
    assert status == 400, f"a non-string text got {status}"
