"""Extensions, created bare; ``create_app`` binds them to an app."""
import logging
import time

from celery import Celery, Task
from flask import current_app, g, has_app_context, has_request_context
from flask_caching import Cache
from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DisconnectionError

from app import urls

log = logging.getLogger(__name__)

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
jwt = JWTManager()
socketio = SocketIO()
cache = Cache()


# A pooled connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 2.0


def ping_idle_connections(engine):
    """Check a connection before use only when it has been idle a while: one that sat in
    the pool across a database restart is replaced, not handed to a request; one in
    constant use (under load) is not pinged on every checkout, as ``pool_pre_ping`` does
    (a round trip per request). A connection that breaks in use makes SQLAlchemy discard
    the whole pool, so the requests after it get new ones."""

    @event.listens_for(engine, "checkin")
    def idle_from(dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy):
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool tries again with a new connection
            raise DisconnectionError("a pooled connection did not answer") from exc


def celery_init_app(app):
    """Bind a Celery app to ``app``: every task runs inside an app context.

    Embedded mode runs tasks eagerly. A task enqueued inside an app context (a request)
    then runs when that context ends, after its database session is released (and, for
    a request, before its response is sent): never nested in the caller's session, which
    would hold a second pooled connection per request and starve the pool under
    concurrent requests.
    """

    class FlaskTask(Task):
        @property
        def redelivered(self):
            """The broker handed this run on from a worker that was lost holding it."""
            return bool((self.request.delivery_info or {}).get("redelivered"))

        def __call__(self, *args, **kwargs):
            # Always a new app context, so a task has its own database session. Run eagerly,
            # it belongs to the app that enqueued it (a process may hold several apps, as
            # tests do; the last one is Celery's default).
            flask_app = current_app._get_current_object() if has_app_context() else app
            if self.redelivered:
                log.warning("%s[%s] handed on from a worker that was lost", self.name, self.request.id)
            with flask_app.app_context():
                return self.run(*args, **kwargs)

        def apply_async(self, args=None, kwargs=None, **options):
            if self.app.conf.task_always_eager and has_app_context():
                origin = urls.base_url() if has_request_context() else None
                g.setdefault("deferred_tasks", []).append((self, args, kwargs, options, origin))
                return None
            return super().apply_async(args, kwargs, **options)

    @app.teardown_appcontext
    def run_deferred_tasks(_exc):
        deferred = g.pop("deferred_tasks", None)
        if not deferred:
            return
        db.session.remove()
        for task, args, kwargs, options, origin in deferred:
            with urls.request_origin(origin):  # URLs in its events name the request's host
                task.apply(args, kwargs, **options)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
