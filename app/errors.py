"""Every error is a JSON body in the DRF shape API.md gives; never HTML, never a trace."""
import logging

import sqlalchemy.exc
from flask import jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.extensions import db

log = logging.getLogger(__name__)

DETAILS = {
    400: "Bad request.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    415: "Unsupported media type.",
}
INVALID_TOKEN = "Given token not valid for any token type"


class APIError(Exception):
    """A domain error a service raises; carries the status and the DRF-style body."""

    status = 400

    def __init__(self, body=None, status=None, headers=None):
        super().__init__(body)
        if status is not None:
            self.status = status
        self.body = body if body is not None else {"detail": DETAILS.get(self.status, "Error.")}
        self.headers = headers or {}


class NotFound(APIError):
    status = 404


class PermissionDenied(APIError):
    status = 403


class InvalidPage(NotFound):
    def __init__(self):
        super().__init__({"detail": "Invalid page."})


class TooLarge(APIError):
    status = 413


class Throttled(APIError):
    status = 429

    def __init__(self, wait):
        wait = max(1, int(wait))
        super().__init__({"detail": f"Request was throttled. Expected available in {wait} seconds."},
                         headers={"Retry-After": str(wait)})


def field_error(field, message):
    return APIError({field: [message]})


def validation_body(messages):
    """marshmallow's messages with ``_schema`` renamed to DRF's ``non_field_errors``."""
    if isinstance(messages, dict):
        messages = dict(messages)
        if "_schema" in messages:
            messages["non_field_errors"] = messages.pop("_schema")
        return messages
    return {"non_field_errors": messages if isinstance(messages, list) else [str(messages)]}


def error_response(body, status, headers=None):
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app):
    @app.errorhandler(APIError)
    def handle_api_error(err):
        return error_response(err.body, err.status, err.headers)

    @app.errorhandler(ValidationError)
    def handle_validation_error(err):
        return error_response(validation_body(err.messages), 400)

    @app.errorhandler(HTTPException)
    def handle_http_exception(err):
        status = err.code or 500
        if status == 405:
            detail = f'Method "{request.method}" not allowed.'
        elif status == 413:
            detail = f"Request body exceeds the upload limit of {app.config['MAX_MEDIA_BYTES']} bytes."
        elif status in DETAILS:
            detail = DETAILS[status]
        else:
            detail = err.description or err.name
        headers = {}
        if status == 405 and getattr(err, "valid_methods", None):
            headers["Allow"] = ", ".join(err.valid_methods)
        return error_response({"detail": detail}, status, headers)

    @app.errorhandler(sqlalchemy.exc.OperationalError)
    @app.errorhandler(sqlalchemy.exc.InterfaceError)
    @app.errorhandler(sqlalchemy.exc.TimeoutError)
    def database_unavailable(err):
        """The database is down or restarting: say so, and when to try again (the pool
        checks connections before use, so requests succeed again once it is back)."""
        log.error("database unavailable: %s", err)
        try:
            db.session.rollback()
        except sqlalchemy.exc.SQLAlchemyError:
            pass
        return error_response({"detail": "Service temporarily unavailable. Try again shortly."}, 503,
                              {"Retry-After": "5"})

    @app.errorhandler(Exception)
    def handle_unexpected(err):
        log.exception("Unhandled error")
        return error_response({"detail": "Internal server error."}, 500)
