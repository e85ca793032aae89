from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

BLOCK, MUTE = "block", "mute"
KINDS = (BLOCK, MUTE)


class Relationship(db.Model):
    """``user_id`` blocks or mutes ``target_id``. A block hides each one's content from the
    other and stops interaction both ways; a mute hides the target's content from the user."""

    __tablename__ = "relationships"
    __table_args__ = (
        CheckConstraint("kind IN ('block', 'mute')", name="kind"),
        # "Who blocked me": the other direction of the primary key.
        Index("ix_relationships_target", "target_id", "kind"),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
