"""The AsyncAPI 3 description of the real-time API, served as ``GET /asyncapi.json``.

Two servers and one channel each (a WebSocket connection is one channel): the raw
WebSocket at ``/ws/`` and Socket.IO at ``/socket.io/``. Every message is a component:
the client messages of the protocol (``app.sockets.protocol``), in their raw form
(``{"type", "data"}``) and their Socket.IO form (the event of that name, its payload the
``data``), and every event and reply of ``app.realtime``, whose payload is the whole
envelope ``{type, data, timestamp, event_id}`` on both transports. Operations are written
from the client's side: ``send`` for what a client sends (its replies attached), ``receive``
for events and replies.

``data`` is described by the marshmallow schemas of the REST objects (``app.schemas``) and
by those of the events' and replies' own data (``app.schemas.realtime``), turned into JSON
Schema by apispec with the field mappings of ``app.openapi``, at OpenAPI 3.1 (nullable
fields as ``type: [..., "null"]``): AsyncAPI's default schema format is a superset of JSON
Schema draft 07, which has no ``nullable``. The groups each event goes to (``x-groups``)
are named with ``app.realtime``'s own functions. This module imports nothing of
``app.sockets`` (the blueprints may not); the test of the document checks it against them.
"""
from dataclasses import dataclass
from urllib.parse import urlsplit

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app import openapi, realtime
from app.schemas import realtime as data
from app.schemas.comments import CommentSchema
from app.schemas.posts import PostSchema
from app.schemas.reactions import ReactionEventSchema

ASYNCAPI_VERSION = "3.0.0"
TITLE = "Vent Room real-time API"
REPLY_ID_PATTERN = r"^r-[0-9a-f]{32}$"
TRANSPORTS = ("raw", "socketio")


def schema_ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _user(who):
    return realtime.user_group(f"{{{who}}}")


POST_GROUP = realtime.post_group("{post_id}")
PLACEHOLDERS = {
    "post_id": "the post concerned (of a comment or a reaction on a comment: its post)",
    "author_id": "who wrote the post or comment",
    "post_owner_id": "the owner of the post commented on",
    "parent_owner_id": "the owner of the comment replied to",
    "reactor_id": "who reacted",
    "owner_id": "the owner of the post or comment reacted to",
}


@dataclass(frozen=True)
class Event:
    summary: str
    data: object  # a Schema class
    groups: tuple
    description: str = ""


@dataclass(frozen=True)
class Reply:
    summary: str
    data: object
    description: str = ""


@dataclass(frozen=True)
class ClientMessage:
    summary: str
    data: object
    data_required: bool
    replies: tuple
    description: str = ""


BROADCAST = ("`data` is the REST object as every viewer sees it: `user_reaction` is null (a comment's "
             "replies are nested as the REST tree nests them).")
REACTION = "`data` carries the reactor's `user_reaction` (null once removed) and `user_id`."
EVENTS = {
    realtime.NEW_POST: Event("A post was created.", PostSchema, (realtime.FEED, _user("author_id")), BROADCAST),
    realtime.POST_UPDATED: Event("A post was edited, or its media finished processing.", PostSchema,
                                 (POST_GROUP, realtime.FEED), BROADCAST),
    realtime.POST_DELETED: Event("A post was deleted (with its comments).", data.PostDeletedDataSchema,
                                 (POST_GROUP, realtime.FEED)),
    realtime.NEW_COMMENT: Event("A comment or a reply was created.", CommentSchema,
                                (POST_GROUP, _user("author_id")), BROADCAST),
    realtime.COMMENT_ON_USER_POST: Event(
        "Someone else commented on (or replied under) the receiver's post.", CommentSchema,
        (_user("post_owner_id"),),
        "Sent once per comment: not to its author, and not to the post's owner when they own the comment "
        f"replied to (they get `{realtime.REPLY_ON_USER_COMMENT}`). " + BROADCAST),
    realtime.REPLY_ON_USER_COMMENT: Event(
        "Someone else replied to the receiver's comment.", CommentSchema, (_user("parent_owner_id"),),
        "Not sent when the reply's author owns the comment replied to. " + BROADCAST),
    realtime.COMMENT_UPDATED: Event("A comment was edited, or its media finished processing.", CommentSchema,
                                    (POST_GROUP,), BROADCAST),
    realtime.COMMENT_DELETED: Event("A comment was deleted (with every reply under it).",
                                    data.CommentDeletedDataSchema, (POST_GROUP,)),
    realtime.REACTION_UPDATED: Event("A reaction was added, changed or removed.", ReactionEventSchema,
                                     (POST_GROUP, _user("reactor_id")), REACTION),
    realtime.REACTION_ON_USER_CONTENT["ventpost"]: Event(
        "Someone else added or changed a reaction on the receiver's post.", ReactionEventSchema,
        (_user("owner_id"),), "Not sent when a reaction is removed. " + REACTION),
    realtime.REACTION_ON_USER_CONTENT["ventcomment"]: Event(
        "Someone else added or changed a reaction on the receiver's comment.", ReactionEventSchema,
        (_user("owner_id"),), "Not sent when a reaction is removed. " + REACTION),
}

RESUME_REPLY = ("With `last_event_id` in the join, `data` also carries `recovered` and `replayed`, and the "
                "`replayed` missed events of the group follow this reply, oldest first, each as it was first "
                "sent; then live events.")
REPLIES = {
    realtime.JOINED: Reply("Answer to `join_ventroom`.", data.JoinedDataSchema, RESUME_REPLY),
    realtime.LEFT: Reply("Answer to `leave_ventroom`.", data.LeftDataSchema),
    realtime.POST_JOINED: Reply("Answer to `join_ventroom_post`.", data.PostJoinedDataSchema, RESUME_REPLY),
    realtime.POST_LEFT: Reply("Answer to `leave_ventroom_post`.", data.PostLeftDataSchema),
    realtime.RESUMED: Reply(
        "Right after a connection that carried `last_event_id`: the outcome of resuming the personal group.",
        data.ResumedDataSchema,
        f"The first frame of such a connection; the `replayed` missed events of `{_user('user_id')}` follow "
        "it, oldest first, then live events. A connection without `last_event_id` gets no such frame."),
    realtime.PONG: Reply("Answer to `ping`.", data.PongDataSchema),
    realtime.ERROR: Reply(
        "A client message the server could not apply; the connection stays open.", data.ErrorDataSchema,
        "Sent for a post that does not exist, a missing or non-numeric `post_id`, one post group too many "
        "(`MAX_GROUPS_PER_CONNECTION`), the first message over the rate limit and an internal error; on the raw "
        "transport also for an unknown `type` and a frame that is not a JSON object with a string `type` (or "
        "is binary). Socket.IO ignores events it has no handler for."),
}

CLIENT_MESSAGES = {
    "join_ventroom": ClientMessage(
        f"Join the feed group `{realtime.FEED}`; with `last_event_id`, resume it.",
        data.JoinVentroomDataSchema, False, (realtime.JOINED,)),
    "leave_ventroom": ClientMessage(f"Leave `{realtime.FEED}`.", data.NoDataSchema, False, (realtime.LEFT,)),
    "join_ventroom_post": ClientMessage(
        f"Join a post's group `{POST_GROUP}`; with `last_event_id`, resume it.",
        data.JoinVentroomPostDataSchema, True, (realtime.POST_JOINED, realtime.ERROR),
        "The post must exist; a connection joins at most `MAX_GROUPS_PER_CONNECTION` posts."),
    "leave_ventroom_post": ClientMessage(f"Leave `{POST_GROUP}`.", data.PostIdDataSchema, True,
                                         (realtime.POST_LEFT, realtime.ERROR)),
    "ping": ClientMessage("Ask for a `pong` (an application-level keepalive).", data.NoDataSchema, False,
                          (realtime.PONG,)),
}
CLIENT_EXAMPLES = {
    "join_ventroom": [{}, {"last_event_id": "1764630000000-3"}],
    "join_ventroom_post": [{"post_id": 12}, {"post_id": 12, "last_event_id": "1764630000000-3"}],
    "leave_ventroom_post": [{"post_id": 12}],
}

# Raw close codes (``app.sockets.raw`` and ``app.sockets.hub`` name them).
CLOSE_CODES = [
    (1000, "", "The answer to the client's own close."),
    (1008, "Protocol error / Too many messages",
     "An invalid WebSocket frame; or still sending after the rate limit's `error` (a bucket of "
     "`WS_MESSAGE_BURST` refilled at `WS_MESSAGES_PER_SECOND`)."),
    (1009, "Message too big", "A message over `WS_MAX_MESSAGE_BYTES` (64 KiB)."),
    (1011, "Internal server error", "The server failed reading the connection."),
    (1012, "Missed events: reconnect and resume",
     "The web process lost the event log and cannot tell what the connection missed: reconnect with "
     "`last_event_id` and rejoin with it."),
    (4401, "Authentication failed / Token expired",
     "At connect: no token, a bad one, a refresh token, or a deleted user (the upgrade is answered, then "
     "closed: the connection joins nothing). Later: the access token expired; reconnect with a fresh one."),
    (4403, "(the server's reason)", "The server closed every connection of the user (a suspension)."),
    (4429, "Too many connections",
     "The user already has `MAX_CONNECTIONS_PER_USER` connections open (raw and Socket.IO, every process)."),
]


def _draft07(node):
    """apispec's OpenAPI 3.1 output as JSON Schema: a ``nullable`` left by this project's
    own field mappings (``app.openapi``) becomes a ``"null"`` type."""
    if isinstance(node, list):
        return [_draft07(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _draft07(value) for key, value in node.items()}
    if node.get("nullable") is True:
        del node["nullable"]
        if "type" not in node:
            return {"anyOf": [node, {"type": "null"}]}
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        node["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
    return node


def _data_schemas():
    """Every ``data`` schema, as components: ``{name: JSON Schema}``."""
    plugin = MarshmallowPlugin(schema_name_resolver=openapi.schema_name)
    spec = APISpec(title=TITLE, version=openapi.VERSION, openapi_version="3.1.0", plugins=[plugin])
    openapi.register_fields(plugin)
    described = [*EVENTS.values(), *REPLIES.values(), *CLIENT_MESSAGES.values()]
    for schema in dict.fromkeys(item.data for item in described):
        spec.components.schema(openapi.schema_name(schema), schema=schema)
    # The REST objects are dumped whole, as REST answers them: every property is present.
    openapi._required_response_properties(spec, [openapi.schema_name(schema) for schema in (
        PostSchema, CommentSchema, ReactionEventSchema)])
    return _draft07(spec.to_dict()["components"]["schemas"])


def _envelope_schemas():
    return {
        "EventId": {"type": "string", "pattern": data.EVENT_ID_PATTERN, "description": (
            "An event's position: `\"<milliseconds>-<sequence>\"` (the form of a Redis stream id) from one "
            "sequence per deployment, the same in every copy of the event. Compare numerically by "
            "(milliseconds, sequence): a later event has a greater id, in every group.")},
        "ReplyId": {"type": "string", "pattern": REPLY_ID_PATTERN, "description": (
            "A reply's id (`r-` and 32 hex digits): unique, but not a position: never resume from it.")},
        "Timestamp": {"type": "string", "format": "date-time", "pattern": "Z$",
                      "description": "When the frame was made: UTC ISO 8601, whole seconds, `Z` suffix."},
    }


def _envelope(message_type, data_schema, id_schema):
    return {
        "type": "object",
        "required": ["type", "data", "timestamp", "event_id"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "const": message_type},
            "data": data_schema,
            "timestamp": schema_ref("Timestamp"),
            "event_id": schema_ref(id_schema),
        },
    }


def _event_message(event_type, event):
    name = openapi.schema_name(event.data)
    data_schema = schema_ref(name)
    if event.data in (PostSchema, CommentSchema):
        data_schema = {"allOf": [data_schema, {"properties": {"user_reaction": {"type": "null"}}}]}
    groups = ", ".join(f"`{group}`" for group in event.groups)
    return {
        "name": event_type,
        "title": event_type,
        "summary": event.summary,
        "description": " ".join(filter(None, [
            f"An event, sent to {groups}.", event.description,
            "Its `event_id` is a position to resume from; a connection in several of the groups gets it "
            "once (live; a resume may replay it once per group)."])),
        "payload": _envelope(event_type, data_schema, "EventId"),
        "x-groups": list(event.groups),
    }


def _reply_message(reply_type, reply):
    return {
        "name": reply_type,
        "title": reply_type,
        "summary": reply.summary,
        "description": " ".join(filter(None, [
            "A reply (to this connection only; not an event).", reply.description,
            "Its `event_id` (`r-<hex>`) is not a position to resume from."])),
        "payload": _envelope(reply_type, schema_ref(openapi.schema_name(reply.data)), "ReplyId"),
    }


def _client_messages(name, message):
    """The raw and the Socket.IO form of one client message."""
    data_schema = schema_ref(openapi.schema_name(message.data))
    examples = CLIENT_EXAMPLES.get(name, [{}])
    replies = ", ".join(f"`{reply}`" for reply in message.replies)
    text = " ".join(filter(None, [message.description, f"Answered with {replies}."]))
    raw = {
        "name": name, "title": name, "summary": message.summary,
        "description": f"A JSON text frame; `data` {'is required' if message.data_required else 'may be left out'}. "
                       + text,
        "payload": {"type": "object", "required": ["type", "data"] if message.data_required else ["type"],
                    "properties": {"type": {"type": "string", "const": name}, "data": data_schema}},
        "examples": [{"payload": {"type": name, **({"data": example} if example else {})}} for example in examples],
    }
    socketio = {
        "name": name, "title": name, "summary": message.summary,
        "description": f"The Socket.IO event `{name}`; its payload is the `data` of the raw frame "
                       f"({'required' if message.data_required else 'it may be left out'}). Replies are events "
                       "too, never acknowledgements. " + text,
        "payload": data_schema,
        "examples": [{"payload": example} for example in examples],
    }
    return raw, socketio


def _description(config):
    window, backlog, replay_max = (config["REALTIME_RESUME_SECONDS"], config["REALTIME_BACKLOG_EVENTS"],
                                   config["REALTIME_REPLAY_MAX"])
    placeholders = "\n".join(f"- `{{{key}}}`: {text}" for key, text in PLACEHOLDERS.items())
    return f"""\
The real-time API of the Vent Room server: a raw WebSocket at `/ws/` and Socket.IO at `/socket.io/`, \
one set of groups, client messages and events. docs/API.md is the prose reference; the REST API is in \
`/openapi.json`. Operations are written from the client's side: `send` is what a client sends, `receive` \
what it is sent.

## Frames
Every frame the server sends, on both transports, is the envelope `{{"type", "data", "timestamp", \
"event_id"}}`. On Socket.IO the event's name is its `type` and its payload the envelope; a client's \
Socket.IO message is the event of the message's name, its payload the raw frame's `data`.

## Groups
Every connection is in its personal group `{_user('user_id')}` from the start, and joins the feed \
`{realtime.FEED}` and post groups `{POST_GROUP}` with messages. Each event names its groups in its \
description and in `x-groups`, where:
{placeholders}

## Resuming after a reconnect
- Events (the messages with `x-groups`) carry ordered ids, `"<milliseconds>-<sequence>"`, from one \
sequence per deployment: an id seen in any group is a resume position for every group. Keep the last one \
seen. Replies (`r-<hex>` ids) are not positions.
- Resume a group by joining it with `last_event_id`: `join_ventroom` / `join_ventroom_post` with \
`data.last_event_id`. The reply (`{realtime.JOINED}` / `{realtime.POST_JOINED}`) also carries \
`"recovered": true|false` and `"replayed": n`; then come the n missed events of that group, oldest first, \
each exactly as first sent (same envelope, same `event_id`); then live events, none missing, none twice \
within the group, in id order.
- The personal group is resumed at connect: `/ws/?token=…&last_event_id=…`, or Socket.IO \
`auth: {{token, last_event_id}}`. The first frame is then `{realtime.RESUMED}` `{{recovered, replayed}}`, \
followed by the replayed events.
- Without `last_event_id`, joining and connecting behave as they always did (no new keys, no new frames).
- `recovered: true, replayed: 0` whenever no event of the group came after the id, however old the id, \
as long as the server can tell: a group keeps its backlog for the window after its own last event, and \
once it has none an id older than the window is answered `false` if any event of the deployment came after \
it.
- `recovered: false, replayed: 0` (the group is joined all the same; refetch over REST) when the id is \
malformed (anything but `^[0-9]+-[0-9]+$`; a bare `"123"` is malformed), from the future (past the newest \
id issued), or from before the event log lost its data (a Redis restart without persistence, `FLUSHALL`; \
a restart in embedded mode); and when events came after it and it is older than the window ({window} s, \
`REALTIME_RESUME_SECONDS`), or more came than a group's backlog keeps ({backlog}, \
`REALTIME_BACKLOG_EVENTS`) or than one join replays ({replay_max}, `REALTIME_REPLAY_MAX`: exactly that \
many are replayed, one more is refused). Never a partial replay presented as complete.
- An event that went to two groups a client resumes may be replayed once per group: dedupe by `event_id`.
- REST reads used to resynchronise (the feed, a post, its comments) answer a `Last-Event-ID` header: the \
newest event id when the data was read (`0-0` before the first). Resuming from it misses nothing."""


def _servers(config):
    base = urlsplit(config.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000")
    variables = {"host": {"default": base.netloc, "description": (
        "The deployment's host and port (`PUBLIC_BASE_URL`'s); use wss where it serves https.")}}
    protocol = "wss" if base.scheme == "https" else "ws"
    security = [{"$ref": "#/components/securitySchemes/bearerAuth"},
                {"$ref": "#/components/securitySchemes/tokenQuery"}]
    return {
        "raw": {"host": "{host}", "protocol": protocol, "protocolVersion": "13", "title": "Raw WebSocket",
                "description": "A plain WebSocket (RFC 6455) speaking JSON text frames.", "variables": variables,
                "security": security},
        "socketio": {"host": "{host}", "protocol": protocol, "title": "Socket.IO",
                     "description": ("Socket.IO (protocol 5: Socket.IO 3 and 4 clients) on the default namespace. "
                                     "The WebSocket transport works on any process; HTTP long-polling needs "
                                     "sticky sessions."),
                     "variables": variables, "security": security},
    }


def _last_event_id(where):
    return {"type": "string", "pattern": data.EVENT_ID_PATTERN, "description": (
        f"Resume the personal group from this event id ({where}): the first frame is `{realtime.RESUMED}`.")}


def _channels(config, messages):
    token = {"type": "string", "description": "An access token (or send `Authorization: Bearer`)."}
    close_codes = [{"code": code, "reason": reason, "description": text} for code, reason, text in CLOSE_CODES]
    codes = "".join(f"\n- **{code}** {text}" for code, _, text in CLOSE_CODES)
    raw_query = {"type": "object", "properties": {"token": token, "last_event_id": _last_event_id("optional")}}
    sio_auth = {"type": "object", "properties": {
        "token": {"type": "string", "description": "An access token (the `token` query parameter and the "
                                                   "`Authorization: Bearer` header work too)."},
        "last_event_id": _last_event_id("optional")}}
    headers = {"type": "object", "properties": {"Authorization": {"type": "string", "pattern": "^Bearer ",
                                                                  "description": "`Bearer <access token>`"}}}
    return {
        "raw": {
            "address": "/ws/",
            "title": "Raw WebSocket connection",
            "servers": [{"$ref": "#/servers/raw"}],
            "description": (
                "Connect to `/ws/?token=<access token>` (or with `Authorization: Bearer`), adding "
                "`&last_event_id=<id>` to resume the personal group. Client messages are JSON text frames "
                "`{\"type\", \"data\"}`. The server pings every `WS_PING_INTERVAL` seconds and drops a "
                "connection that has not answered the previous ping, or that lets `WS_SEND_QUEUE_SIZE` "
                f"frames pile up unread (no close frame). Close codes:{codes}"),
            "messages": {name: {"$ref": f"#/components/messages/{component}"}
                         for name, component in messages["raw"].items()},
            "bindings": {"ws": {"method": "GET", "query": raw_query, "headers": headers, "bindingVersion": "0.1.0"}},
            "x-close-codes": close_codes,
        },
        "socketio": {
            "address": "/socket.io/",
            "title": "Socket.IO connection",
            "servers": [{"$ref": "#/servers/socketio"}],
            "description": (
                "`io(url, {auth: {token, last_event_id}})`: `last_event_id` (optional) resumes the personal "
                "group. A bad token is refused with `connect_error` \"Authentication failed\"; one connection "
                "over `MAX_CONNECTIONS_PER_USER` with \"Too many connections\". Where the raw transport closes "
                "with a code (token expired, too many messages, suspension, missed events), Socket.IO "
                "disconnects the client (`io server disconnect`)."),
            "messages": {name: {"$ref": f"#/components/messages/{component}"}
                         for name, component in messages["socketio"].items()},
            "bindings": {"ws": {"method": "GET", "query": {"type": "object", "properties": {
                "EIO": {"type": "string", "const": "4"}, "transport": {"type": "string", "enum": ["websocket"]},
                "token": token}}, "headers": headers, "bindingVersion": "0.1.0"}},
            "x-socketio-auth": sio_auth,
        },
    }


def _operations(transport):
    channel = {"$ref": f"#/channels/{transport}"}

    def message(name):
        return {"$ref": f"#/channels/{transport}/messages/{name}"}

    operations = {}
    for name, client in CLIENT_MESSAGES.items():
        operations[f"{transport}_send_{name}"] = {
            "action": "send", "channel": channel, "summary": client.summary, "messages": [message(name)],
            "reply": {"channel": channel, "messages": [message(reply) for reply in client.replies]}}
    for event_type, event in EVENTS.items():
        operations[f"{transport}_receive_{event_type}"] = {
            "action": "receive", "channel": channel, "summary": event.summary, "messages": [message(event_type)]}
    for reply_type, reply in REPLIES.items():
        operations[f"{transport}_receive_{reply_type}"] = {
            "action": "receive", "channel": channel, "summary": reply.summary, "messages": [message(reply_type)]}
    return operations


def build_document(app):
    config = app.config
    components = {}
    channel_messages = {"raw": {}, "socketio": {}}
    for name, client in CLIENT_MESSAGES.items():
        raw, socketio = _client_messages(name, client)
        components[name], components[f"{name}.socketio"] = raw, socketio
        channel_messages["raw"][name], channel_messages["socketio"][name] = name, f"{name}.socketio"
    for event_type, event in EVENTS.items():
        components[event_type] = _event_message(event_type, event)
    for reply_type, reply in REPLIES.items():
        components[reply_type] = _reply_message(reply_type, reply)
    for transport in TRANSPORTS:
        channel_messages[transport].update({name: name for name in [*EVENTS, *REPLIES]})
    operations = {}
    for transport in TRANSPORTS:
        operations.update(_operations(transport))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": TITLE, "version": openapi.VERSION, "description": _description(config)},
        "defaultContentType": "application/json",
        "servers": _servers(config),
        "channels": _channels(config, channel_messages),
        "operations": operations,
        "components": {
            "schemas": {**_envelope_schemas(), **_data_schemas()},
            "messages": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "`Authorization: Bearer <access token>` on the handshake."},
                "tokenQuery": {"type": "httpApiKey", "name": "token", "in": "query",
                               "description": "`?token=<access token>`, for clients that cannot set headers."},
            },
        },
        "x-resume": {
            "event_id_pattern": data.EVENT_ID_PATTERN,
            "window_seconds": config["REALTIME_RESUME_SECONDS"],
            "backlog_events": config["REALTIME_BACKLOG_EVENTS"],
            "replay_max": config["REALTIME_REPLAY_MAX"],
        },
    }


def document_for(app):
    """The document of ``app`` as a dict, built on first use and kept for the app's lifetime."""
    document = app.extensions.get("asyncapi")
    if document is None:
        document = app.extensions["asyncapi"] = build_document(app)
    return document
