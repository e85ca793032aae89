"""Reactions: input validation (the documented 400 bodies) and the output shapes."""
from marshmallow import EXCLUDE, Schema, fields

from app.models.reactions import CONTENT_TYPES, REACTION_NAMES, REACTION_TYPES
from app.schemas.comments import REQUIRED, IntegerId
from app.schemas.fields import ReactionCount

CONTENT_TYPE_ERROR = "Invalid content type. Must be 'ventpost' or 'ventcomment'."
REACTION_TYPE_ERROR = "Must be one of: 👍, ❤️, 😂, 😢 (or like, love, haha, sad)."
VARIATION_SELECTOR = "\ufe0f"  # "❤" + VS16 = "❤️"; keyboards send either form


class ContentType(fields.Field):
    """``ventpost`` or ``ventcomment``; anything else present (blank, null included) is invalid."""

    default_error_messages = {"invalid": CONTENT_TYPE_ERROR, "null": CONTENT_TYPE_ERROR,
                              "required": REQUIRED}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value in CONTENT_TYPES:
            return value
        raise self.make_error("invalid")


class ReactionType(fields.Field):
    """One of the four emoji, or its name (any case); loads as the emoji."""

    default_error_messages = {"invalid": REACTION_TYPE_ERROR, "null": REACTION_TYPE_ERROR,
                              "required": REQUIRED}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip()
            if value in REACTION_TYPES:
                return value
            if value.lower() in REACTION_NAMES:
                return REACTION_NAMES[value.lower()]
            if value + VARIATION_SELECTOR in REACTION_TYPES:
                return value + VARIATION_SELECTOR
        raise self.make_error("invalid")


class ReactionTargetSchema(Schema):
    """What ``DELETE /ventroom/reactions/?content_type=&object_id=`` names."""

    class Meta:
        unknown = EXCLUDE

    content_type = ContentType(required=True)
    object_id = IntegerId(required=True)


class ReactionInputSchema(ReactionTargetSchema):
    reaction_type = ReactionType(required=True)


class ReactionSchema(Schema):
    """The 201 body: the caller's reaction, plus the object's summary after it."""

    content_type = fields.String()
    object_id = fields.Integer()
    reaction_type = fields.String()
    reaction_summary = ReactionCount()


class ReactionEventSchema(Schema):
    """``data`` of ``ventroom_reaction_updated``: the reactor's reaction (null once removed)."""

    content_type = fields.String()
    object_id = fields.Integer()
    reaction_summary = ReactionCount()
    user_reaction = fields.String(attribute="reaction_type", allow_none=True)
    user_id = fields.String()
