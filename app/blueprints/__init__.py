"""HTTP only: parse, call a service, serialize, pick the status.

Every view is declared with ``@endpoint(...)``: one declaration loads the request body
with its schema, dumps the response with its schema and is what ``GET /openapi.json``
is built from (``app.openapi``). ``create_app`` refuses a route whose view has none.
"""
import functools
import json
from dataclasses import dataclass

from flask import Response, request
from flask_jwt_extended import jwt_required
from marshmallow import Schema, ValidationError

from app import realtime
from app.errors import APIError, NotFound

JSON_TYPES = ("application/json",)


def request_data():
    """The body as a dict: JSON, or multipart/urlencoded form fields plus files."""
    if request.mimetype == "application/json" or (request.mimetype or "").endswith("+json"):
        raw = request.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
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


@dataclass(frozen=True)
class Declaration:
    """What an endpoint takes and answers; ``app.openapi`` documents it."""

    summary: str
    body: Schema | None = None  # loaded from JSON (and from multipart when ``form``)
    form: bool = False
    query: object = None  # a Schema, or OpenAPI parameter dicts (documentation only)
    # A Schema the result is dumped with; a tuple of them: one or the other (documentation
    # only, the view answers Dumped); a string: a media type (the view answers a file).
    response: object = None
    status: int = 200
    errors: tuple = ()  # statuses particular to this endpoint; the shared ones are derived
    public: bool = False  # no bearer token
    description: str | None = None
    extra_responses: tuple = ()  # (status, description, Schema)
    # A read clients resynchronise with: it answers the event log's newest id, taken
    # before the data, as ``Last-Event-ID`` (a resume from it misses nothing).
    resume_position: bool = False


NUL_REFUSED = "Null characters are not allowed."


def _contains_nul(value):
    """Whether a NUL is in ``value`` or anything nested in it (keys included), however deep:
    iterative, so JSON nested as deep as the parser allows cannot overflow the stack."""
    pending = [value]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def refuse_nul_in_url():
    """The same decision for the URL (a ``before_request`` of the app): a NUL in a path
    parameter names nothing (404); in a query parameter it is a 400 on that parameter."""
    if any(isinstance(value, str) and "\x00" in value for value in (request.view_args or {}).values()):
        raise NotFound()
    refused = {key: [NUL_REFUSED] for key, value in request.args.items(multi=True)
               if "\x00" in key or "\x00" in value}
    if refused:
        raise APIError(refused)


def load_body(schema, partial=False):
    """The request body loaded with ``schema``. A NUL character anywhere in a field is a
    400 on that field, as DRF answers (PostgreSQL cannot store it; nothing needs it)."""
    data = request_data()
    refused = {key: [NUL_REFUSED] for key, value in data.items() if _contains_nul(key) or _contains_nul(value)}
    if refused:
        raise ValidationError(refused)
    return schema.load(data, partial=partial)


def _instance(schema):
    return schema() if isinstance(schema, type) else schema


class Dumped:
    """A result that is already a JSON body (a cached page, a serialized tree)."""

    def __init__(self, body):
        self.body = body


def endpoint(summary, *, body=None, response=None, **options):
    """Declare a view. With ``body``, the view gets the loaded body as ``data`` (partial
    for PATCH). Its result is dumped with ``response``; it may also be ``Dumped(body)``,
    a Response, or ``(result, status)`` to answer another status."""
    declaration = Declaration(summary, body=_instance(body) if body else None,
                              response=_instance(response) if isinstance(response, type) else response,
                              **options)

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            position = realtime.newest_event_id() if declaration.resume_position else None
            if declaration.body is not None:
                kwargs["data"] = load_body(declaration.body, partial=request.method == "PATCH")
            result = view(*args, **kwargs)
            status = declaration.status
            if isinstance(result, tuple):
                result, status = result
            if isinstance(result, Response):
                return result
            headers = {"Last-Event-ID": position} if position else {}
            if declaration.response is None or status == 204:
                return "", status, headers
            if isinstance(result, Dumped):
                return result.body, status, headers
            return declaration.response.dump(result), status, headers

        wrapper.declaration = declaration
        return wrapper

    return decorate
