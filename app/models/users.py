import uuid

from sqlalchemy import Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app import offload
from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    # Stored lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    profile_photo: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # Suspended from suspended_at until suspended_until (NULL: for good); both NULL: not.
    suspended_at = mapped_column(UTCDateTime, nullable=True)
    suspended_until = mapped_column(UTCDateTime, nullable=True)
    # Tokens issued at or before this moment are revoked (a suspension sets it; it stays).
    tokens_revoked_at = mapped_column(UTCDateTime, nullable=True)
    # NULL when nobody is hidden from this user (no block either way, no mute): their feed
    # is the shared page. Otherwise a token renewed on every change of who is hidden from
    # them, which names their own cached feed pages.
    filter_token: Mapped[str | None] = mapped_column(String(16))

    # Hashing runs off the event loop (app.offload): scrypt takes tens of milliseconds.
    def set_password(self, password):
        self.password_hash = offload.run(generate_password_hash, password)

    def check_password(self, password):
        return offload.run(check_password_hash, self.password_hash, password)

    def __repr__(self):
        return f"<User {self.id} {self.email}>"
