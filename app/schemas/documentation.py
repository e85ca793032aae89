"""How this project's marshmallow schemas are described, in the OpenAPI document and the
AsyncAPI one alike: component names, the JSON Schema of its own fields, and which
properties a response always has."""
from apispec.ext.marshmallow.common import resolve_schema_cls

from app.models.reactions import CONTENT_TYPES, REACTION_NAMES, REACTION_TYPES
from app.schemas.comments import IntegerId
from app.schemas.fields import MediaURL, ReactionCount, Upload, UTCDateTime
from app.schemas.posts import MediaFieldsMixin
from app.schemas.reactions import ContentType, ReactionType

NULL_WITHOUT_MEDIA = {"media_type", "media_status", "media_info"}
OPTIONAL = "x-optional"  # marks a response property that is not always there


def schema_name(schema):
    """Component names: the class name without ``Schema``; a PATCH body (partial) gets
    ``Patch`` appended."""
    name = resolve_schema_cls(schema).__name__.removesuffix("Schema")
    return name + "Patch" if getattr(schema, "partial", False) else name


def _custom_fields(self, field, ret, **kwargs):
    """Properties of this project's own marshmallow fields (bound to the plugin's converter)."""
    if isinstance(field, MediaURL):
        return {"nullable": True}
    if isinstance(field, ReactionCount):
        return {"type": "array", "items": {
            "type": "object", "required": ["reaction_type", "count"],
            "properties": {"reaction_type": {"type": "string", "enum": list(REACTION_TYPES)},
                           "count": {"type": "integer", "minimum": 1}}}}
    if isinstance(field, ContentType):
        return {"type": "string", "enum": list(CONTENT_TYPES)}
    if isinstance(field, ReactionType):
        return {"type": "string", "enum": [*REACTION_TYPES, *REACTION_NAMES],
                "description": "An emoji, or its name (any case); stored as the emoji."}
    if isinstance(field, Upload):
        return {"description": "A file, sent as multipart/form-data."}
    if isinstance(field.parent, MediaFieldsMixin) and field.name in NULL_WITHOUT_MEDIA:
        return {"nullable": True}
    if field.metadata.get("optional"):
        return {OPTIONAL: True}  # dumped only sometimes (taken out again below)
    return {}


def register_fields(plugin):
    """Teach ``plugin`` (a MarshmallowPlugin already given to an APISpec) this project's own
    fields; ``app.asyncapi`` describes the real-time objects with the same mappings."""
    plugin.map_to_openapi_type(UTCDateTime, "string", "date-time")
    plugin.map_to_openapi_type(MediaURL, "string", "uri")
    plugin.map_to_openapi_type(Upload, "string", "binary")
    plugin.map_to_openapi_type(IntegerId, "integer", None)
    plugin.converter.add_attribute_function(_custom_fields)


def _refs(node):
    """The component names ``node`` (a piece of a schema) refers to."""
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"].rsplit("/", 1)[1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def required_response_properties(spec, names):
    """Response bodies dump every field: every property of their schemas, and of the
    schemas nested in them, is required."""
    pending, seen = list(names), set()
    while pending:
        name = pending.pop()
        component = spec.components.schemas.get(name)
        if name in seen or not component or "properties" not in component:
            continue
        seen.add(name)
        component["required"] = [key for key, value in component["properties"].items()
                                 if not value.pop(OPTIONAL, False)]
        pending.extend(_refs(component["properties"]))
