"""Comments: the output shape (a tree of replies, dumped without recursion) and the input schemas."""
import re

from marshmallow import EXCLUDE, Schema, fields, post_load, validate, validates_schema

from app.schemas.fields import ContentWarning, Flag, ReactionCount, StrippedString, Unchangeable, UTCDateTime
from app.schemas.posts import (MEDIA_UNCHANGEABLE, SAFETY_FIELDS, MediaFieldsMixin, MediaInputMixin, SafetyFieldsMixin,
                               validate_media_pair)
from app.schemas.users import Author, anonymized

TEXT_MAX = 5000
REQUIRED = "This field is required."
TEXT_TOO_LONG = f"Ensure this field has no more than {TEXT_MAX} characters."
TEXT_REQUIRED = "This field is required unless a media file is sent."


class IntegerId(fields.Field):
    """An id: a JSON integer or a form string of digits; never a bool or a fraction."""

    default_error_messages = {
        "invalid": "A valid integer is required.",
        "required": REQUIRED,
        "null": "This field may not be null.",
    }
    _DIGITS = re.compile(r"^\s*[-+]?\d{1,20}\s*$")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and self._DIGITS.match(value):
            return int(value)
        raise self.make_error("invalid")


class CommentSchema(MediaFieldsMixin, SafetyFieldsMixin, Schema):
    """One comment with its replies, newest first, nested to any depth.

    ``replies``, ``reaction_summary`` and ``user_reaction`` are attributes the comments
    service sets on each Comment it loads. Dump trees with ``dump_tree``, which builds
    the nesting bottom-up without recursion; the recursive field here serves single
    comments (a new comment has no replies).
    """

    id = fields.Integer()
    post = fields.Integer(attribute="post_id")
    user = Author()
    text = fields.String()
    created_at = UTCDateTime()
    updated_at = UTCDateTime()
    parent = fields.Integer(attribute="parent_id", allow_none=True)
    replies = fields.List(fields.Nested(lambda: CommentSchema()))  # noqa: PLW0108 (defined below)
    reaction_summary = ReactionCount()
    user_reaction = fields.String(allow_none=True)

    class Meta:
        fields = ("id", "post", "user", "text", "media", "media_type", "created_at", "updated_at",
                  "parent", "replies", "reaction_summary", "user_reaction",
                  "media_status", "thumbnail", "media_info", *SAFETY_FIELDS)


_node_schema = CommentSchema(exclude=("replies",))


def dump_tree(roots, broadcast=False):
    """Serialize ``roots`` and every comment under them (``comment.replies`` lists children).

    Children are dumped before their parents (reverse breadth-first order), so the
    depth of a thread costs no Python stack. ``broadcast`` nulls ``user_reaction`` at
    every level: the object real-time events carry is the same for every viewer.
    """
    order = list(roots)
    index = 0
    while index < len(order):
        order.extend(order[index].replies)
        index += 1
    dumped = {}
    for comment in reversed(order):
        flat = _node_schema.dump(comment)
        flat["replies"] = [dumped.pop(child.id) for child in comment.replies]
        if broadcast:
            flat["user_reaction"] = None
            anonymized(flat)
        dumped[comment.id] = {key: flat[key] for key in CommentSchema.Meta.fields}
    return [dumped[root.id] for root in roots]


class CommentCreateSchema(MediaInputMixin, Schema):
    class Meta:
        unknown = EXCLUDE  # like DRF: read-only and unknown fields are ignored

    # Trimmed like DRF's CharField: whitespace alone is blank. Multipart sends "" as None.
    text = StrippedString(load_default="", allow_none=True,
                          validate=validate.Length(max=TEXT_MAX, error=TEXT_TOO_LONG))
    parent = IntegerId(load_default=None, allow_none=True)
    anonymous = Flag()
    content_warning = ContentWarning(load_default=None)

    @validates_schema
    def check_media(self, data, **kwargs):
        validate_media_pair(data, "text", TEXT_REQUIRED)

    @post_load
    def blank_text(self, data, **kwargs):
        data["text"] = data.get("text") or ""
        return data


class CommentUpdateSchema(Schema):
    """``text`` only (PUT needs it; PATCH may leave it out). Blank is for the service to
    judge: allowed only on a comment that has media."""

    class Meta:
        unknown = EXCLUDE

    text = StrippedString(required=True, allow_none=True, error_messages={"required": REQUIRED},
                          validate=validate.Length(max=TEXT_MAX, error=TEXT_TOO_LONG))
    content_warning = ContentWarning()  # absent: unchanged; null or blank: removed
    media = Unchangeable(MEDIA_UNCHANGEABLE)

    @post_load
    def blank_text(self, data, **kwargs):
        if "text" in data:
            data["text"] = data["text"] or ""
        return data
