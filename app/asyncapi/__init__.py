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
Schema by apispec with the field mappings of ``app.schemas.documentation``, at OpenAPI 3.1 (nullable
fields as ``type: [..., "null"]``): AsyncAPI's default schema format is a superset of JSON
Schema draft 07, which has no ``nullable``. The groups each event goes to (``x-groups``)
are named with ``app.realtime``'s own functions. This module imports nothing of
``app.sockets`` (the blueprints may not); the test of the document checks it against them.
"""
from urllib.parse import urlsplit

from app import openapi, realtime
from app.asyncapi import messages
from app.asyncapi.catalog import (ASYNCAPI_VERSION, CLIENT_MESSAGES, CLOSE_CODES, EVENTS, PLACEHOLDERS,
                                  POST_GROUP, REPLIES, TITLE, TRANSPORTS, user_group)
from app.schemas import realtime as data

__all__ = ["PLACEHOLDERS", "build_document", "document_for"]


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
Every connection is in its personal group `{user_group('user_id')}` from the start, and joins the feed \
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
        raw, socketio = messages.client_messages(name, client)
        components[name], components[f"{name}.socketio"] = raw, socketio
        channel_messages["raw"][name], channel_messages["socketio"][name] = name, f"{name}.socketio"
    for event_type, event in EVENTS.items():
        components[event_type] = messages.event_message(event_type, event)
    for reply_type, reply in REPLIES.items():
        components[reply_type] = messages.reply_message(reply_type, reply)
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
            "schemas": {**messages.envelope_schemas(), **messages.data_schemas()},
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
