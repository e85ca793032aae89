"""Rate limits: per user (per IP before login), by class of request, shared through Redis."""
import os
import re
import subprocess
import sys

import pytest
import redis

from app.extensions import db as _db
from tests.support.databases import create_database, make_app
from tests.support.factories import UserFactory
from tests.support.processes import ROOT

THROTTLED = re.compile(r"^Request was throttled\. Expected available in (\d+) seconds\.$")
LIMITS = {"RATELIMIT_STANDARD": "5/minute", "RATELIMIT_CREATE": "2/minute", "RATELIMIT_REACTIONS": "3/minute"}


def build_app(tmp_path, database_url=None, **overrides):
    """An app with rate limits on (at ``LIMITS``), on ``database_url`` or a new SQLite database."""
    return make_app(database_url or create_database("sqlite", tmp_path), tmp_path,
                    **{"RATELIMIT_ENABLED": True, **LIMITS, **overrides})


@pytest.fixture
def app(tmp_path):
    app = build_app(tmp_path)
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def users(app):
    make = UserFactory(app)
    return make("alice@example.com"), make("bob@example.com")


def assert_throttled(response):
    assert response.status_code == 429
    body = response.get_json()
    assert set(body) == {"detail"}
    match = THROTTLED.match(body["detail"])
    assert match, body
    assert response.headers["Retry-After"] == match.group(1)
    assert 1 <= int(match.group(1)) <= 60
    assert response.mimetype == "application/json"


def test_standard_limit_is_per_user(client, users):
    alice, bob = users
    for _ in range(5):
        assert client.get("/ventroom/posts/", headers=alice.headers).status_code == 200
    assert_throttled(client.get("/ventroom/posts/", headers=alice.headers))
    assert_throttled(client.get("/auth/me", headers=alice.headers))  # one bucket for every standard endpoint
    assert client.get("/ventroom/posts/", headers=bob.headers).status_code == 200


def test_before_login_the_limit_is_per_ip(client, users):
    def login(address):
        return client.post("/auth/login", json={"email": "alice@example.com", "password": "wrong-password"},
                           environ_base={"REMOTE_ADDR": address})

    for _ in range(5):
        assert login("203.0.113.7").status_code == 401
    assert_throttled(login("203.0.113.7"))
    assert login("203.0.113.8").status_code == 401
    # A user's token from the throttled address still has its own bucket.
    alice = users[0]
    assert client.get("/auth/me", headers=alice.headers,
                      environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 200


def test_creation_has_its_own_smaller_limit(client, users):
    alice, _ = users
    created = client.post("/ventroom/posts/", headers=alice.headers, json={"title": "a", "content": "b"})
    assert created.status_code == 201
    post_id = created.get_json()["id"]
    assert client.post(f"/ventroom/posts/{post_id}/comments/", headers=alice.headers,
                       json={"text": "c"}).status_code == 201
    # Posts and comments share the creation bucket.
    assert_throttled(client.post("/ventroom/posts/", headers=alice.headers, json={"title": "a", "content": "b"}))
    assert_throttled(client.post(f"/ventroom/posts/{post_id}/comments/", headers=alice.headers,
                                 json={"text": "c"}))
    # Reading and editing are standard requests, still allowed.
    assert client.get("/ventroom/posts/", headers=alice.headers).status_code == 200
    assert client.patch(f"/ventroom/posts/{post_id}/", headers=alice.headers,
                        json={"title": "new"}).status_code == 200


def test_reactions_have_their_own_limit(client, users):
    alice, bob = users
    post_id = client.post("/ventroom/posts/", headers=alice.headers,
                          json={"title": "a", "content": "b"}).get_json()["id"]
    body = {"content_type": "ventpost", "object_id": post_id}
    assert client.post("/ventroom/reactions/", headers=bob.headers, json={**body, "reaction_type": "👍"}).status_code == 201
    assert client.post("/ventroom/reactions/", headers=bob.headers, json={**body, "reaction_type": "😂"}).status_code == 201
    assert client.delete("/ventroom/reactions/", headers=bob.headers, query_string=body).status_code == 204
    assert_throttled(client.post("/ventroom/reactions/", headers=bob.headers, json={**body, "reaction_type": "❤️"}))
    assert client.get("/ventroom/posts/", headers=bob.headers).status_code == 200


def test_health_media_and_preflight_are_not_limited(app, client, users):
    os.makedirs(os.path.join(app.config["MEDIA_ROOT"], "vent_media"), exist_ok=True)
    with open(os.path.join(app.config["MEDIA_ROOT"], "vent_media", "x.txt"), "w") as f:
        f.write("x")
    for _ in range(8):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/media/vent_media/x.txt").status_code == 200
        assert client.options("/ventroom/posts/", headers={
            "Origin": "https://example.com", "Access-Control-Request-Method": "GET"}).status_code == 200
    assert client.get("/ventroom/posts/", headers=users[0].headers).status_code == 200


def test_switched_off(tmp_path):
    app = build_app(tmp_path, RATELIMIT_ENABLED=False)
    alice = UserFactory(app)("alice@example.com")
    client = app.test_client()
    for _ in range(12):
        assert client.get("/ventroom/posts/", headers=alice.headers).status_code == 200
    assert "ratelimit" not in app.extensions


@pytest.mark.parametrize("value, expected", [("0", False), ("1", True)])
def test_ratelimit_enabled_is_read_from_the_environment(value, expected):
    env = {**os.environ, "RATELIMIT_ENABLED": value, "APP_ENV": "development"}
    out = subprocess.run([sys.executable, "-c", "from app.config import load_config; "
                          "print(load_config()['RATELIMIT_ENABLED'])"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == str(expected)


@pytest.mark.redis
def test_limits_are_shared_by_processes_through_redis(tmp_path, redis_slot):
    """Two apps (two web processes) on one Redis count against the same buckets."""
    settings = {"REDIS_URL": redis_slot.url, "SOCKETIO_CHANNEL": redis_slot.channel}
    database = create_database("sqlite", tmp_path)
    first = build_app(tmp_path, database, **settings)
    second = build_app(tmp_path, database, **settings)
    store = redis.Redis.from_url(redis_slot.url)
    for key in store.scan_iter("LIMITS:*"):
        store.delete(key)
    alice = UserFactory(first)("alice@example.com")
    one, two = first.test_client(), second.test_client()
    for index in range(5):
        assert (one if index % 2 else two).get("/ventroom/posts/", headers=alice.headers).status_code == 200
    assert_throttled(one.get("/ventroom/posts/", headers=alice.headers))
    assert_throttled(two.get("/ventroom/posts/", headers=alice.headers))
    assert any(b"user:" in key for key in store.scan_iter("LIMITS:*"))
    for application in (first, second):
        with application.app_context():
            _db.engine.dispose()


def test_an_unreachable_redis_never_fails_a_request(tmp_path):
    """Limits fall back to this process's memory while the shared store is down."""
    app = build_app(tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    alice = UserFactory(app)("alice@example.com")
    client = app.test_client()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        assert client.get("/auth/me", headers=alice.headers).status_code == 200
    assert_throttled(client.get("/auth/me", headers=alice.headers))
