"""Cross-cutting behaviour: error bodies, health, configuration, CLI, migrations."""
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from app.config import DEFAULT_SECRET, load_config
from app.extensions import db
from app.models import User
from tests.support.databases import create_database, drop_database, make_app
from tests.support.processes import ROOT


def test_unknown_route_is_json_404(client):
    response = client.get("/nope/")
    assert response.status_code == 404
    assert response.json == {"detail": "Not found."}


def test_wrong_method_is_json_405(client, alice):
    response = client.delete("/ventroom/posts/", headers=alice.headers)
    assert response.status_code == 405
    assert response.json == {"detail": 'Method "DELETE" not allowed.'}
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("body", ["{bad json", '{"title": ', "\xff"])
def test_malformed_json(client, alice, body):
    response = client.post("/ventroom/posts/", data=body, content_type="application/json", headers=alice.headers)
    assert response.status_code == 400
    assert response.json["detail"].startswith("JSON parse error - ")


def test_json_that_is_not_an_object(client, alice):
    response = client.post("/ventroom/posts/", json=[1, 2], headers=alice.headers)
    assert response.status_code == 400
    assert list(response.json) == ["non_field_errors"]


def test_unhandled_error_is_logged_not_shown(client, alice, monkeypatch, caplog):
    from app.services import posts

    def explode(*args, **kwargs):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(posts, "view_post", explode)
    response = client.get("/ventroom/posts/1/", headers=alice.headers)
    assert response.status_code == 500
    assert response.json == {"detail": "Internal server error."}
    assert b"secret internals" not in response.data and b"Traceback" not in response.data
    assert "secret internals" in caplog.text


def test_plain_http_to_websocket_path_is_json(client):
    response = client.get("/ws/")
    assert response.status_code == 400 and response.content_type == "application/json"


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok", "websocket": {"connections": 0, "groups": 0}}
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


@pytest.mark.parametrize("secret", [None, "", DEFAULT_SECRET, "short"])
def test_production_refuses_weak_secrets(monkeypatch, secret):
    overrides = {"APP_ENV": "production", "JWT_SECRET_KEY": "a-strong-jwt-secret-0123456789"}
    overrides["SECRET_KEY"] = DEFAULT_SECRET if secret is None else secret
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config(overrides)


def test_production_accepts_strong_secrets():
    settings = load_config({"APP_ENV": "production", "SECRET_KEY": "s" * 32, "JWT_SECRET_KEY": "j" * 32})
    assert settings["APP_ENV"] == "production"


def test_embedded_defaults():
    settings = load_config({"REDIS_URL": None})
    assert settings["CELERY"]["task_always_eager"] is True
    assert settings["MAX_CONTENT_LENGTH"] > settings["MAX_MEDIA_BYTES"] == 10 * 1024 * 1024


def test_production_process_refuses_to_start_with_default_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "JWT_SECRET_KEY", "REDIS_URL")}
    env.update(APP_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'p.sqlite3'}")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def _flask(args, database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("FLASK_APP", "REDIS_URL")}
    env.update(DATABASE_URL=database_url, MEDIA_ROOT=str(tmp_path / "media"), APP_ENV="development")
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    """A new database without tables, for the release step to build."""
    url = create_database(request.param, tmp_path, schema=False)
    yield url
    drop_database(url)


def test_release_step_builds_the_schema_and_the_cli_makes_admins(empty_database, tmp_path):
    """``flask db upgrade`` (the release step) on an empty database, found through wsgi.py."""
    upgrade = _flask(["db", "upgrade"], empty_database, tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr
    check = _flask(["db", "check"], empty_database, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr  # models and migrations agree

    created = _flask(["users", "create", "Root@Example.com", "--password", "long-enough",
                      "--display-name", "Root", "--admin"], empty_database, tmp_path)
    assert created.returncode == 0, created.stderr
    plain = _flask(["users", "create", "mod@example.com", "--password", "long-enough",
                    "--display-name", "Mod"], empty_database, tmp_path)
    assert plain.returncode == 0, plain.stderr
    promoted = _flask(["users", "set-admin", "MOD@example.com"], empty_database, tmp_path)
    assert promoted.returncode == 0, promoted.stderr
    duplicate = _flask(["users", "create", "root@example.com", "--password", "long-enough",
                        "--display-name", "Again"], empty_database, tmp_path)
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    short = _flask(["users", "create", "x@example.com", "--password", "short", "--display-name", "X"],
                   empty_database, tmp_path)
    assert short.returncode != 0
    unknown = _flask(["users", "set-admin", "ghost@example.com"], empty_database, tmp_path)
    assert unknown.returncode != 0

    app = make_app(empty_database, tmp_path)
    with app.app_context():
        users = {u.email: u.is_admin for u in db.session.scalars(select(User))}
        db.engine.dispose()
    assert users == {"root@example.com": True, "mod@example.com": True}


def test_cors_for_browser_clients(client, alice):
    preflight = client.options("/ventroom/posts/", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", "https://app.example.com")
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    response = client.get("/ventroom/posts/", headers={**alice.headers, "Origin": "https://app.example.com"})
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://app.example.com")


def test_cors_origins_can_be_restricted(tmp_path):
    app = make_app(create_database("sqlite", tmp_path), tmp_path, CORS_ALLOWED_ORIGINS=["https://ok.example"])
    ok = app.test_client().get("/healthz", headers={"Origin": "https://ok.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ok.example"
    other = app.test_client().get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_trusted_proxy_headers(tmp_path):
    """With TRUSTED_PROXIES, absolute URLs follow X-Forwarded-Proto/-Host; without, they are ignored."""
    database = create_database("sqlite", tmp_path)
    trusting = make_app(database, tmp_path, TRUSTED_PROXIES=1)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
    token = trusting.test_client().post("/auth/register", json={
        "email": "p@example.com", "password": "long-enough", "display_name": "P"}).json["access_token"]
    headers = {**forwarded, "Authorization": f"Bearer {token}"}
    for title in ("one", "two"):
        assert trusting.test_client().post("/ventroom/posts/", headers=headers,
                                           json={"title": title, "content": "c"}).status_code == 201

    page = trusting.test_client().get("/ventroom/posts/?page_size=1", headers=headers).json
    assert page["next"] == "https://api.example.com/ventroom/posts/?page_size=1&page=2"
    plain = make_app(database, tmp_path)
    page = plain.test_client().get("/ventroom/posts/?page_size=1", headers=headers).json
    assert page["next"] == "http://localhost/ventroom/posts/?page_size=1&page=2"
