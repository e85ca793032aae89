"""Accounts: registration, credentials, profile."""
import functools
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from app.adapters import Rejected
from app.errors import APIError, NotFound, field_error
from app.extensions import db
from app.models.users import User
from app.services import feed, media, media_processing, suspensions

EMAIL_TAKEN = "A user with this email already exists."
INVALID_IMAGE = ("Upload a valid image. The file you uploaded was either not an image or a "
                 "corrupted image.")


def normalize_email(email):
    return email.strip().lower()


def find_by_email(email):
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def get_user(user_id):
    return db.session.get(User, user_id)


def user_exists(user_id):
    try:
        return db.session.scalar(select(User.id).where(User.id == user_id)) is not None
    finally:
        db.session.rollback()  # hand the connection back: callers may hold their context for hours


def may_connect(payload):
    """The token's user exists, is not suspended and the token was not revoked."""
    try:
        user = db.session.get(User, payload["sub"])
        return user is not None and suspensions.token_usable(user, payload)
    finally:
        db.session.rollback()  # hand the connection back: callers may hold their context for hours


def create_user(*, email, password, display_name, is_admin=False):
    user = User(email=normalize_email(email), display_name=display_name.strip(), is_admin=is_admin)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # The unique constraint decides, so two racing registrations cannot both win.
        db.session.rollback()
        raise field_error("email", EMAIL_TAKEN) from None
    return user


@functools.cache
def _unknown_user():
    """A user no email names, whose hash (the default method, as real accounts have) an
    unknown email is checked against: a login then costs the same hashing time whether
    or not the account exists."""
    return User(email="", display_name="", password_hash=generate_password_hash(secrets.token_urlsafe(16)))


SUSPENDED = "This account is suspended."


def authenticate(email, password):
    """The user, or 401; a suspended one (right password only: no one learns it from an
    email alone) 403 with ``suspended_until``."""
    user = find_by_email(email or "")
    if not (user or _unknown_user()).check_password(password or "") or user is None:
        raise APIError({"detail": "No active account found with the given credentials"}, status=401)
    if suspensions.is_suspended(user):
        until = user.suspended_until
        raise APIError({"detail": SUSPENDED, "suspended_until": until.isoformat().replace("+00:00", "Z")
                        if until else None}, status=403)
    return user


def update_profile(user, *, display_name=None, photo_upload=None, clear_photo=False):
    """Change the name and/or the photo. A new photo is cleaned (re-encoded without its
    metadata, scaled to fit) before it is stored: a profile photo is public at once."""
    new_photo = None
    if photo_upload is not None:
        stored = media.store_upload(photo_upload, "image", field="profile_photo")
        try:
            new_photo = media_processing.publish_profile_photo(stored)
        except Rejected:
            raise field_error("profile_photo", INVALID_IMAGE) from None
    old_photo = user.profile_photo
    with media.removed_unless_committed(new_photo):
        if display_name is not None:
            user.display_name = display_name
        if new_photo is not None:
            user.profile_photo = new_photo
        elif clear_photo:
            user.profile_photo = None
        db.session.commit()
    feed.invalidate()  # the feed shows authors' names and photos
    if old_photo and old_photo != user.profile_photo:
        media.delete_files(old_photo)
    return user


def set_admin(email, is_admin=True):
    user = find_by_email(email)
    if user is None:
        raise NotFound({"detail": f"No user with email {email}."})
    user.is_admin = is_admin
    db.session.commit()
    return user

