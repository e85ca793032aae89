"""Fixtures and hooks: a fresh app and clean database per test, on SQLite and on PostgreSQL;
users; live deployments (``stack``); the markers for real services. Support code is in
``tests/support/``."""
import pytest
from sqlalchemy import event
from werkzeug.security import generate_password_hash

from app import realtime
from app.extensions import db as _db
from app.models import users as user_models
from tests.support import factories
from tests.support.databases import QueryCounter, create_database, drop_database, empty_tables, make_app
from tests.support.push import PushEndpoint
from tests.support.services import AVAILABLE, REQUIRE_SERVICES, RedisSlot, postgres_available, redis_available
from tests.support.stack import Stacks


def pytest_runtest_setup(item):
    for marker, available in AVAILABLE.items():
        if item.get_closest_marker(marker) and not available():
            message = f"{marker} is not reachable"
            if REQUIRE_SERVICES:
                pytest.fail(f"{message}, and REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
            pytest.skip(message)


# Services and databases ---------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database made for this run, with the schema; dropped at the end."""
    if not postgres_available():
        pytest.fail("PostgreSQL required") if REQUIRE_SERVICES else pytest.skip("PostgreSQL is not reachable")
    url = create_database("postgres")
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
        return create_database("sqlite", tmp_path)
    return request.getfixturevalue("pg_url")


# The app in-process ---------------------------------------------------------------------

@pytest.fixture
def app(database_url, tmp_path):
    """A new app on a clean database. No app context stays pushed: each request and
    each ``with app.app_context()`` in a test gets its own session, as in production."""
    app = make_app(database_url, tmp_path)
    empty_tables(app)
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
def count_queries(app):
    """Counts SQL statements sent while the test runs (``.reset()`` to start over)."""
    counter = QueryCounter()
    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


# Users ----------------------------------------------------------------------------------

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


# Live deployments and the fake push service ---------------------------------------------

@pytest.fixture
def stack(request, tmp_path):
    """``stack(web=1, workers=0, database="sqlite", redis=False, **env)`` -> a running
    ``tests.support.stack.Stack``: web processes and Celery workers on a new database (and
    this run's Redis), ``env`` added to their environment. Stopped after the test. A test
    that asks for PostgreSQL or Redis carries the ``postgres``/``redis`` marker."""
    stacks = Stacks(tmp_path, lambda: request.getfixturevalue("redis_slot"))
    yield stacks
    stacks.stop()


@pytest.fixture(scope="module")
def module_stack(request, tmp_path_factory):
    """``stack`` shared by a module's tests: the same arguments return the stack already
    running. Stopped after the module; close a test's clients after it (``close_clients()``)."""
    stacks = Stacks(tmp_path_factory.mktemp("stacks"), lambda: request.getfixturevalue("redis_slot"), shared=True)
    yield stacks
    stacks.stop()


@pytest.fixture(scope="module",
                params=["embedded", pytest.param("redis", marks=[pytest.mark.redis, pytest.mark.postgres])])
def shared_deployment(request, module_stack):
    """One web process shared by the module, embedded (SQLite, no Redis) and on PostgreSQL and Redis."""
    return module_stack(database="postgres", redis=True) if request.param == "redis" else module_stack()


@pytest.fixture
def deployment(shared_deployment):
    """``shared_deployment``, with the clients a test opens closed after it."""
    yield shared_deployment
    shared_deployment.close_clients()


@pytest.fixture
def push_service():
    """A loopback push service that records what it is sent (``tests.support.push.PushEndpoint``)."""
    server = PushEndpoint()
    yield server
    server.close()
