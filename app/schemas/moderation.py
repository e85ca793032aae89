"""Reports and moderation: inputs, the report, the queue, moderated users, the log."""
from datetime import UTC

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from app.models.moderation import ACTIONS, REASONS, REPORTABLE, STATUSES, USER
from app.schemas.comments import REQUIRED, IntegerId
from app.schemas.fields import StrippedString, UTCDateTime
from app.schemas.users import UserSchema

TEXT_MAX = 1000
CHOICE = '"{input}" is not a valid choice.'
OBJECT_ID = {"description": "An integer for `ventpost` and `ventcomment`, the user's id (a string) for `user`.",
             "oneOf": [{"type": "integer"}, {"type": "string"}]}


def _text(**kwargs):
    return StrippedString(allow_none=True, validate=validate.Length(
        max=TEXT_MAX, error=f"Ensure this field has no more than {TEXT_MAX} characters."), **kwargs)


class ObjectId(fields.Raw):
    """Dumps the object id as its kind has it: an integer, or a user's id string."""

    def _serialize(self, value, attr, obj, **kwargs):
        kind = obj.get("content_type") if isinstance(obj, dict) else obj.content_type
        if value is None or kind == USER:
            return value
        return int(value)


class ReportInputSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    content_type = fields.String(required=True, validate=validate.OneOf(REPORTABLE, error=CHOICE),
                                 error_messages={"required": REQUIRED})
    object_id = fields.Raw(required=True, metadata=OBJECT_ID, error_messages={"required": REQUIRED})
    reason = fields.String(required=True, validate=validate.OneOf(REASONS, error=CHOICE),
                           error_messages={"required": REQUIRED})
    details = _text(load_default=None)

    @post_load
    def typed_id(self, data, **kwargs):
        """Posts and comments are named by integers, users by their id strings."""
        value = data["object_id"]
        if data["content_type"] == USER:
            if not isinstance(value, str) or not value.strip():
                raise ValidationError("A valid user id is required.", "object_id")
            data["object_id"] = value.strip()
        else:
            data["object_id"] = IntegerId().deserialize(value)
        data["details"] = data.get("details") or None
        return data


class SupportResourceSchema(Schema):
    name = fields.String()
    url = fields.String(metadata={"format": "uri"})
    phone = fields.String(metadata={"description": "Only when the deployment lists one."})


class ReportSchema(Schema):
    id = fields.Integer()
    content_type = fields.String(validate=validate.OneOf(REPORTABLE))
    object_id = ObjectId(metadata=OBJECT_ID)
    reason = fields.String(validate=validate.OneOf(REASONS))
    details = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    created_at = UTCDateTime()


class ReportCreatedSchema(ReportSchema):
    support_resources = fields.List(fields.Nested(SupportResourceSchema), metadata={
        "description": "Only on a `self_harm` report (or one repeated with that reason): the crisis "
                       "resources the deployment lists (`SUPPORT_RESOURCES`), for the client to show."})


class ReasonSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    reason = _text(load_default=None)


class SuspendSchema(ReasonSchema):
    until = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=UTC, metadata={
        "description": "ISO 8601 (UTC when no offset is given); null or absent: for good."})


class ModeratedUserSchema(UserSchema):
    suspended = fields.Boolean()
    suspended_until = UTCDateTime(allow_none=True)


class QueueItemSchema(Schema):
    content_type = fields.String(validate=validate.OneOf(REPORTABLE))
    object_id = ObjectId(metadata=OBJECT_ID)
    report_count = fields.Integer()
    reasons = fields.Dict(keys=fields.String(), values=fields.Integer(),
                          metadata={"description": "How many reports gave each reason."})
    first_reported_at = UTCDateTime()
    report_ids = fields.List(fields.Integer(), metadata={"description": "The reports, oldest first."})
    content = fields.Dict(metadata={"description": "The post, comment (with its replies) or user object, "
                                                   "as an admin sees it."})


class ModerationActionSchema(Schema):
    id = fields.Integer()
    actor = fields.Nested(UserSchema, allow_none=True, metadata={"description": "null: the command line."})
    action = fields.String(validate=validate.OneOf(ACTIONS))
    content_type = fields.String(validate=validate.OneOf(REPORTABLE), metadata={
        "description": "What was acted on (for `dismiss_report`: the reported object)."})
    object_id = ObjectId(metadata=OBJECT_ID)
    reason = fields.String(allow_none=True)
    created_at = UTCDateTime()
