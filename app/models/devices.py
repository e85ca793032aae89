import hashlib

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

FCM, WEBPUSH = "fcm", "webpush"
PLATFORMS = (FCM, WEBPUSH)


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


class Device(db.Model):
    """A push target. A token belongs to one user at a time."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)  # fcm | webpush
    # An FCM registration token, or a Web Push subscription as JSON. Uniqueness is on a
    # digest of the identity: the FCM token itself, or the subscription's endpoint URL
    # (so a re-subscription with new keys replaces the old row).
    token: Mapped[str] = mapped_column(Text, nullable=False)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
