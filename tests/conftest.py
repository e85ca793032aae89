"""Fixtures: a fresh app and clean database per test, on SQLite and on PostgreSQL."""
import shutil

import pytest
from sqlalchemy import event, text
from werkzeug.security import generate_password_hash

from app import create_app, realtime
from app.extensions import db as _db
from app.models import users as user_models
from app.services import feed
from tests import factories
from tests.services import (REQUIRE_SERVICES, RedisSlot, create_database, create_schema, drop_database,
                            postgres_available, redis_available)

SERVICE_CHECKS = {
    "postgres": postgres_available,
    "redis": redis_available,
    "ffmpeg": lambda: bool(shutil.which("ffprobe") and shutil.which("ffmpeg")),
}


def pytest_runtest_setup(item):
    for marker, available in SERVICE_CHECKS.items():
        if item.get_closest_marker(marker) and not available():
            message = f"{marker} is not reachable"
            if REQUIRE_SERVICES:
                pytest.fail(f"{message}, and REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
            pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database made for this run, with the schema; dropped at the end."""
    if not postgres_available():
        pytest.fail("PostgreSQL required") if REQUIRE_SERVICES else pytest.skip("PostgreSQL is not reachable")
    url = create_schema(create_database())
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def redis_slot():
    if not redis_available():
        pytest.fail("Redis required") if REQUIRE_SERVICES else pytest.skip("Redis is not reachable")
    slot = RedisSlot()
    yield slot
    slot.release()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return request.getfixturevalue("pg_url")


def make_app(database_url, tmp_path, **overrides):
    settings = {
        "APP_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "JWT_SECRET_KEY": "test-jwt-secret-key-that-is-long-enough-0123456789",
    }
    settings.update(overrides)
    return create_app(settings)


@pytest.fixture
def app(database_url, tmp_path):
    """A new app on a clean database. No app context stays pushed: each request and
    each ``with app.app_context()`` in a test gets its own session, as in production."""
    app = make_app(database_url, tmp_path)
    with app.app_context():
        if database_url.startswith("sqlite"):
            _db.create_all()
        else:
            tables = ", ".join(t.name for t in reversed(_db.metadata.sorted_tables))
            _db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            _db.session.commit()
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def events(monkeypatch):
    """Every real-time event the services emit: ``[(type, data, groups), ...]``."""
    sent = []
    monkeypatch.setattr(realtime, "emit", lambda event_type, data, groups, users=(): sent.append(
        (event_type, data, list(groups))))
    return sent


@pytest.fixture
def cheap_password_hashes(monkeypatch):
    """Users made in the test get a one-round hash: tests that are not about passwords
    would otherwise spend most of their time hashing them."""
    monkeypatch.setattr(user_models, "generate_password_hash",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


@pytest.fixture
def make_user(app, cheap_password_hashes):
    """``make_user(email=..., admin=False)`` -> a User with ``.headers`` for requests."""
    return factories.UserFactory(app)


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.com", display_name="Alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com", display_name="Bob")


@pytest.fixture
def admin(make_user):
    return make_user("admin@example.com", display_name="Admin", admin=True)


class QueryCounter:
    def __init__(self):
        self.statements = []

    def __call__(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    @property
    def count(self):
        return len(self.statements)

    def reset(self):
        self.statements.clear()

    def uncached_feed_page(self, app, client, headers, page_size):
        """``(response, statements)`` of one feed page read past the feed cache."""
        with app.app_context():
            feed.invalidate()
        self.reset()
        response = client.get(f"/ventroom/posts/?page_size={page_size}", headers=headers)
        return response, self.count


@pytest.fixture
def count_queries(app):
    """Counts SQL statements sent while the test runs (``.reset()`` to start over)."""
    counter = QueryCounter()
    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


@pytest.fixture
def live_db(tmp_path, request):
    """A database for a live server process: a fresh PostgreSQL database, schema included."""
    url = create_schema(create_database())
    yield url
    drop_database(url)


@pytest.fixture
def start_server(tmp_path):
    """``start_server(database_url, **env)`` -> a LiveServer, stopped after the test."""
    from tests.live import LiveServer, base_env

    started = []

    def start(database_url, redis_url=None, channel=None, **extra):
        index = len(started)
        env = base_env(database_url, tmp_path / "media", redis_url, channel, **extra)
        server = LiveServer(env, tmp_path / f"server-{index}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
