"""The OpenAPI 3 description of the REST API, built with apispec from the marshmallow
schemas the endpoints use.

``OPERATIONS`` is the table of every REST operation: each row names its Flask rule, the
request and response schemas and the errors particular to it; the shared errors are
derived (400 and 413 with a request body, 401 unless public, 429 unless exempt from rate
limits, 500 always). docs/API.md remains the prose reference; ``tests/test_openapi.py``
fails when a route has no row here.
"""
import re
from dataclasses import dataclass

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app.errors import DETAILS, INVALID_TOKEN
from app.models.reactions import CONTENT_TYPES, REACTION_NAMES, REACTION_TYPES
from app.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.ratelimit import EXEMPT_ENDPOINTS
from app.schemas.comments import (CommentCreateSchema, CommentSchema, CommentUpdateSchema,
                                  IntegerId)
from app.schemas.fields import MediaURL, ReactionCount, Upload, UTCDateTime
from app.schemas.notifications import (DeviceCreateSchema, DeviceSchema, NotificationSchema,
                                       PreferencesSchema)
from app.schemas.posts import (MediaFieldsMixin, PostCreateSchema, PostSchema,
                               PostUpdateSchema)
from app.schemas.reactions import (ContentType, ReactionInputSchema, ReactionSchema,
                                   ReactionTargetSchema, ReactionType)
from app.schemas.users import (LoginSchema, MeSchema, ProfileUpdateSchema, RegisterSchema,
                               UserSchema)

TITLE = "Vent Room API"
VERSION = "1.0.0"
OPENAPI_VERSION = "3.0.3"
DESCRIPTION = (
    "The REST API of the Vent Room server. docs/API.md is the prose reference: field rules, "
    "decisions where the original document was silent, rate limits and the real-time "
    "transports. Those transports (a raw WebSocket at `/ws/` and Socket.IO at `/socket.io/`) "
    "are not REST operations and are not described here: see the \"Real time\" section of "
    "docs/API.md.\n\n"
    "Every path answers with and without its trailing slash. Bodies are JSON whatever the "
    "status. A method a path does not list answers 405 (the `MethodNotAllowed` response, "
    "with an `Allow` header)."
)
TAGS = (
    ("auth", "Accounts and tokens."),
    ("posts", "Vent Room posts."),
    ("comments", "A post's comments and their replies."),
    ("reactions", "Reactions to posts and comments."),
    ("notifications", "Stored notifications and the caller's preferences."),
    ("devices", "Push targets (FCM tokens and Web Push subscriptions)."),
    ("media", "Uploaded files."),
    ("health", "Liveness and readiness."),
    ("meta", "This document."),
)
# Longest prefix first: the first rule prefix that matches names the tag.
TAG_PREFIXES = (
    ("/ventroom/posts/<int:post_id>/comments", "comments"),
    ("/ventroom/posts", "posts"),
    ("/ventroom/reactions", "reactions"),
    ("/notifications", "notifications"),
    ("/devices", "devices"),
    ("/auth", "auth"),
    ("/media", "media"),
    ("/healthz", "health"),
    ("/readyz", "health"),
    ("/openapi.json", "meta"),
)
PATH_PARAMETERS = {
    "post_id": "A post's id.",
    "comment_id": "A comment's id (a comment of that post, else 404).",
    "notification_id": "One of the caller's notifications (anyone else's is 404).",
    "token": "The device token, URL-encoded: an FCM token, a Web Push subscription's JSON or its endpoint URL.",
    "path": "The file's path under the media root, as the `media` and `thumbnail` URLs give it.",
}
CONVERTER_TYPES = {"int": {"type": "integer"}}  # anything else (default, path, device_token) is a string
RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")

BINARY = {"type": "string", "format": "binary"}
MEDIA_INPUT = ("media", "media_type")
# Output fields that are null on an object without media (dumping None needs no allow_none).
NULL_WITHOUT_MEDIA = {"media_type", "media_status", "media_info"}

# Schemas of response bodies: every field is always dumped, so every property is required.
DUMPED = ("User", "Me", "Post", "Comment", "Reaction", "Notification", "Device")
# The marshmallow schemas, as components. Variants (JSON bodies without the file fields,
# partial updates) are schema instances; the plugin refers to equal instances by name.
SCHEMAS = {
    "User": UserSchema,
    "Me": MeSchema,
    "Post": PostSchema,
    "Comment": CommentSchema,
    "Reaction": ReactionSchema,
    "Notification": NotificationSchema,
    "Device": DeviceSchema,
    "Preferences": PreferencesSchema,
    "Register": RegisterSchema,
    "Login": LoginSchema,
    "ProfileUpdate": ProfileUpdateSchema,
    "PostCreate": PostCreateSchema(exclude=MEDIA_INPUT),
    "PostCreateForm": PostCreateSchema,
    "PostUpdate": PostUpdateSchema,
    "PostPatch": PostUpdateSchema(partial=True),
    "CommentCreate": CommentCreateSchema(exclude=MEDIA_INPUT),
    "CommentCreateForm": CommentCreateSchema,
    "CommentUpdate": CommentUpdateSchema,
    "CommentPatch": CommentUpdateSchema(partial=True),
    "ReactionInput": ReactionInputSchema,
    "DeviceCreate": DeviceCreateSchema,
    "PreferencesUpdate": PreferencesSchema(partial=True),
}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def page_of(item, **extra):
    """The ``{count, next, previous, results}`` envelope of app.pagination."""
    properties = {
        "count": {"type": "integer", "minimum": 0},
        "next": {"type": "string", "format": "uri", "nullable": True},
        "previous": {"type": "string", "format": "uri", "nullable": True},
        "results": {"type": "array", "items": ref(item)},
        **extra,
    }
    return {"type": "object", "properties": properties, "required": list(properties)}


def plain_object(**properties):
    return {"type": "object", "properties": properties, "required": list(properties)}


STRING = {"type": "string"}
# Bodies no marshmallow schema dumps: the envelopes and the small answers built in views.
PLAIN_SCHEMAS = {
    "Error": plain_object(detail=STRING),
    "ValidationError": {
        "type": "object",
        "description": "Field name to messages; body-level problems under `non_field_errors`; "
                       "malformed JSON as `detail`.",
        "properties": {"non_field_errors": {"type": "array", "items": STRING}, "detail": STRING},
        "additionalProperties": {"type": "array", "items": STRING},
    },
    "ReactionCount": plain_object(
        reaction_type={"type": "string", "enum": list(REACTION_TYPES)},
        count={"type": "integer", "minimum": 1},
    ),
    "TokenPair": plain_object(user=ref("Me"), access_token=STRING, refresh_token=STRING),
    "AccessToken": plain_object(access_token=STRING),
    "PostPage": page_of("Post"),
    "CommentPage": page_of("Comment"),
    "NotificationPage": page_of("Notification", unread_count={"type": "integer", "minimum": 0}),
    "MarkedRead": plain_object(marked_read={"type": "integer", "minimum": 0}),
    "WebPushKey": plain_object(public_key={"type": "string", "nullable": True}),
    "Health": plain_object(
        status={"type": "string", "enum": ["ok"]},
        websocket=plain_object(connections={"type": "integer"}, groups={"type": "integer"}),
    ),
    "Readiness": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": {
                "type": "object",
                "description": "`database` always; `redis` when REDIS_URL is set.",
                "properties": {name: {"type": "string", "enum": ["ok", "unavailable"]}
                               for name in ("database", "redis")},
                "required": ["database"],
            },
        },
        "required": ["status", "checks"],
    },
}


def error(description, example, schema="Error", headers=None):
    response = {"description": description,
                "content": {"application/json": {"schema": schema, "example": example}}}
    if headers:
        response["headers"] = headers
    return response


ERROR_RESPONSES = {
    400: ("BadRequest", error("Invalid input.", {"title": ["This field is required."]}, "ValidationError")),
    401: ("Unauthorized", error(f"No token, or a bad one ({INVALID_TOKEN!r}); at login, wrong credentials.",
                                 {"detail": DETAILS[401]})),
    403: ("Forbidden", error("Not the owner (nor an admin).", {"detail": DETAILS[403]})),
    404: ("NotFound", error("No such object (or, for a page, `Invalid page.`).", {"detail": DETAILS[404]})),
    405: ("MethodNotAllowed", error(
        "The path does not answer this method.", {"detail": 'Method "DELETE" not allowed.'},
        headers={"Allow": {"schema": STRING, "description": "The methods it answers."}})),
    413: ("PayloadTooLarge", error(
        "The body or a file exceeds the limit (MAX_MEDIA_BYTES, 10 MiB by default).",
        {"detail": "Request body exceeds the upload limit of 10485760 bytes."})),
    429: ("Throttled", error(
        "Over the rate limit.", {"detail": "Request was throttled. Expected available in 12 seconds."},
        headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}})),
    500: ("ServerError", error("An unexpected error (logged, never shown).", {"detail": "Internal server error."})),
}

PAGE_PARAMETERS = (
    {"in": "query", "name": "page", "schema": {"type": "integer", "minimum": 1, "default": 1},
     "description": "1-based; past the end or not a positive integer: 404 `Invalid page.`"},
    {"in": "query", "name": "page_size",
     "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_PAGE_SIZE},
     "description": f"Larger than {MAX_PAGE_SIZE} is clamped to {MAX_PAGE_SIZE}; non-numeric or < 1: 400."},
)


@dataclass(frozen=True)
class Op:
    """One REST operation. ``path`` is the Flask rule; schemas are component names."""

    method: str
    path: str
    summary: str
    response: object = None  # a component name or an inline schema; None: no body
    status: int = 200
    body: str = None  # application/json request body
    form: str = None  # multipart/form-data request body (uploads)
    query: object = ()  # parameter dicts, or a marshmallow schema expanded into them
    errors: tuple = ()  # statuses particular to the operation; the shared ones are derived
    public: bool = False  # no bearer token
    description: str = None
    extra_responses: tuple = ()  # (status, description, component name)
    media_types: tuple = ("application/json",)  # of the success response


OPERATIONS = (
    # Accounts
    Op("POST", "/auth/register", "Create an account", "TokenPair", 201, body="Register", public=True),
    Op("POST", "/auth/login", "Log in", "TokenPair", body="Login", public=True, errors=(401,),
       description="Wrong credentials: 401 `No active account found with the given credentials`."),
    Op("POST", "/auth/refresh", "A new access token", "AccessToken",
       description="Takes the **refresh** token (not an access token) as the bearer token."),
    Op("GET", "/auth/me", "The caller", "Me"),
    Op("PATCH", "/auth/me", "Update the caller's profile", "Me", body="ProfileUpdate", form="ProfileUpdate",
       description="`profile_photo` is an image file (multipart only); `profile_photo: null` clears it."),
    Op("PUT", "/auth/me", "Update the caller's profile (same as PATCH)", "Me", body="ProfileUpdate",
       form="ProfileUpdate"),
    # Posts
    Op("GET", "/ventroom/posts/", "The feed, newest first", "PostPage", query=PAGE_PARAMETERS, errors=(400, 404)),
    Op("POST", "/ventroom/posts/", "Create a post", "Post", 201, body="PostCreate", form="PostCreateForm",
       description="`media_type` goes with `media` and must match the file's sniffed type."),
    Op("GET", "/ventroom/posts/<int:post_id>/", "One post (adds one view)", "Post", errors=(404,)),
    Op("PUT", "/ventroom/posts/<int:post_id>/", "Replace a post's title and content", "Post",
       body="PostUpdate", errors=(403, 404), description="Owner or admin; media cannot be changed."),
    Op("PATCH", "/ventroom/posts/<int:post_id>/", "Edit a post", "Post", body="PostPatch", errors=(403, 404),
       description="Owner or admin; media cannot be changed."),
    Op("DELETE", "/ventroom/posts/<int:post_id>/", "Delete a post, its comments and reactions", status=204,
       errors=(403, 404)),
    # Comments
    Op("GET", "/ventroom/posts/<int:post_id>/comments/", "The post's comment trees",
       {"oneOf": [{"type": "array", "items": ref("Comment")}, ref("CommentPage")]},
       query=PAGE_PARAMETERS, errors=(400, 404),
       description="A plain array of top-level comments (replies nested), newest first; with `page` "
                   "or `page_size` in the query, the paginated envelope over top-level comments."),
    Op("POST", "/ventroom/posts/<int:post_id>/comments/", "Comment, or reply with `parent`", "Comment", 201,
       body="CommentCreate", form="CommentCreateForm", errors=(404,)),
    Op("GET", "/ventroom/posts/<int:post_id>/comments/<int:comment_id>/", "One comment with its replies",
       "Comment", errors=(404,)),
    Op("PUT", "/ventroom/posts/<int:post_id>/comments/<int:comment_id>/", "Edit a comment's text", "Comment",
       body="CommentUpdate", errors=(403, 404), description="The comment's author or an admin."),
    Op("PATCH", "/ventroom/posts/<int:post_id>/comments/<int:comment_id>/", "Edit a comment's text", "Comment",
       body="CommentPatch", errors=(403, 404), description="The comment's author or an admin."),
    Op("DELETE", "/ventroom/posts/<int:post_id>/comments/<int:comment_id>/", "Delete a comment and its replies",
       status=204, errors=(403, 404)),
    # Reactions
    Op("POST", "/ventroom/reactions/", "Add or change the caller's reaction", "Reaction", 201,
       body="ReactionInput"),
    Op("DELETE", "/ventroom/reactions/", "Remove the caller's reaction", status=204, query=ReactionTargetSchema,
       errors=(400,), description="204 also when there was none. The two fields may come in a JSON body instead."),
    # Notifications
    Op("GET", "/notifications/", "The caller's notifications, newest first", "NotificationPage",
       query=PAGE_PARAMETERS, errors=(400, 404)),
    Op("POST", "/notifications/<int:notification_id>/read", "Mark one notification read", "Notification",
       errors=(404,)),
    Op("POST", "/notifications/read-all", "Mark every notification read", "MarkedRead"),
    Op("GET", "/notifications/preferences", "The caller's notification switches", "Preferences"),
    Op("PATCH", "/notifications/preferences", "Change notification switches", "Preferences",
       body="PreferencesUpdate"),
    # Devices
    Op("POST", "/devices/", "Register a push target", "Device", 201, body="DeviceCreate",
       description="`token`: an FCM registration token, or a Web Push subscription (JSON string or object)."),
    Op("GET", "/devices/webpush-key", "The VAPID public key (null when Web Push is off)", "WebPushKey"),
    Op("DELETE", "/devices/", "Remove a push target", status=204, errors=(400,),
       query=({"in": "query", "name": "token", "required": True, "schema": STRING,
               "description": "The token, subscription JSON or endpoint URL."},),
       description="204 whether or not the caller had it."),
    Op("DELETE", "/devices/<device_token:token>", "Remove a push target", status=204,
       description="204 whether or not the caller had it."),
    # Files, health, this document
    Op("GET", "/media/<path:path>", "An uploaded file", BINARY, public=True, errors=(404,),
       media_types=("image/*", "video/*", "audio/*")),
    Op("GET", "/healthz", "Liveness, with this process's WebSocket counts", "Health", public=True),
    Op("GET", "/readyz", "Readiness: the database and Redis answer", "Readiness", public=True,
       extra_responses=((503, "A dependency does not answer.", "Readiness"),)),
    Op("GET", "/openapi.json", "This document", {"type": "object"}, public=True),
)


def openapi_path(rule):
    """``/ventroom/posts/<int:post_id>/`` -> ``/ventroom/posts/{post_id}/``"""
    return RULE_ARGUMENT.sub(lambda match: "{%s}" % match["name"], rule)


def tag_of(rule):
    return next(tag for prefix, tag in TAG_PREFIXES if rule.startswith(prefix))


def _custom_fields(self, field, ret, **kwargs):
    """Properties of this project's own marshmallow fields (bound to the plugin's converter)."""
    if isinstance(field, MediaURL):
        return {"nullable": True}
    if isinstance(field, ReactionCount):
        return {"type": "array", "items": ref("ReactionCount")}
    if isinstance(field, ContentType):
        return {"type": "string", "enum": list(CONTENT_TYPES)}
    if isinstance(field, ReactionType):
        return {"type": "string", "enum": [*REACTION_TYPES, *REACTION_NAMES],
                "description": "An emoji, or its name (any case); stored as the emoji."}
    if isinstance(field, Upload):
        return {"description": "A file, sent as multipart/form-data."}
    if isinstance(field.parent, MediaFieldsMixin) and field.name in NULL_WITHOUT_MEDIA:
        return {"nullable": True}
    return {}


def _parameters(op):
    params = [{"in": "path", "name": name, "required": True,
               "schema": dict(CONVERTER_TYPES.get(converter, STRING)),
               "description": PATH_PARAMETERS[name]}
              for converter, name in RULE_ARGUMENT.findall(op.path)]
    if isinstance(op.query, tuple):
        params.extend(dict(param) for param in op.query)
    else:
        params.append({"in": "query", "schema": op.query})
    return params


def _operation(op, rule):
    operation = {
        "tags": [tag_of(op.path)],
        "summary": op.summary,
        "operationId": rule.endpoint.replace(".", "_")
        + (f"_{op.method.lower()}" if len(rule.methods - {"HEAD", "OPTIONS"}) > 1 else ""),
        "responses": {},
    }
    if op.description:
        operation["description"] = op.description
    parameters = _parameters(op)
    if parameters:
        operation["parameters"] = parameters
    if op.body or op.form:
        content = {}
        if op.body:
            content["application/json"] = {"schema": op.body}
        if op.form:
            content["multipart/form-data"] = {"schema": op.form}
        operation["requestBody"] = {"required": op.method in ("POST", "PUT"), "content": content}
    if not op.public:
        operation["security"] = [{"bearerAuth": []}]

    responses = operation["responses"]
    if op.response is None:
        responses[str(op.status)] = {"description": "Done; no body."}
    else:
        responses[str(op.status)] = {"description": "Success.",
                                     "content": {media: {"schema": op.response} for media in op.media_types}}
    for status, description, schema in op.extra_responses:
        responses[str(status)] = {"description": description, "content": {"application/json": {"schema": schema}}}
    statuses = set(op.errors)
    if op.body or op.form:
        statuses |= {400, 413}
    if not op.public:
        statuses.add(401)
    if rule.endpoint not in EXEMPT_ENDPOINTS:
        statuses.add(429)
    statuses.add(500)
    for status in statuses:
        responses[str(status)] = ERROR_RESPONSES[status][0]
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def build_spec(app):
    """The spec of ``app`` (an ``apispec.APISpec``). Every row of OPERATIONS must be a route."""
    plugin = MarshmallowPlugin()
    spec = APISpec(title=TITLE, version=VERSION, openapi_version=OPENAPI_VERSION, plugins=[plugin],
                   info={"description": DESCRIPTION})
    for name, text in TAGS:
        spec.tag({"name": name, "description": text})
    plugin.map_to_openapi_type(UTCDateTime, "string", "date-time")
    plugin.map_to_openapi_type(MediaURL, "string", "uri")
    plugin.map_to_openapi_type(Upload, "string", "binary")
    plugin.map_to_openapi_type(IntegerId, "integer", None)
    plugin.converter.add_attribute_function(_custom_fields)

    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for name, schema in PLAIN_SCHEMAS.items():
        spec.components.schema(name, schema)
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    for name in DUMPED:
        component = spec.components.schemas[name]
        component["required"] = list(component["properties"])
    for name, response in ERROR_RESPONSES.values():
        spec.components.response(name, response)

    rules = {(rule.rule, method): rule for rule in app.url_map.iter_rules() for method in rule.methods}
    paths = {}
    for op in OPERATIONS:
        rule = rules.get((op.path, op.method))
        if rule is None:
            raise LookupError(f"{op.method} {op.path} is described but not routed")
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, rule)
    for path, operations in paths.items():
        spec.path(path=openapi_path(path), operations=operations)
    return spec


def spec_for(app):
    """The spec of ``app`` as a dict, built on first use and kept for the app's lifetime."""
    spec = app.extensions.get("openapi")
    if spec is None:
        spec = app.extensions["openapi"] = build_spec(app).to_dict()
    return spec
