from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from app.schemas.fields import (ContentWarning, Flag, IsSet, ProcessedMediaURL, ReactionCount, Sensitive,
                                StrippedString, Unchangeable, Upload, UTCDateTime)
from app.schemas.users import Author

MEDIA_TYPES = ("image", "video", "audio")


class MediaFieldsMixin:
    """Output fields of anything that carries one uploaded file."""

    media = ProcessedMediaURL()
    media_type = fields.String()
    media_status = fields.String()
    thumbnail = ProcessedMediaURL()
    media_info = fields.Dict()


class SafetyFieldsMixin:
    """Output fields of posts and comments: anonymity, the content warning, moderation."""

    anonymous = fields.Boolean()
    content_warning = fields.String(allow_none=True)
    sensitive = Sensitive(attribute="content_warning", dump_only=True)
    hidden = IsSet(attribute="hidden_at", dump_only=True)  # true only in what its author and admins see


SAFETY_FIELDS = ("anonymous", "content_warning", "sensitive", "hidden")


class PostSchema(MediaFieldsMixin, SafetyFieldsMixin, Schema):
    id = fields.Integer()
    user = Author()
    title = fields.String()
    content = fields.String()
    created_at = UTCDateTime()
    updated_at = UTCDateTime()
    views = fields.Integer()
    total_comment = fields.Integer(attribute="comment_count")
    reaction_summary = ReactionCount()
    user_reaction = fields.String(allow_none=True)

    class Meta:
        fields = ("id", "user", "title", "content", "media", "media_type", "created_at", "updated_at",
                  "views", "total_comment", "reaction_summary", "user_reaction",
                  "media_status", "thumbnail", "media_info", *SAFETY_FIELDS)


def validate_media_pair(data, text_field, text_required_message):
    """``media_type`` goes with ``media``; without media the text is required."""
    has_media = data.get("media") is not None
    if has_media and not data.get("media_type"):
        raise ValidationError("This field is required when media is sent.", "media_type")
    if not has_media and data.get("media_type"):
        raise ValidationError("Send a media file with media_type, or leave media_type out.", "media_type")
    if not has_media and not data.get(text_field):
        raise ValidationError(text_required_message, text_field)


class MediaInputMixin:
    media = Upload(load_default=None, allow_none=True)
    media_type = fields.String(
        load_default=None, allow_none=True,
        validate=validate.OneOf(MEDIA_TYPES, error="Must be one of: image, video, audio."))


class PostCreateSchema(MediaInputMixin, Schema):
    class Meta:
        unknown = EXCLUDE  # like DRF: read-only and unknown fields are ignored

    title = StrippedString(required=True, validate=validate.Length(min=1, max=200))
    content = fields.String(load_default="", validate=validate.Length(max=10000))
    anonymous = Flag()
    content_warning = ContentWarning(load_default=None)

    @validates_schema
    def check_media(self, data, **kwargs):
        validate_media_pair(data, "content", "This field is required unless a media file is sent.")


MEDIA_UNCHANGEABLE = "Media cannot be changed once posted."


class PostUpdateSchema(Schema):
    """PUT needs ``title``; PATCH (loaded partial) does not."""

    class Meta:
        unknown = EXCLUDE

    title = StrippedString(required=True, validate=validate.Length(min=1, max=200))
    content = fields.String(validate=validate.Length(max=10000))
    content_warning = ContentWarning()  # absent: unchanged; null or blank: removed
    media = Unchangeable(MEDIA_UNCHANGEABLE)
