"""Hostile input is answered in JSON and never with a 500: NUL characters in any text field of
any write endpoint (400 on that field, PostgreSQL included), request lines and headers too
large for the real gunicorn process (JSON 414/431, and 8 KiB request lines accepted),
JSON nested deeper than a parser or a recursive check can follow (REST and /ws/ frames)."""
import json
import socket

import pytest
import requests

from app.blueprints import NUL_REFUSED
from tests.support.clients import bearer
from tests.support.databases import SQLITE_ONLY
from tests.support.safety import comment, post

NUL = "a\x00b"
WRITE_METHODS = {"post", "put", "patch", "delete"}


# NUL characters ---------------------------------------------------------------------


def _body_fields(operation):
    """``{content type: [field names]}`` of an operation's request body."""
    content = operation.get("requestBody", {}).get("content", {})
    return {kind: list(body["schema"].get("properties", {})) for kind, body in content.items()}


def _resolved(spec, schema):
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.fixture
def world(app, client, alice, bob, admin):
    """Something behind every path parameter: a post and a comment of Bob's, a report of
    Alice's, Bob himself. Requests go out as the admin (who may call every endpoint)."""
    made_post = post(client, bob)
    made_comment = comment(client, bob, made_post["id"])
    report = client.post("/reports/", headers=alice.headers,
                         json={"content_type": "ventpost", "object_id": made_post["id"], "reason": "spam"}).json
    return {"post_id": made_post["id"], "comment_id": made_comment["id"], "report_id": report["id"],
            "user_id": bob.id, "notification_id": 1, "token": "device-token"}


def test_a_nul_in_any_text_field_of_any_write_endpoint_is_a_400_on_that_field(client, admin, world):
    spec = client.get("/openapi.json").json
    checked, wrong = [], []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in WRITE_METHODS:
                continue
            url = path.format(**world)
            for kind, fields in _body_fields(operation).items():
                schema = _resolved(spec, operation["requestBody"]["content"][kind]["schema"])
                for field in schema.get("properties", {}) or fields:
                    if kind == "application/json":
                        response = client.open(url, method=method.upper(), headers=admin.headers,
                                               json={field: NUL})
                    else:
                        response = client.open(url, method=method.upper(), headers=admin.headers,
                                               content_type="multipart/form-data", data={field: NUL})
                    checked.append((method, path, kind, field))
                    if response.status_code != 400 or response.json != {field: [NUL_REFUSED]}:
                        wrong.append((method.upper(), path, kind, field, response.status_code, response.json))
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                response = client.open(url, method=method.upper(), headers=admin.headers,
                                       query_string={parameter["name"]: NUL})
                checked.append((method, path, "query", parameter["name"]))
                if response.status_code >= 500 or not response.is_json and response.status_code != 204:
                    wrong.append((method.upper(), path, "query", parameter["name"], response.status_code,
                                  response.data[:200]))
    assert len(checked) > 30  # the document really lists the write endpoints' fields
    assert wrong == []


def test_a_nul_in_a_path_parameter_is_no_500(client, alice):
    for method, path in (("DELETE", "/devices/a%00b"), ("GET", "/media/a%00b.jpg"),
                         ("POST", "/users/a%00b/block"), ("GET", "/ventroom/posts/1%00/")):
        response = client.open(path, method=method, headers=alice.headers)
        assert response.status_code < 500 and (response.is_json or response.status_code == 204), (path, response)


def test_nul_inside_nested_json_values_is_refused_too(client, alice):
    subscription = {"endpoint": "https://push.example.com/x", "keys": {"p256dh": NUL, "auth": "x"}}
    response = client.post("/devices/", headers=alice.headers, json={"platform": "webpush", "token": subscription})
    assert response.status_code == 400 and response.json == {"token": [NUL_REFUSED]}


# Deeply nested JSON ----------------------------------------------------------------

# Depths around the interpreter's recursion limit (1000): some parse and must not overflow a
# recursive check afterwards; the deepest cannot parse at all.
DEPTHS = [50, 400, 800, 900, 950, 980, 995, 1000, 1100, 5000, 30000]


@SQLITE_ONLY
@pytest.mark.parametrize("depth", DEPTHS)
def test_deeply_nested_json_bodies_are_answered_not_a_500(client, alice, depth):
    for body in ("[" * depth + "]" * depth,
                 '{"title": ' + "[" * depth + "]" * depth + ', "content": "c"}',
                 '{"title": "t", "content": ' + '{"a": ' * depth + "1" + "}" * depth + "}"):
        response = client.post("/ventroom/posts/", data=body, content_type="application/json",
                               headers=alice.headers)
        assert response.status_code == 400, (depth, response.status_code, response.data[:200])
        assert response.is_json


# The real gunicorn process -----------------------------------------------------------


@pytest.fixture
def live(module_stack):
    stack = module_stack()
    yield stack
    stack.close_clients()


def raw_http(server, head):
    """Send ``head`` (a request without a body) on a bare socket; ``(status, headers, body)``."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_a_6_kib_query_string_is_served(live):
    _, token = live.user()
    response = requests.get(f"{live.server.url}/ventroom/posts/", params={"q": "x" * 6 * 1024},
                            headers=bearer(token), timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["next"] is None
    # An 8 KiB request line is the most that is accepted.
    line_budget = 8190 - len("GET /ventroom/posts/?q= HTTP/1.1")
    response = requests.get(f"{live.server.url}/ventroom/posts/?q={'x' * line_budget}",
                            headers=bearer(token), timeout=10)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("length", [8 * 1024 + 1, 16 * 1024, 64 * 1024])
def test_a_longer_request_line_is_a_json_414(live, length):
    status, headers, body = raw_http(live.server, f"GET /ventroom/posts/?q={'x' * length} HTTP/1.1\r\n"
                                                  "Host: 127.0.0.1\r\n\r\n")
    assert status == 414
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"detail": "The request line is longer than 8190 bytes."}


@pytest.mark.parametrize("headers_text", [
    "X-Big: " + "y" * 9000 + "\r\n",  # one field over 8 KiB
    "".join(f"X-Many-{n}: v\r\n" for n in range(150)),  # more fields than are allowed
], ids=["large-field", "many-fields"])
def test_too_large_headers_are_a_json_431(live, headers_text):
    status, headers, body = raw_http(live.server, f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers_text}\r\n")
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"detail": "The request headers are too large."}


def test_a_request_gunicorn_cannot_parse_is_a_json_400(live):
    status, headers, body = raw_http(live.server, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"detail": "The request could not be parsed."}


def test_deep_json_on_the_live_server(live):
    """REST bodies and /ws/ frames nested as deep as the limits let them (a frame is at most
    64 KiB), on the eventlet server: answered, and the connection stays."""
    _, token = live.user()
    for depth in (900, 990, 5000, 30000):
        body = '{"title": "t", "content": ' + "[" * depth + "]" * depth + "}"
        response = requests.post(f"{live.server.url}/ventroom/posts/", data=body, timeout=10,
                                 headers={**bearer(token), "Content-Type": "application/json"})
        assert response.status_code == 400, (depth, response.text[:200])
    client = live.raw(token)
    for depth in (900, 990, 5000, 30000):
        client.send_raw("[" * depth + "]" * depth)
        assert client.expect("error")["data"]["message"]
        client.send_raw('{"type": "join_ventroom_post", "data": {"post_id": ' + "[" * depth + "]" * depth + "}}")
        assert client.expect("error")["data"]["message"]
        nested = min(depth, 8000)  # a frame is at most 64 KiB
        client.send_raw('{"type": "ping", "data": ' + '{"a": ' * nested + "1" + "}" * nested + "}")
        frame = client.received.get(timeout=5)
        assert frame["type"] in ("pong", "error"), frame
    assert client.request("ping", reply="pong")
