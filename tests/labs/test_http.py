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


def served_by(data, handle) -> bool:
    """The httpbin-style answer names the Host the request was sent to: the server the test gave."""
    return isinstance(data, dict) and f"//{handle.http.host}:{handle.http.port}/" in str(data.get("url", ""))


def uses_given_server(student, handle) -> None:
    """The error checks start with an answer that must come from the server given: a module that talks
    to a fixed address fails them on every machine, not only where no course server runs."""
    data = student.get_json(*api(handle), "/get?control=1")
    assert served_by(data, handle), f"before the error cases: GET /get answered {data!r}, not from the server given"


@pytest.mark.points(2, hint="One request to the host and port you are given, then read and decode the JSON body "
                            "(see chapter 6, 'http.client: a GET request').")
def test_get_json(student, lab_servers):
    """get_json() returns the decoded JSON of GET /get?..., from the server it is given."""
    token = uuid.uuid4().hex[:8]
    data = student.get_json(*api(lab_servers), f"/get?lab={token}&word=%C3%BC")
    assert isinstance(data, dict) and data.get("args") == {"lab": token, "word": "ü"}, f"get_json() returned {data!r}"
    assert served_by(data, lab_servers), f"the answer came from {data.get('url')!r}, not from the server given"


@pytest.mark.points(2, hint="http.client does not follow redirects: a 3xx answer names the next URL in its "
                            "Location header, which may be relative (see chapter 6, 'Redirects').")
def test_get_json_follows_redirects(student, lab_servers):
    """get_json() follows a chain of redirects (http.client does not)."""
    data = student.get_json(*api(lab_servers), "/redirect/3")
    assert isinstance(data, dict) and str(data.get("url", "")).endswith("/get"), \
        f"the chain ends at /get; get_json() returned {data!r}"
    assert served_by(data, lab_servers), f"the answer came from {data.get('url')!r}, not from the server given"


@pytest.mark.points(1, hint="A server may redirect for ever: count the redirects and stop after the limit the "
                            "docstring gives (see chapter 6, 'Redirects').")
def test_get_json_redirect_limit(student, lab_servers):
    """get_json() raises ApiError instead of following more than 5 redirects."""
    uses_given_server(student, lab_servers)
    try:
        data = student.get_json(*api(lab_servers), "/redirect/9")
    except student.ApiError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:
        pytest.fail(f"nine redirects in a row made get_json() raise {type(exc).__name__}: {exc}, not ApiError")
    pytest.fail(f"get_json() followed nine redirects and returned {data!r}")


@pytest.mark.points(2, hint="A status of 400 or more is an answer, not an exception of http.client: look at "
                            "response.status (see chapter 6, 'Other methods, and statuses that are not 200').")
def test_get_json_errors(student, lab_servers):
    """get_json() raises ApiError with the status for 404 and 500."""
    uses_given_server(student, lab_servers)
    for status in (404, 500):
        with pytest.raises(student.ApiError) as info:
            student.get_json(*api(lab_servers), f"/status/{status}")
        assert info.value.status == status, f"/status/{status} raised ApiError with status {info.value.status!r}"


@pytest.mark.points(2, hint="A JSON body is bytes, announced by its Content-Type header (see chapter 6, "
                            "'http.client: a JSON POST, on the same connection').")
def test_post_json(student, lab_servers):
    """post_json() sends JSON with its Content-Type to the server it is given; /post echoes it back."""
    payload = {"name": "Ada", "tags": ["x", "ü"], "n": 3}
    data = student.post_json(*api(lab_servers), "/post", payload)
    assert isinstance(data, dict) and data.get("json") == payload, \
        f"sent {payload!r}, the server received {data.get('json') if isinstance(data, dict) else data!r}"
    kind = data["headers"].get("Content-Type", "")
    assert kind.startswith("application/json"), f"the server received Content-Type {kind!r}"
    assert served_by(data, lab_servers), f"the answer came from {data.get('url')!r}, not from the server given"


@pytest.mark.points(1, hint="urllib follows redirects itself; the response knows the URL it ended at (see "
                            "chapter 6, 'Redirects').")
def test_fetch_json_get(student, lab_servers):
    """fetch_json() GETs the URL it is given, follows redirects and returns the final URL with the JSON."""
    base = f"http://{lab_servers.http.host}:{lab_servers.http.port}"
    result = student.fetch_json(f"{base}/redirect/2")
    assert isinstance(result, tuple) and len(result) == 2, f"fetch_json() returned {result!r}, not (url, json)"
    url, data = result
    assert url == f"{base}/get" and isinstance(data, dict) and "args" in data, f"fetch_json() returned {result!r}"


@pytest.mark.points(1, hint="Giving urllib.request.Request data makes it a POST; say what the body is with a "
                            "Content-Type header (see chapter 6, 'Request: sending data').")
def test_fetch_json_post(student, lab_servers):
    """fetch_json() POSTs a payload as JSON."""
    base = f"http://{lab_servers.http.host}:{lab_servers.http.port}"
    url, data = student.fetch_json(f"{base}/post", {"a": [1, 2], "ü": "é"})
    assert isinstance(data, dict) and data.get("json") == {"a": [1, 2], "ü": "é"}, \
        f"the server received {data.get('json') if isinstance(data, dict) else data!r}"


@pytest.mark.points(1, hint="urlopen raises HTTPError for a status of 400 or more; it carries the code (see "
                            "chapter 6, 'Errors: HTTPError, URLError and timeouts').")
def test_fetch_json_errors(student, lab_servers):
    """fetch_json() turns an HTTP error status into ApiError."""
    base = f"http://{lab_servers.http.host}:{lab_servers.http.port}"
    with pytest.raises(student.ApiError) as info:
        student.fetch_json(f"{base}/status/418")
    assert info.value.status == 418, f"/status/418 raised ApiError with status {info.value.status!r}"


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


def check_json(status, kind, length, data, expected_status):
    assert status == expected_status, f"expected status {expected_status}, the handler answered {status} {data[:200]!r}"
    assert kind.startswith("application/json"), f"Content-Type: {kind!r}"
    assert length is not None and int(length) == len(data), \
        f"Content-Length: {length!r} for a body of {len(data)} bytes"
    try:
        return json.loads(data)
    except ValueError:
        pytest.fail(f"the body is not JSON: {data[:200]!r}")


@pytest.mark.points(2, hint="The query string is in self.path after '?': split the URL and parse the query; send "
                            "the status, the headers (Content-Type, Content-Length), a blank line, then the body "
                            "(see chapter 6b, 'http.server: a handler of your own').")
def test_handler_get(student, own_server):
    """GET /hello greets by name (default "world") with JSON and its Content-Length."""
    server = own_server()
    answer = check_json(*ask(server, "GET", "/hello?name=Ad%C3%A0"), 200)
    assert answer == {"greeting": "Hello, Adà!"}, f"GET /hello?name=Adà answered {answer!r}"
    answer = check_json(*ask(server, "GET", "/hello"), 200)
    assert answer == {"greeting": "Hello, world!"}, f"GET /hello answered {answer!r}"


@pytest.mark.points(1, hint="A path the API does not have is 404, with a JSON error body (see chapter 6b, "
                            "'http.server: a handler of your own').")
def test_handler_get_unknown_path(student, own_server):
    """GET of an unknown path gets 404 with a JSON error."""
    answer = check_json(*ask(own_server(), "GET", "/nowhere"), 404)
    assert "error" in answer, f"GET /nowhere answered {answer!r}"


@pytest.mark.points(2, hint="Read exactly Content-Length bytes of body from self.rfile, then decode the JSON "
                            "(see chapter 6b, 'http.server: a handler of your own').")
def test_handler_post(student, own_server):
    """POST /reverse reverses the text."""
    answer = check_json(*ask(own_server(), "POST", "/reverse", json.dumps({"text": "héllo"}).encode(),
                             {"Content-Type": "application/json"}), 200)
    assert answer == {"reversed": "olléh"}, f"POST /reverse with 'héllo' answered {answer!r}"


@pytest.mark.points(1, hint="A body that is not what the API expects is the client's error: 400 with a JSON "
                            "error, and the server keeps serving (see chapter 6b, 'http.server: serving a folder').")
def test_handler_post_bad_body(student, own_server):
    """A body that is not JSON, or whose text is not a string, gets 400 with an error."""
    server = own_server()
    answer = check_json(*ask(server, "POST", "/reverse", b"not json", {"Content-Type": "application/json"}), 400)
    assert "error" in answer, f"a bad body got {answer!r}"
    check_json(*ask(server, "POST", "/reverse", json.dumps({"text": 5}).encode()), 400)


@pytest.mark.points(1, hint="POST has its own paths: one the API does not have is 404 too (see chapter 6b, "
                            "'http.server: a handler of your own').")
def test_handler_post_unknown_path(student, own_server):
    """POST to an unknown path gets 404 with a JSON error."""
    answer = check_json(*ask(own_server(), "POST", "/nowhere", json.dumps({"text": "abc"}).encode(),
                             {"Content-Type": "application/json"}), 404)
    assert "error" in answer, f"POST /nowhere answered {answer!r}"
