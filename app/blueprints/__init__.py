"""HTTP only: parse, call a service, serialize, pick the status."""
import json

from flask import request
from flask_jwt_extended import jwt_required

from app.errors import APIError


def request_data():
    """The body as a dict: JSON, or multipart/urlencoded form fields plus files."""
    if request.mimetype == "application/json" or (request.mimetype or "").endswith("+json"):
        raw = request.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise APIError({"detail": f"JSON parse error - {exc}"}) from None
        if not isinstance(data, dict):
            raise APIError({"non_field_errors": ["Invalid data. Expected a dictionary, but got "
                                                 f"{type(data).__name__}."]})
        return data
    data = request.form.to_dict(flat=True)
    for name, upload in request.files.items():
        if upload.filename or upload.content_length:
            data[name] = upload
    # Multipart clients send "null" or "" for an absent optional value.
    return {key: (None if value in ("", "null") else value) for key, value in data.items()}


@jwt_required()
def _require_login():
    """A valid access token, or the DRF-style 401."""


def login_required(blueprint):
    """Every endpoint of ``blueprint`` needs a valid access token."""
    blueprint.before_request(_require_login)
    return blueprint
