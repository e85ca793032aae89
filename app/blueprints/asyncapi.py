"""The real-time API's document (AsyncAPI 3)."""
from flask import Blueprint, current_app

from app.asyncapi import document_for
from app.blueprints import endpoint

bp = Blueprint("asyncapi", __name__)


@bp.get("/asyncapi.json")
@endpoint("The real-time API: the raw WebSocket and Socket.IO (AsyncAPI 3)", response="application/json",
          public=True)
def asyncapi_json():
    return current_app.json.response(document_for(current_app))
