from marshmallow import EXCLUDE, Schema, fields, validate

from app.schemas.fields import MediaURL, StrippedString, Upload, UTCDateTime


ANONYMOUS_USER = {"id": None, "display_name": "Anonymous", "profile_photo": None}


class UserSchema(Schema):
    """The public user object."""

    id = fields.String()
    display_name = fields.String()
    profile_photo = MediaURL()


class AuthorSchema(UserSchema):
    """Who wrote a post or comment: the public user object, or for anonymous content (to
    anyone but its author and admins) ``{"id": null, "display_name": "Anonymous",
    "profile_photo": null}``."""

    id = fields.String(allow_none=True)


class Author(fields.Nested):
    """The author of anonymous content is dumped only where the service said so
    (``reveal_author``, set for the author and admins); everywhere else, and by default,
    the fixed anonymous object."""

    def __init__(self, **kwargs):
        super().__init__(AuthorSchema, **kwargs)

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        if getattr(obj, "anonymous", False) and not getattr(obj, "reveal_author", False):
            return dict(ANONYMOUS_USER)
        return super()._serialize(nested_obj, attr, obj, **kwargs)


def anonymized(data):
    """``data`` (a dumped post or comment) as everyone sees it: an anonymous author hidden."""
    if data.get("anonymous"):
        data["user"] = dict(ANONYMOUS_USER)
    return data


class MeSchema(UserSchema):
    email = fields.String()
    is_admin = fields.Boolean()
    created_at = UTCDateTime()


class SuspendedSchema(Schema):
    """A suspended account's login: 403."""

    detail = fields.String()
    suspended_until = UTCDateTime(allow_none=True)


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
