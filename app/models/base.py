from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, String, TypeDecorator, false
from sqlalchemy.orm import mapped_column


def utcnow():
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class MediaMixin:
    """Columns shared by everything that can carry one uploaded file."""

    media = mapped_column(String(255), nullable=True)  # path under MEDIA_ROOT
    media_type = mapped_column(String(8), nullable=True)  # image | video | audio
    media_status = mapped_column(String(12), nullable=True)  # processing | ready | failed
    thumbnail = mapped_column(String(255), nullable=True)
    media_info = mapped_column(JSON, nullable=True)  # width, height, duration...


class SafetyMixin:
    """Anonymity, a content warning and moderation, shared by posts and comments."""

    # Who wrote it is shown only to its author and admins.
    anonymous = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    content_warning = mapped_column(String(100), nullable=True)  # NULL: none
    hidden_at = mapped_column(UTCDateTime, nullable=True)  # set by a moderator: out of every feed and list
