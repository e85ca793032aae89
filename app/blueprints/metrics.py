"""Prometheus metrics, for the deployment's monitoring (see ``app.metrics``)."""
import hmac

from flask import Blueprint, Response, current_app, request

from app import metrics
from app.blueprints import endpoint
from app.errors import NotFound

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@endpoint("Prometheus metrics (needs METRICS_TOKEN)", response="text/plain", public=True, errors=(404,),
          description="Absent (404) unless METRICS_TOKEN is set; then send it as `Authorization: Bearer`.")
def scrape():
    token = current_app.config["METRICS_TOKEN"]
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(offered.encode(), token.encode()):
        raise NotFound()
    body, content_type = metrics.exposition(current_app._get_current_object())
    return Response(body, mimetype=content_type)
