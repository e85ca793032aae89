"""Accounts: registration, credentials, profile."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import APIError, field_error
from app.extensions import db
from app.models.users import User
from app.services import feed, media

EMAIL_TAKEN = "A user with this email already exists."


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


def authenticate(email, password):
    user = find_by_email(email or "")
    if user is None or not user.check_password(password or ""):
        raise APIError({"detail": "No active account found with the given credentials"}, status=401)
    return user


def update_profile(user, *, display_name=None, photo_upload=None, clear_photo=False):
    stored = None
    if photo_upload is not None:
        stored = media.store_upload(photo_upload, "image", media.PROFILE_PHOTOS, field="profile_photo")
    old_photo = user.profile_photo
    with media.removed_unless_committed(stored):
        if display_name is not None:
            user.display_name = display_name
        if stored is not None:
            user.profile_photo = stored.path
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
        raise LookupError(f"No user with email {email}")
    user.is_admin = is_admin
    db.session.commit()
    return user

