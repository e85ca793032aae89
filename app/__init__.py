"""The Vent Room server: ``create_app`` builds a configured Flask app."""
import logging
import os

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.config import BASE_DIR, cache_config, load_config
from app.extensions import cache, celery_init_app, db, jwt, migrate


def create_app(config=None):
    app = Flask(__name__, static_folder=None, instance_path=os.path.join(BASE_DIR, "instance"))
    app.config.from_mapping(load_config(config))
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.url_map.strict_slashes = False  # "/ventroom/posts" and "/ventroom/posts/" both answer
    os.makedirs(app.instance_path, exist_ok=True)
    os.makedirs(app.config["MEDIA_ROOT"], exist_ok=True)
    logging.basicConfig(level=app.config["LOG_LEVEL"])

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(BASE_DIR, "migrations"))
    jwt.init_app(app)
    cache.init_app(app, config=cache_config(app.config))
    celery_init_app(app)
    CORS(app, origins=app.config["CORS_ALLOWED_ORIGINS"], expose_headers=["Retry-After"], max_age=600)

    from app import models  # noqa: F401  (registers every table with the metadata)
    from app import ratelimit
    from app import tasks  # noqa: F401  (registers every Celery task, in the worker too)
    from app.blueprints import auth, comments, devices, health, media, notifications, openapi, posts, reactions, web
    from app.cli import users
    from app.errors import register_error_handlers
    from app.security import register_jwt_callbacks

    register_jwt_callbacks()
    register_error_handlers(app)
    ratelimit.init_app(app)
    for blueprint in (auth.bp, posts.bp, comments.bp, reactions.bp, media.bp, health.bp, notifications.bp, devices.bp, openapi.bp, web.bp):
        app.register_blueprint(blueprint)
    app.cli.add_command(users)

    from app import sockets

    sockets.init_app(app)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, _record):
    """SQLite enforces ON DELETE CASCADE only when asked, per connection."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
