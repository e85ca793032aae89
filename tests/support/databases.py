"""The one way tests get a database (a SQLite file or a PostgreSQL database, with the schema
or empty) and an app on it, and count the SQL statements the app sends."""
import uuid

import psycopg2
import pytest
from psycopg2 import sql
from sqlalchemy import create_engine, text

from app import create_app, models  # noqa: F401  (models: every table on db.metadata)
from app.extensions import db
from app.services import feed
from tests.support.services import PG_ADMIN_URL

# What every test app and test process runs with.
SECRETS = {
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "JWT_SECRET_KEY": "test-jwt-secret-key-that-is-long-enough-0123456789",
}
# For tests of the app that need SQLite alone: the conftest ``database_url`` fixture on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def make_app(database_url, directory, **overrides):
    """A testing app on ``database_url``: no Redis, no rate limits, media under ``directory``."""
    settings = {"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None,
                "MEDIA_ROOT": str(directory / "media"), "RATELIMIT_ENABLED": False, **SECRETS}
    settings.update(overrides)
    return create_app(settings)


def create_database(kind, directory=None, schema=True):
    """A new database, ``"sqlite"`` (a file in ``directory``) or ``"postgres"`` (on the test
    server), with every table of the models unless ``schema=False``; returns its URL."""
    name = f"vr_test_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        url = f"sqlite:///{directory / (name + '.sqlite3')}"
    else:
        _admin_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    if schema:
        engine = create_engine(url)
        db.metadata.create_all(engine)
        engine.dispose()
    return url


def drop_database(url):
    """Drops a PostgreSQL database made by ``create_database`` (a SQLite file goes with its directory)."""
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        _admin_execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _admin_execute(statement):
    """One statement on the admin connection, outside a transaction (CREATE/DROP DATABASE)."""
    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def empty_tables(app):
    """Every table of a PostgreSQL database emptied, its ids restarted (a new SQLite file is empty)."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            tables = ", ".join(t.name for t in reversed(db.metadata.sorted_tables))
            db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()


class QueryCounter:
    """The SQL statements an engine sends, as a ``before_cursor_execute`` listener."""

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
