from flask import Blueprint, current_app

from app import sockets
from app.services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up; with this process's raw WebSocket connection and group counts."""
    return {"status": "ok", "websocket": sockets.stats(current_app)}


@bp.get("/readyz")
def readyz():
    """The database and, when configured, Redis answer."""
    checks = health.check_dependencies()
    ready = all(value == "ok" for value in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
