"""This document."""
from flask import Blueprint, current_app

from app.blueprints import endpoint
from app.openapi import spec_for

bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
@endpoint("This document (OpenAPI 3)", response="application/json", public=True)
def openapi_json():
    return current_app.json.response(spec_for(current_app))
