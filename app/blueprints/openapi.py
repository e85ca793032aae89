"""``GET /openapi.json``: the OpenAPI 3 description of the REST API (public)."""
from flask import Blueprint, current_app

from app.openapi import spec_for

bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def openapi_json():
    return spec_for(current_app)
