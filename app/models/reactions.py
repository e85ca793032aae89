from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

VENTPOST = "ventpost"
VENTCOMMENT = "ventcomment"
CONTENT_TYPES = (VENTPOST, VENTCOMMENT)
# The order ties are broken in, in every reaction summary.
REACTION_TYPES = ("👍", "❤️", "😂", "😢")
REACTION_NAMES = {"like": "👍", "love": "❤️", "haha": "😂", "sad": "😢"}


class Reaction(db.Model):
    __tablename__ = "reactions"
    __table_args__ = (
        # One reaction per user per object, whatever the concurrency.
        UniqueConstraint("user_id", "content_type", "object_id", name="uq_reactions_user_object"),
        Index("ix_reactions_object", "content_type", "object_id"),
        CheckConstraint("content_type IN ('ventpost', 'ventcomment')", name="content_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    content_type: Mapped[str] = mapped_column(String(16), nullable=False)
    object_id: Mapped[int] = mapped_column(Integer, nullable=False)
    reaction_type: Mapped[str] = mapped_column(String(8), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
