"""The OpenAPI 3 description of the REST API, built from the endpoints' own declarations.

Each view carries the ``Declaration`` of its ``@endpoint`` (``app.blueprints``): summary,
body and response schemas, the errors particular to it. This module walks the app's
routes, reads those declarations and derives the rest: path parameters from the rules,
tags from the blueprints (their docstrings describe them), and the shared errors (400 and
413 with a request body, 401 unless public, 429 unless exempt from rate limits, 500
always). The marshmallow schemas become components through apispec. docs/API.md remains
the prose reference.
"""
import re
import sys

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app.errors import DETAILS, INVALID_TOKEN
from app.ratelimit import EXEMPT_ENDPOINTS
from app.schemas.common import ErrorSchema, ValidationErrorSchema
from app.schemas.documentation import register_fields, required_response_properties, schema_name

TITLE = "Vent Room API"
VERSION = "1.0.0"
OPENAPI_VERSION = "3.0.3"
DESCRIPTION = (
    "The REST API of the Vent Room server. docs/API.md is the prose reference: field rules, "
    "decisions where the original document was silent, rate limits and the real-time "
    "transports (a raw WebSocket at `/ws/` and Socket.IO at `/socket.io/`, described in "
    "`/asyncapi.json` and docs/API.md, not here).\n\n"
    "Every path answers with and without its trailing slash. Bodies are JSON whatever the "
    "status. A method a path does not list answers 405 (the `MethodNotAllowed` response, "
    "with an `Allow` header)."
)
# Routes that are not REST operations: the raw WebSocket handshake and the web client.
NOT_REST = {"raw_ws", "static", "web.index", "web.asset"}
PATH_PARAMETERS = {
    "post_id": "A post's id.",
    "comment_id": "A comment's id (a comment of that post, else 404).",
    "notification_id": "One of the caller's notifications (anyone else's is 404).",
    "token": "The device token, URL-encoded: an FCM token, a Web Push subscription's JSON or its endpoint URL.",
    "path": "The file's path under the media root, as the `media` and `thumbnail` URLs give it.",
    "user_id": "A user's id (a UUID string); unknown: 404.",
    "report_id": "A report's id.",
}
CONVERTER_TYPES = {"int": {"type": "integer"}}  # anything else (default, path, device_token) is a string
RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
STRING = {"type": "string"}


class Undescribed(LookupError):
    """A route whose view has no ``@endpoint`` declaration."""


def _error(description, example, schema=ErrorSchema, headers=None):
    response = {"description": description,
                "content": {"application/json": {"schema": schema, "example": example}}}
    if headers:
        response["headers"] = headers
    return response


ERROR_RESPONSES = {
    400: ("BadRequest", _error("Invalid input.", {"title": ["This field is required."]}, ValidationErrorSchema)),
    401: ("Unauthorized", _error(f"No token, or a bad one ({INVALID_TOKEN!r}); at login, wrong credentials.",
                                 {"detail": DETAILS[401]})),
    403: ("Forbidden", _error("Not the owner (nor an admin).", {"detail": DETAILS[403]})),
    404: ("NotFound", _error("No such object (or, for a page, `Invalid page.`).", {"detail": DETAILS[404]})),
    405: ("MethodNotAllowed", _error(
        "The path does not answer this method.", {"detail": 'Method "DELETE" not allowed.'},
        headers={"Allow": {"schema": STRING, "description": "The methods it answers."}})),
    413: ("PayloadTooLarge", _error(
        "The body or a file exceeds the limit (MAX_MEDIA_BYTES, 10 MiB by default).",
        {"detail": "Request body exceeds the upload limit of 10485760 bytes."})),
    429: ("Throttled", _error(
        "Over the rate limit.", {"detail": "Request was throttled. Expected available in 12 seconds."},
        headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}})),
    500: ("ServerError", _error("An unexpected error (logged, never shown).", {"detail": "Internal server error."})),
    503: ("Unavailable", _error(
        "The database is unreachable for now (it is retried; come back after Retry-After).",
        {"detail": "Service temporarily unavailable. Try again shortly."},
        headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}})),
}


def openapi_path(rule):
    """``/ventroom/posts/<int:post_id>/`` -> ``/ventroom/posts/{post_id}/``"""
    return RULE_ARGUMENT.sub(lambda match: f"{{{match['name']}}}", rule)


def _parameters(rule, declaration):
    params = [{"in": "path", "name": name, "required": True,
               "schema": dict(CONVERTER_TYPES.get(converter, STRING)),
               "description": PATH_PARAMETERS[name]}
              for converter, name in RULE_ARGUMENT.findall(rule.rule)]
    if isinstance(declaration.query, tuple):
        params.extend(dict(param) for param in declaration.query)
    elif declaration.query is not None:
        params.append({"in": "query", "schema": declaration.query})
    return params


def _body(declaration, method):
    schema = declaration.body
    if method == "PATCH":
        schema = type(schema)(partial=True)
    content = {"application/json": {"schema": schema}}
    if declaration.form:
        content["multipart/form-data"] = {"schema": schema}
    # Required only when it has required fields: a body of optional fields may be left out.
    required = method in ("POST", "PUT") and any(field.required for field in schema.fields.values())
    return {"required": required, "content": content}


def _success(declaration):
    response = declaration.response
    if response is None:
        return {"description": "Done; no body."}
    if isinstance(response, str):
        schema = {"type": "string", "format": "binary"} if response != "application/json" else {"type": "object"}
        return {"description": "Success.", "content": {response: {"schema": schema}}}
    if isinstance(response, tuple):
        return {"description": "Success.", "content": {"application/json": {"schema": {"oneOf": list(response)}}}}
    return {"description": "Success.", "content": {"application/json": {"schema": response}}}


def _operation(rule, method, declaration, view):
    blueprint = rule.endpoint.partition(".")[0]
    operation = {
        "tags": [blueprint],
        "summary": declaration.summary,
        "operationId": rule.endpoint.replace(".", "_")
        + (f"_{method.lower()}" if len(rule.methods - {"HEAD", "OPTIONS"}) > 1 else ""),
    }
    if declaration.description:
        operation["description"] = declaration.description
    parameters = _parameters(rule, declaration)
    if parameters:
        operation["parameters"] = parameters
    if declaration.body is not None:
        operation["requestBody"] = _body(declaration, method)
    if not declaration.public:
        operation["security"] = [{"bearerAuth": []}]
    responses = {str(declaration.status): _success(declaration)}
    if declaration.resume_position:
        responses[str(declaration.status)]["headers"] = {"Last-Event-ID": {
            "schema": STRING, "description": "The newest real-time event id when this was read (`0-0` before "
                                             "the first): resume from it and no later event is missed."}}
    for status, description, schema in declaration.extra_responses:
        responses[str(status)] = {"description": description, "content": {"application/json": {"schema": schema}}}
    statuses = set(declaration.errors) | {500, 503}
    if declaration.body is not None:
        statuses |= {400, 413}
    if not declaration.public:
        statuses.add(401)
    if rule.endpoint not in EXEMPT_ENDPOINTS:
        statuses.add(429)
    for status in statuses:
        responses.setdefault(str(status), ERROR_RESPONSES[status][0])
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def declarations(app):
    """``[(rule, method, declaration, view)]`` of every REST route; Undescribed if a view
    has no declaration (``create_app`` calls this, so such an app does not start)."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if rule.endpoint in NOT_REST:
            continue
        view = app.view_functions[rule.endpoint]
        declaration = getattr(view, "declaration", None)
        if declaration is None:
            raise Undescribed(f"{rule.rule} ({rule.endpoint}) has no @endpoint declaration")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method, declaration, view))
    return found


def build_spec(app):
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(title=TITLE, version=VERSION, openapi_version=OPENAPI_VERSION, plugins=[plugin],
                   info={"description": DESCRIPTION})
    register_fields(plugin)
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for name, response in ERROR_RESPONSES.values():
        spec.components.response(name, response)

    paths, tags, response_schemas = {}, {}, set()
    for rule, method, declaration, view in declarations(app):
        blueprint = rule.endpoint.partition(".")[0]
        tags.setdefault(blueprint, (sys.modules[view.__module__].__doc__ or "").strip().split("\n\n")[0])
        paths.setdefault(rule.rule, {})[method.lower()] = _operation(rule, method, declaration, view)
        outputs = declaration.response if isinstance(declaration.response, tuple) else (declaration.response,)
        response_schemas.update(schema_name(schema) for schema in outputs
                                if schema is not None and not isinstance(schema, str))
    for name, text in sorted(tags.items()):
        spec.tag({"name": name, "description": " ".join(text.split())})
    for path, operations in paths.items():
        spec.path(path=openapi_path(path), operations=operations)
    required_response_properties(spec, response_schemas)
    return spec


def spec_for(app):
    """The spec of ``app`` as a dict, built on first use and kept for the app's lifetime."""
    spec = app.extensions.get("openapi")
    if spec is None:
        spec = app.extensions["openapi"] = build_spec(app).to_dict()
    return spec
