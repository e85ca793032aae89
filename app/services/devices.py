"""Push targets: FCM registration tokens and Web Push subscriptions, one owner each.

A Web Push endpoint is a URL the user chose, which the worker will POST to: it must be
https and must not name this machine or a private address (``safe_http.check_url``);
the worker checks its addresses again when it sends.
"""
import base64
import binascii
import json
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, select

from app.adapters import safe_http
from app.errors import field_error
from app.extensions import db
from app.models.base import utcnow
from app.models.devices import WEBPUSH, Device, token_digest
from app.services.sql import insert_on_conflict

MAX_TOKEN_LENGTH = 4096


def _b64url_bytes(value):
    if not isinstance(value, str):
        raise ValueError("not a string")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _subscription(token):
    """A Web Push subscription (JSON string or object) checked and in canonical form."""
    if isinstance(token, str):
        try:
            token = json.loads(token)
        except ValueError:
            raise field_error("token", "A Web Push token must be the subscription's JSON.") from None
    if not isinstance(token, dict):
        raise field_error("token", "A Web Push token must be the subscription's JSON.")
    endpoint = token.get("endpoint")
    allow_private = current_app.config["PUSH_ALLOW_PRIVATE_ENDPOINTS"]
    schemes = ("https", "http") if allow_private else ("https",)
    parts = urlsplit(endpoint) if isinstance(endpoint, str) and len(endpoint) <= 2048 else None
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        raise field_error("token", "The subscription needs an https endpoint URL.")
    try:
        safe_http.check_url(endpoint, schemes, allow_private)
    except ValueError as exc:
        raise field_error("token", f"The subscription's endpoint is refused: {exc}") from None
    keys = token.get("keys") if isinstance(token.get("keys"), dict) else {}
    try:
        p256dh, auth = _b64url_bytes(keys.get("p256dh")), _b64url_bytes(keys.get("auth"))
    except (ValueError, binascii.Error):
        raise field_error("token", "The subscription needs base64url keys p256dh and auth.") from None
    if len(p256dh) != 65 or p256dh[0] != 4 or len(auth) != 16:
        raise field_error("token", "The subscription's p256dh must be a P-256 public key and auth 16 bytes.")
    return {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


def _identity(token, platform):
    """``(identity, stored_token)``: what makes the device unique, and what is stored."""
    if platform == WEBPUSH:
        subscription = _subscription(token)
        return subscription["endpoint"], json.dumps(subscription, separators=(",", ":"), sort_keys=True)
    if not isinstance(token, str) or not token.strip():
        raise field_error("token", "This field may not be blank.")
    token = token.strip()
    if len(token) > MAX_TOKEN_LENGTH or any(ch.isspace() for ch in token):
        raise field_error("token", "Not a valid FCM registration token.")
    return token, token


def _lookup_identity(token):
    """For removal, where the platform is not given: a subscription's endpoint, or the token."""
    token = token.strip()
    if token.startswith("{"):
        try:
            endpoint = json.loads(token).get("endpoint")
        except (ValueError, AttributeError):
            endpoint = None
        if isinstance(endpoint, str):
            return endpoint
    return token


def register_device(user_id, *, token, platform):
    """Register a push target for ``user_id``; a token already registered moves to them.

    At most ``PUSH_MAX_DEVICES_PER_USER`` devices per user: the oldest go first.
    """
    identity, stored = _identity(token, platform)
    digest = token_digest(identity)
    now = utcnow()
    values = {"user_id": user_id, "platform": platform, "token": stored, "created_at": now}
    db.session.execute(
        insert_on_conflict()(Device).values(token_sha256=digest, **values)
        .on_conflict_do_update(index_elements=["token_sha256"], set_=values))
    newest = (select(Device.id).where(Device.user_id == user_id)
              .order_by(Device.created_at.desc(), Device.id.desc())
              .limit(current_app.config["PUSH_MAX_DEVICES_PER_USER"]))
    db.session.execute(delete(Device).where(Device.user_id == user_id, Device.id.not_in(newest)))
    db.session.commit()
    return db.session.scalar(select(Device).where(Device.token_sha256 == digest))


def unregister_device(user_id, token, *alternatives):
    """Remove the caller's device with this token (or Web Push subscription / endpoint).

    ``alternatives`` are other spellings of the same token to match as well. Someone
    else's device, or none, is left alone without saying so.
    """
    if not isinstance(token, str) or not token.strip():
        raise field_error("token", "This field is required.")
    digests = {token_digest(_lookup_identity(value)) for value in (token, *alternatives) if value.strip()}
    db.session.execute(delete(Device).where(Device.token_sha256.in_(digests), Device.user_id == user_id))
    db.session.commit()
