from marshmallow import EXCLUDE, Schema, fields

from app.schemas.fields import UTCDateTime
from app.schemas.users import UserSchema


class NotificationSchema(Schema):
    """A stored notification, as listed and as pushed (the push leaves out read/push_state)."""

    id = fields.Integer()
    kind = fields.String()  # comment | reply | reaction
    title = fields.String()
    message = fields.String()
    actor = fields.Nested(UserSchema, allow_none=True)  # null: the actor wrote anonymously
    post_id = fields.Integer(allow_none=True)
    comment_id = fields.Integer(allow_none=True)
    read = fields.Boolean()
    # pending | sent | throttled | no_device | failed
    push_state = fields.String()
    created_at = UTCDateTime()


class PreferencesSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    comments = fields.Boolean(required=True)
    replies = fields.Boolean(required=True)
    reactions = fields.Boolean(required=True)


class MarkedReadSchema(Schema):
    marked_read = fields.Integer()
