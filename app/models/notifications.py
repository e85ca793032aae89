from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

COMMENT, REPLY, REACTION = "comment", "reply", "reaction"
PUSH_PENDING, PUSH_SENT, PUSH_THROTTLED, PUSH_NO_DEVICE, PUSH_FAILED = (
    "pending", "sent", "throttled", "no_device", "failed")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient_created", "recipient_id", "created_at"),
        # The sweep's query: pending notifications whose next attempt is due.
        Index("ix_notifications_push_due", "push_state", "push_next_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # NULL when the actor wrote anonymously: the row names nobody it must not.
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # comment | reply | reaction
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(100), nullable=False)
    message: Mapped[str] = mapped_column(String(300), nullable=False)
    # Unique where set: a changed reaction does not notify twice for one object.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    read: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    push_state: Mapped[str] = mapped_column(String(12), nullable=False, default=PUSH_PENDING)
    # Claims are made by compare-and-set on this counter, so one attempt runs at a time.
    push_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # While pending: when the periodic sweep may enqueue the push again (a lost task,
    # a dead worker or a retry that never came). NULL once the push state is final.
    push_next_at = mapped_column(UTCDateTime, nullable=True)
    pushed_at = mapped_column(UTCDateTime, nullable=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    actor = relationship("User", foreign_keys=[actor_id], lazy="raise")


class NotificationPreference(db.Model):
    __tablename__ = "notification_preferences"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    comments: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    replies: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    reactions: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
