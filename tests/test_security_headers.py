"""Security headers on every response: ``X-Content-Type-Options: nosniff`` everywhere (errors,
files, the web client, what gunicorn and Socket.IO answer themselves), ``Cache-Control:
no-store`` on everything under ``/auth/``, and HSTS only when the request came over https
(through a trusted proxy that says so)."""
import io
import socket

import pytest
import requests
from PIL import Image

from app.services import posts as post_service
from tests.support.databases import SQLITE_ONLY, create_database, make_app
from tests.support.media import image_bytes, upload

def _responses(app, client, alice):
    """``[(label, response)]``: every GET operation of the document, and every kind of error."""
    post = client.post("/ventroom/posts/", headers=alice.headers, content_type="multipart/form-data",
                       data={"title": "t", "media": upload(image_bytes(), "p.png"), "media_type": "image"}).json
    detail = client.get(f"/ventroom/posts/{post['id']}/", headers=alice.headers).json
    assert detail["media"], detail
    values = {"post_id": post["id"], "comment_id": 1, "user_id": alice.id, "notification_id": 1,
              "report_id": 1, "token": "x", "path": detail["media"].split("/media/", 1)[1]}
    out = []
    for path, operations in client.get("/openapi.json").json["paths"].items():
        if "get" in operations:
            url = path.format(**values)
            out.append((f"GET {url}", client.get(url, headers=alice.headers)))
    out += [
        ("the web client", client.get("/")),
        ("a 404", client.get("/nope")),
        ("a 405", client.delete("/ventroom/posts/", headers=alice.headers)),
        ("a 400", client.post("/ventroom/posts/", headers=alice.headers, data="{", content_type="application/json")),
        ("a 401", client.get("/ventroom/posts/")),
        ("a 413", client.post("/ventroom/posts/", headers=alice.headers, content_type="multipart/form-data",
                              data={"title": "t", "media_type": "image",
                                    "media": upload(b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1))})),
        ("a preflight", client.options("/ventroom/posts/", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})),
        ("a plain GET of /ws/", client.get("/ws/")),
        ("a 204", client.delete("/ventroom/reactions/?content_type=ventpost&object_id=1", headers=alice.headers)),
    ]
    return out


@SQLITE_ONLY
def test_nosniff_on_every_response(app, client, alice, monkeypatch):
    answered = _responses(app, client, alice)
    assert len(answered) > 25
    monkeypatch.setattr(post_service, "view_post", lambda *a, **k: 1 / 0)
    answered.append(("a 500", client.get("/ventroom/posts/1/", headers=alice.headers)))
    statuses = {response.status_code for _, response in answered}
    assert {200, 204, 400, 401, 404, 405, 413, 500} <= statuses
    missing = [label for label, response in answered if response.headers.get("X-Content-Type-Options") != "nosniff"]
    assert missing == []


def test_a_throttled_answer_has_them_too(tmp_path):
    app = make_app(create_database("sqlite", tmp_path), tmp_path, RATELIMIT_ENABLED=True,
                   RATELIMIT_STANDARD="1/minute")
    client = app.test_client()
    client.post("/auth/login", json={"email": "a@example.com", "password": "x" * 8})
    throttled = client.post("/auth/login", json={"email": "a@example.com", "password": "x" * 8})
    assert throttled.status_code == 429
    assert throttled.headers["X-Content-Type-Options"] == "nosniff"
    assert throttled.headers["Cache-Control"] == "no-store"


@SQLITE_ONLY
def test_every_auth_answer_is_no_store(client, alice):
    register = client.post("/auth/register", json={"email": "new@example.com", "password": "long-enough",
                                                   "display_name": "New"})
    answers = {
        "register": register,
        "register again (400)": client.post("/auth/register", json={"email": "new@example.com",
                                                                    "password": "long-enough", "display_name": "N"}),
        "login": client.post("/auth/login", json={"email": alice.email, "password": alice.password}),
        "login refused (401)": client.post("/auth/login", json={"email": alice.email, "password": "wrong-one"}),
        "refresh": client.post("/auth/refresh", headers={"Authorization": f"Bearer {alice.refresh}"}),
        "me": client.get("/auth/me", headers=alice.headers),
        "me without a token (401)": client.get("/auth/me"),
        "patch me": client.patch("/auth/me", headers=alice.headers, json={"display_name": "A"}),
        "unslashed": client.get("/auth/me/", headers=alice.headers),
    }
    assert [r.status_code for r in answers.values()] == [201, 400, 200, 401, 200, 200, 401, 200, 200]
    assert {name: r.headers.get("Cache-Control") for name, r in answers.items()} == {
        name: "no-store" for name in answers}
    # Elsewhere the caching rules of each answer stand (a published file is immutable).
    media = client.get("/healthz")
    assert media.headers.get("Cache-Control") != "no-store"


def test_hsts_only_over_https_through_a_trusted_proxy(tmp_path):
    database = create_database("sqlite", tmp_path)
    behind_proxy = make_app(database, tmp_path, TRUSTED_PROXIES=1).test_client()
    direct = make_app(database, tmp_path).test_client()
    over_https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}

    hsts = behind_proxy.get("/healthz", headers=over_https).headers.get("Strict-Transport-Security")
    assert hsts and "max-age=31536000" in hsts
    assert behind_proxy.get("/nope", headers=over_https).headers.get("Strict-Transport-Security") == hsts
    # Plain http, or a client claiming https without a proxy the app trusts: no HSTS.
    assert "Strict-Transport-Security" not in behind_proxy.get("/healthz").headers
    assert "Strict-Transport-Security" not in direct.get("/healthz", headers=over_https).headers
    assert "Strict-Transport-Security" not in direct.get("/healthz").headers


@SQLITE_ONLY
def test_a_photo_is_served_with_nosniff_and_a_sandbox(app, client, alice):
    picture = io.BytesIO()
    Image.new("RGB", (20, 20)).save(picture, "PNG")
    photo = client.patch("/auth/me", headers=alice.headers, content_type="multipart/form-data",
                         data={"profile_photo": upload(picture.getvalue(), "me.png")}).json["profile_photo"]
    served = client.get(photo.replace("http://localhost", ""))
    assert served.status_code == 200
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


# What never reaches Flask: gunicorn's own answers and Socket.IO's, on the real process.


@pytest.fixture(scope="module")
def live(module_stack):
    return module_stack()


def _head_of(server, request):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    return int(head[0].split()[1]), {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}


@pytest.mark.parametrize("request_text, status", [
    (f"GET /healthz?q={'x' * 9000} HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (f"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: {'y' * 9000}\r\n\r\n", 431),
    ("GET /healthz HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n", 400),
], ids=["414", "431", "400"])
def test_what_gunicorn_answers_itself_has_them(live, request_text, status):
    answered, headers = _head_of(live.server, request_text)
    assert answered == status
    assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"


def test_what_socketio_answers_itself_has_nosniff(live):
    for url in ("/socket.io/?EIO=4&transport=polling", "/socket.io/?EIO=4&transport=bogus"):
        response = requests.get(live.server.url + url, timeout=10)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", (url, dict(response.headers))


def test_the_live_server_sends_them_on_api_answers(live):
    _, token = live.user()
    for response in (requests.get(f"{live.server.url}/auth/me", headers={"Authorization": f"Bearer {token}"},
                                  timeout=10),
                     requests.get(f"{live.server.url}/nope", timeout=10)):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # plain http
