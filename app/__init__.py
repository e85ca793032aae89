"""The Vent Room server: ``create_app`` builds a configured Flask app."""
import logging
import os

from flask import Flask
from flask_cors import CORS
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from app import metrics, models, openapi, ratelimit, realtime, sockets, tasks  # noqa: F401 (models, tasks: registered)
from app.blueprints import (auth, comments, devices, health, media, moderation, notifications,
                            openapi as openapi_blueprint, posts, reactions, reports, users as users_blueprint, web)
from app.blueprints import asyncapi as asyncapi_blueprint
from app.blueprints import refuse_nul_in_url
from app.blueprints import metrics as metrics_blueprint
from app.cli import moderation as moderation_cli
from app.cli import users
from app.config import BASE_DIR, cache_config, load_config
from app.errors import register_error_handlers
from app.extensions import cache, celery_init_app, db, jwt, migrate, ping_idle_connections
from app.jsonprovider import OrjsonProvider
from app.security import init_headers, nosniff_everywhere, register_jwt_callbacks, trusted_hosts_only
from app.services import relationships

BLUEPRINTS = (auth, posts, comments, reactions, media, health, notifications, devices, openapi_blueprint,
              asyncapi_blueprint, metrics_blueprint, users_blueprint, reports, moderation, web)


def create_app(config=None):
    app = Flask(__name__, static_folder=None, instance_path=os.path.join(BASE_DIR, "instance"))
    app.config.from_mapping(load_config(config))
    app.json = OrjsonProvider(app)
    app.url_map.strict_slashes = False  # "/ventroom/posts" and "/ventroom/posts/" both answer
    os.makedirs(app.instance_path, exist_ok=True)
    os.makedirs(app.config["MEDIA_ROOT"], exist_ok=True)
    logging.basicConfig(level=app.config["LOG_LEVEL"])

    db.init_app(app)
    with app.app_context():
        ping_idle_connections(db.engine)
    migrate.init_app(app, db, directory=os.path.join(BASE_DIR, "migrations"))
    jwt.init_app(app)
    cache.init_app(app, config=cache_config(app.config))
    celery_init_app(app)
    CORS(app, origins=app.config["CORS_ALLOWED_ORIGINS"], expose_headers=["Retry-After", "Last-Event-ID"], max_age=600)

    register_jwt_callbacks()
    init_headers(app)
    register_error_handlers(app)
    ratelimit.init_app(app)
    metrics.init_app(app)
    app.before_request(refuse_nul_in_url)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    app.cli.add_command(users)
    app.cli.add_command(moderation_cli)

    realtime.init_app(app)
    sockets.init_app(app, hidden_for=relationships.hidden_for_connection)
    # Around everything, Socket.IO's middleware included: the host check, inside the
    # proxy headers' rewrite (it checks the host the proxy says), inside nosniff.
    app.wsgi_app = trusted_hosts_only(app.wsgi_app, app.config["TRUSTED_HOSTS"])
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.wsgi_app = nosniff_everywhere(app.wsgi_app)
    openapi.declarations(app)  # every route is declared, or the app does not start
    return app


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, _record):
    """SQLite enforces ON DELETE CASCADE only when asked, per connection."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
