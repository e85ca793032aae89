from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import MediaMixin, SafetyMixin, UTCDateTime, utcnow


class Post(MediaMixin, SafetyMixin, db.Model):
    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_created_at_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # Set by the service on an edit of title or content only (never on a view).
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # Counters change only through ``UPDATE ... SET n = n + k``.
    views: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    comment_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    user = relationship("User", lazy="raise")
