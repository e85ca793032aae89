"""Liveness and readiness."""
from flask import Blueprint, current_app

from app.blueprints import endpoint
from app.schemas.health import HealthSchema, ReadinessSchema
from app.services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@endpoint("Liveness, with this process's real-time connection counts", response=HealthSchema, public=True)
def healthz():
    return {"status": "ok", "websocket": current_app.extensions["realtime_hub"].stats()}


@bp.get("/readyz")
@endpoint("Readiness: the database and Redis answer", response=ReadinessSchema, public=True,
          extra_responses=((503, "A dependency does not answer.", ReadinessSchema),))
def readyz():
    checks = health.check_dependencies()
    ready = all(value == "ok" for value in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
