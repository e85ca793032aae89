from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

USER = "user"
REPORTABLE = ("ventpost", "ventcomment", USER)
REASONS = ("self_harm", "harassment", "spam", "other")
SELF_HARM = "self_harm"
OPEN, RESOLVED, DISMISSED = "open", "resolved", "dismissed"
STATUSES = (OPEN, RESOLVED, DISMISSED)
ACTIONS = ("hide_post", "restore_post", "hide_comment", "restore_comment", "dismiss_report", "suspend_user",
           "unsuspend_user")


class Report(db.Model):
    """One user's report of a post, a comment or a user. The reported object is named by the
    one foreign key its ``content_type`` uses, so a report goes with what it reports."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint("content_type IN ('ventpost', 'ventcomment', 'user')", name="content_type"),
        CheckConstraint("reason IN ('self_harm', 'harassment', 'spam', 'other')", name="reason"),
        CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name="status"),
        Index("ix_reports_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reporter_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    content_type: Mapped[str] = mapped_column(String(16), nullable=False)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    target_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    details: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default=OPEN)
    # "<reporter>:<content_type>:<object>" while open, NULL after: one open report per
    # reporter and object, kept by the unique constraint (NULLs never collide).
    open_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    resolved_at = mapped_column(UTCDateTime, nullable=True)

    @property
    def object_id(self):
        if self.content_type == USER:
            return self.target_user_id
        return self.post_id if self.content_type == "ventpost" else self.comment_id


class ModerationAction(db.Model):
    """The moderation log: who did what to which object, and why."""

    __tablename__ = "moderation_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # NULL: the CLI
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    content_type: Mapped[str] = mapped_column(String(16), nullable=False)
    object_id: Mapped[str] = mapped_column(String(36), nullable=False)  # an integer's digits, or a user id
    reason: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)

    actor = relationship("User", lazy="raise")
