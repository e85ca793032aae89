from marshmallow import EXCLUDE, Schema, fields, validate

from app.schemas.fields import MediaURL, StrippedString, Upload, UTCDateTime


class UserSchema(Schema):
    """The public user object."""

    id = fields.String()
    display_name = fields.String()
    profile_photo = MediaURL()


class MeSchema(UserSchema):
    email = fields.String()
    is_admin = fields.Boolean()
    created_at = UTCDateTime()


class RegisterSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=8, max=128))
    display_name = StrippedString(required=True, validate=validate.Length(min=1, max=100))


class LoginSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class ProfileUpdateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    display_name = StrippedString(validate=validate.Length(min=1, max=100))
    profile_photo = Upload(allow_none=True)  # an uploaded image (multipart), or null to clear


class TokenPairSchema(Schema):
    """What registering and logging in answer."""

    user = fields.Nested(MeSchema)
    access_token = fields.String()
    refresh_token = fields.String()


class AccessTokenSchema(Schema):
    access_token = fields.String()
