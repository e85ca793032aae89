from marshmallow import EXCLUDE, Schema, fields, validate

from app.models.devices import PLATFORMS
from app.schemas.fields import UTCDateTime


class DeviceCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    # An FCM registration token (string), or a Web Push subscription: the JSON of
    # PushSubscription.toJSON(), as a string or as an object.
    token = fields.Raw(required=True, allow_none=False)
    platform = fields.String(
        required=True, validate=validate.OneOf(PLATFORMS, error='"{input}" is not a valid choice.'))


class DeviceSchema(Schema):
    id = fields.Integer()
    platform = fields.String()
    token = fields.String()
    created_at = UTCDateTime()


class WebPushKeySchema(Schema):
    public_key = fields.String(allow_none=True)
