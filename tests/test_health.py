"""/healthz (the process and its WebSocket registry) and /readyz (the database, and Redis when configured)."""
import pytest

from tests.support.databases import create_database, make_app


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok", "websocket": {"connections": 0, "socketio": 0, "groups": 0}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_reports_an_unreachable_redis(tmp_path):
    app = make_app(create_database("sqlite", tmp_path), tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "redis": "unavailable"}


@pytest.mark.redis
def test_readyz_with_redis(tmp_path, redis_slot):
    app = make_app(create_database("sqlite", tmp_path), tmp_path, REDIS_URL=redis_slot.url)
    assert app.test_client().get("/readyz").json["checks"] == {"database": "ok", "redis": "ok"}
