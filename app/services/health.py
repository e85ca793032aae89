import logging

import redis
from flask import current_app
from sqlalchemy import text

from app.extensions import db

log = logging.getLogger(__name__)


def check_dependencies():
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        checks["database"] = "ok"
    except Exception:  # any failure means "not ready", whatever the driver raised
        log.exception("readiness: database check failed")
        db.session.rollback()
        checks["database"] = "unavailable"
    url = current_app.config.get("REDIS_URL")
    if url:
        try:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            client.ping()
            client.close()
            checks["redis"] = "ok"
        except redis.RedisError:
            log.exception("readiness: redis check failed")
            checks["redis"] = "unavailable"
    return checks
