"""The Host header never writes URLs into what others receive. With ``PUBLIC_BASE_URL`` every
absolute URL uses it, whatever ``Host`` says: REST bodies, pages' next/previous, events built
in a request and in the Celery worker. Without it only the hosts of ``TRUSTED_HOSTS`` are
answered (any other: a JSON 400), REST and the /ws/ handshake alike. Production refuses to
start with neither (tests/test_config.py has the settings; here the processes)."""
import json
import time

import pytest
import requests
import websocket

from tests.support.clients import ENVELOPE_KEYS, bearer
from tests.support.databases import SQLITE_ONLY, create_database, make_app
from tests.support.media import gps_jpeg, image_bytes, upload
from tests.support.safety import strings

BASE = "https://api.vent.example"
EVIL = {"Host": "evil.example"}


def urls_in(value):
    return [text for text in strings(value) if text.startswith(("http://", "https://"))]


@pytest.mark.redis
@pytest.mark.postgres
def test_with_a_public_base_url_every_url_uses_it_whatever_the_host(module_stack):
    deployed = module_stack(workers=1, database="postgres", redis=True, PUBLIC_BASE_URL=BASE)
    server = deployed.server
    try:
        _, token = deployed.user("poster")
        _, watcher_token = deployed.user("watcher")
        headers = {**bearer(token), **EVIL}
        me = requests.patch(f"{server.url}/auth/me", headers=headers, timeout=10, files={
            "profile_photo": ("me.png", image_bytes("PNG"), "image/png")}).json()
        assert me["profile_photo"].startswith(f"{BASE}/media/profile_photos/"), me
        watcher = deployed.raw(watcher_token)
        watcher.request("join_ventroom", reply="ventroom_joined")

        created = requests.post(f"{server.url}/ventroom/posts/", headers=headers, timeout=10,
                                data={"title": "a photo", "media_type": "image"},
                                files={"media": ("p.jpg", gps_jpeg(size=(80, 60)), "image/jpeg")}).json()
        requests.post(f"{server.url}/ventroom/posts/", headers=headers, timeout=10, json={"title": "t", "content": "c"})
        frames, deadline = [], time.time() + 30
        while not any(f["type"] == "ventroom_post_updated" for f in frames) and time.time() < deadline:
            frames.append(watcher.received.get(timeout=30))
        announced = [f for f in frames if f["type"] == "new_ventroom_post"]  # built in requests, Host: evil
        [updated] = [f for f in frames if f["type"] == "ventroom_post_updated"]  # built in the worker
        assert len(announced) >= 1 and announced[0]["data"]["user"]["profile_photo"] == me["profile_photo"]
        assert updated["data"]["id"] == created["id"] and updated["data"]["media_status"] == "ready"
        assert updated["data"]["media"].startswith(f"{BASE}/media/vent_media/")
        assert updated["data"]["thumbnail"].startswith(f"{BASE}/media/thumbnails/")

        first = requests.get(f"{server.url}/ventroom/posts/?page_size=1&page=1", headers=headers, timeout=10).json()
        second = requests.get(first["next"].replace(BASE, server.url), headers=headers, timeout=10).json()
        detail = requests.get(f"{server.url}/ventroom/posts/{created['id']}/", headers=headers, timeout=10).json()
        seen = urls_in([me, announced, updated, first, second, detail])
        assert first["next"] == f"{BASE}/ventroom/posts/?page_size=1&page=2"
        assert second["previous"] == f"{BASE}/ventroom/posts/?page_size=1&page=1"
        assert len(seen) >= 8 and all(url.startswith(BASE + "/") for url in seen), seen
        assert not any("evil.example" in text or "127.0.0.1" in text for text in strings([announced, updated]))
    finally:
        deployed.close_clients()


@SQLITE_ONLY
def test_events_of_deferred_work_in_embedded_mode_use_it_too(app, make_user, events):
    """Embedded mode runs the media job as the request ends, outside its context."""
    app.config["PUBLIC_BASE_URL"] = BASE
    user = make_user("embedded@example.com")
    response = app.test_client().post("/ventroom/posts/", headers={**user.headers, **EVIL},
                                      content_type="multipart/form-data",
                                      data={"title": "t", "media_type": "image", "media": upload(gps_jpeg((40, 30)))})
    assert response.status_code == 201
    [(kind, data, _)] = [event for event in events if event[0] == "ventroom_post_updated"]
    assert data["media"].startswith(f"{BASE}/media/") and data["thumbnail"].startswith(f"{BASE}/media/")


@pytest.fixture(scope="module")
def trusting(module_stack):
    """A live server without PUBLIC_BASE_URL that answers two hosts."""
    return module_stack(TRUSTED_HOSTS="api.vent.example,127.0.0.1")


def test_without_it_only_trusted_hosts_are_answered(trusting):
    server = trusting.server
    _, token = trusting.user()
    trusting.new_post(token)
    trusting.new_post(token)
    for host in ("evil.example", "api.vent.example.evil.example", "127.0.0.2", "localhost"):
        for method, path in (("GET", "/healthz"), ("GET", "/ventroom/posts/?page_size=1"), ("POST", "/auth/login")):
            response = requests.request(method, f"{server.url}{path}", headers={**bearer(token), "Host": host},
                                        json={}, timeout=10)
            assert response.status_code == 400, (host, path, response.status_code)
            assert response.headers["Content-Type"] == "application/json"
            assert set(response.json()) == {"detail"}
    page = requests.get(f"{server.url}/ventroom/posts/?page_size=1",
                        headers={**bearer(token), "Host": "api.vent.example"}, timeout=10).json()
    assert page["next"] == "http://api.vent.example/ventroom/posts/?page_size=1&page=2"
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200  # Host: 127.0.0.1:<port>


def test_the_websocket_handshake_checks_the_host_too(trusting):
    _, token = trusting.user()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"{trusting.server.ws_url}/ws/?token={token}", host="evil.example", timeout=10)
    assert refused.value.status_code == 400
    good = websocket.create_connection(f"{trusting.server.ws_url}/ws/?token={token}", timeout=10)
    good.send(json.dumps({"type": "ping"}))
    deadline = time.time() + 5
    while time.time() < deadline:
        frame = json.loads(good.recv())
        if frame["type"] == "pong":
            assert set(frame) == ENVELOPE_KEYS
            break
    good.close()


def test_socketio_handshakes_check_the_host_too(trusting):
    """Socket.IO's handshakes and polls are answered before Flask sees them."""
    handshake = f"{trusting.server.url}/socket.io/?EIO=4&transport=polling"
    refused = requests.get(handshake, headers={"Host": "evil.example"}, timeout=10)
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.json() == {"detail": "Bad request."}
    accepted = requests.get(handshake, headers={"Host": "api.vent.example"}, timeout=10)
    assert accepted.status_code == 200 and accepted.text.startswith("0{")


def test_trusted_proxy_forwarded_hosts_are_checked_as_well(tmp_path):
    app = make_app(create_database("sqlite", tmp_path), tmp_path, TRUSTED_PROXIES=1,
                   TRUSTED_HOSTS=["api.vent.example"])
    client = app.test_client()
    forwarded = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    assert client.get("/healthz", headers={**forwarded, "Host": "api.vent.example"}).status_code == 400
    good = client.get("/healthz", headers={**forwarded, "X-Forwarded-Host": "api.vent.example"})
    assert good.status_code == 200
