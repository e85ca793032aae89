"""The messages and schemas of the AsyncAPI document: ``data`` schemas from marshmallow
(apispec at OpenAPI 3.1, turned into JSON Schema draft 07), the four-key envelope around
them, and a message component for every event, reply and client message."""
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app import openapi
from app.schemas import documentation
from app.asyncapi.catalog import CLIENT_EXAMPLES, CLIENT_MESSAGES, EVENTS, REPLIES, REPLY_ID_PATTERN, TITLE, schema_ref
from app.schemas import realtime as data
from app.schemas.comments import CommentSchema
from app.schemas.posts import PostSchema
from app.schemas.reactions import ReactionEventSchema


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


def data_schemas():
    """Every ``data`` schema, as components: ``{name: JSON Schema}``."""
    plugin = MarshmallowPlugin(schema_name_resolver=documentation.schema_name)
    spec = APISpec(title=TITLE, version=openapi.VERSION, openapi_version="3.1.0", plugins=[plugin])
    documentation.register_fields(plugin)
    described = [*EVENTS.values(), *REPLIES.values(), *CLIENT_MESSAGES.values()]
    for schema in dict.fromkeys(item.data for item in described):
        spec.components.schema(documentation.schema_name(schema), schema=schema)
    # The REST objects are dumped whole, as REST answers them: every property is present.
    documentation.required_response_properties(spec, [documentation.schema_name(schema) for schema in (
        PostSchema, CommentSchema, ReactionEventSchema)])
    return _draft07(spec.to_dict()["components"]["schemas"])


def envelope_schemas():
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


def event_message(event_type, event):
    name = documentation.schema_name(event.data)
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


def reply_message(reply_type, reply):
    return {
        "name": reply_type,
        "title": reply_type,
        "summary": reply.summary,
        "description": " ".join(filter(None, [
            "A reply (to this connection only; not an event).", reply.description,
            "Its `event_id` (`r-<hex>`) is not a position to resume from."])),
        "payload": _envelope(reply_type, schema_ref(documentation.schema_name(reply.data)), "ReplyId"),
    }


def client_messages(name, message):
    """The raw and the Socket.IO form of one client message."""
    data_schema = schema_ref(documentation.schema_name(message.data))
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
