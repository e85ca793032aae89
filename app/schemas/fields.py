from marshmallow import ValidationError, fields, validate
from werkzeug.datastructures import FileStorage

from app.urls import media_url


class UTCDateTime(fields.Field):
    """UTC ISO 8601 with a ``Z`` suffix (dump only)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.isoformat().replace("+00:00", "Z")


class MediaURL(fields.Field):
    """A path under MEDIA_ROOT, dumped as an absolute URL."""

    def _serialize(self, value, attr, obj, **kwargs):
        return media_url(value)


class ProcessedMediaURL(MediaURL):
    """The URL of a post's or comment's file, null until its ``media_status`` is ready:
    an upload waiting in quarantine has no URL at all."""

    def _serialize(self, value, attr, obj, **kwargs):
        status = obj.get("media_status") if isinstance(obj, dict) else getattr(obj, "media_status", None)
        return media_url(value) if status == "ready" else None


class IsSet(fields.Boolean):
    """True when the attribute (a timestamp such as ``hidden_at``) is set (dump only)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value is not None


class Sensitive(fields.Boolean):
    """``sensitive``: the object has media and a content warning (read from ``content_warning``)."""

    def _serialize(self, value, attr, obj, **kwargs):
        media_type = obj.get("media_type") if isinstance(obj, dict) else getattr(obj, "media_type", None)
        media = obj.get("media") if isinstance(obj, dict) else getattr(obj, "media", None)
        return bool(value) and media_type is not None and media is not None


class ReactionCount(fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return [{"reaction_type": kind, "count": count} for kind, count in (value or [])]


class StrippedString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class ContentWarning(StrippedString):
    """An optional warning shown before the content: at most 100 characters; blank or
    null means none (loaded as None)."""

    MAX = 100

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, validate=validate.Length(
            max=self.MAX, error=f"Ensure this field has no more than {self.MAX} characters."), **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        return super().deserialize(value, attr, data, **kwargs) or None


class Flag(fields.Boolean):
    """A boolean input; null (a multipart form's empty value) is false."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, load_default=False, **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        return False if value is None else super().deserialize(value, attr, data, **kwargs)


class Upload(fields.Raw):
    """An uploaded file (multipart); anything else is DRF's "not a file" error."""

    default_error_messages = {"invalid": "The submitted data was not a file. Check the encoding type on the form."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value


class Unchangeable(fields.Field):
    """A field an update may not set: anything but null is refused with ``message``."""

    def __init__(self, message, **kwargs):
        super().__init__(allow_none=True, load_only=True, **kwargs)
        self.message = message

    def _deserialize(self, value, attr, data, **kwargs):
        raise ValidationError(self.message)
