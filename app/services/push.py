"""Push delivery: devices, providers, the per-recipient throttle and the send itself.

Providers, chosen per device platform by configuration:

- ``webpush``: Web Push with VAPID through ``pywebpush`` when ``VAPID_PRIVATE_KEY``
  and ``VAPID_CLAIMS_EMAIL`` are set. 404/410 from the push service removes the device.
- ``fcm``: Firebase Cloud Messaging through ``firebase-admin`` when
  ``FIREBASE_CREDENTIALS`` (a service-account JSON file path, or its content) is set.
  ``UnregisteredError`` removes the device.
- otherwise the log-only provider: it logs the push and counts it as delivered.

``deliver`` is what the Celery task runs. A notification is claimed by
compare-and-set on ``push_attempts``, so two copies of one task (a redelivery, a
sweep) never send it twice at once; the send happens outside any database
transaction. Delivery is at least once: a worker killed between the provider's
"accepted" and the commit of ``sent`` leaves the row pending, and the sweep sends it
again (Web Push carries a ``Topic`` per notification so the push service replaces an
undelivered copy).
"""
import base64
import binascii
import email.utils
import json
import logging
import os
import re
import time
import uuid
from collections import namedtuple
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, select, update
from sqlalchemy.orm import joinedload

from app.errors import field_error
from app.extensions import db
from app.models.base import utcnow
from app.models.notifications import (FCM, PUSH_FAILED, PUSH_NO_DEVICE, PUSH_PENDING, PUSH_SENT,
                                      PUSH_THROTTLED, WEBPUSH, Device, Notification, token_digest)
from app.schemas.notifications import NotificationSchema
from app.services.sql import insert_on_conflict

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 4096
FID_PATTERN = re.compile(r"[cdef][A-Za-z0-9_-]{21}")
# How long a claimed attempt may take before the sweep may start another one.
CLAIM_LEASE = timedelta(minutes=5)
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
SKIPPED, RETRY = "skipped", "retry"

Target = namedtuple("Target", "id platform token")
Outcome = namedtuple("Outcome", "state retry_in", defaults=(None,))

_payload_schema = NotificationSchema(exclude=("read", "push_state"))


class DeviceGone(Exception):
    """The push service says this device no longer exists: remove it."""


class TransientPushError(Exception):
    """Worth trying again later (network, 429, 5xx); ``retry_after`` in seconds if known."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentPushError(Exception):
    """This push will not succeed as sent (rejected payload, credentials, ...)."""


# Devices -------------------------------------------------------------------------

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
    schemes = ("https", "http") if current_app.config["WEBPUSH_ALLOW_HTTP"] else ("https",)
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in schemes or not parts.netloc or len(endpoint) > 2048:
        raise field_error("token", "The subscription needs an https endpoint URL.")
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


# Providers -----------------------------------------------------------------------

def _retry_after_seconds(value):
    """``Retry-After``: seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0, int(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0, int((when - datetime.now(timezone.utc)).total_seconds()))


class LogProvider:
    """The default: writes the push to the log and counts it as delivered."""

    name = "log"

    def send(self, target, payload):
        log.info("push (log only) to %s device %s: %s: %s", target.platform, target.id,
                 payload["title"], payload["message"])


def load_vapid(value):
    """A VAPID key from a PEM text, a PEM/DER file path, or base64url raw/DER."""
    from py_vapid import Vapid

    if value.lstrip().startswith("-----BEGIN"):
        return Vapid.from_pem(value.strip().encode())
    if os.path.isfile(value):
        return Vapid.from_file(value)
    return Vapid.from_string(value.strip())


class WebPushProvider:
    name = WEBPUSH

    def __init__(self, private_key, claims_email, ttl, timeout):
        if not claims_email:
            raise RuntimeError("VAPID_CLAIMS_EMAIL must be set with VAPID_PRIVATE_KEY "
                               "(push services want a contact: an email or an https URL)")
        self.vapid = load_vapid(private_key)
        self.sub = claims_email if claims_email.startswith(("mailto:", "https://")) else f"mailto:{claims_email}"
        self.ttl, self.timeout = ttl, timeout
        self.session = requests.Session()

    def public_key(self):
        raw = self.vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def send(self, target, payload):
        from pywebpush import WebPushException, webpush

        try:
            webpush(json.loads(target.token), data=json.dumps(payload, ensure_ascii=False),
                    vapid_private_key=self.vapid, vapid_claims={"sub": self.sub},  # a new dict: webpush adds aud/exp
                    ttl=self.ttl, timeout=self.timeout,
                    headers={"Urgency": "normal", "Topic": f"ventroom-n{payload['id']}"},
                    requests_session=self.session)
        except WebPushException as exc:
            status = exc.status_code
            if status in (404, 410):
                raise DeviceGone(f"push service answered {status}") from exc
            if status is not None and (status == 429 or status >= 500):
                raise TransientPushError(f"push service answered {status}",
                                         _retry_after_seconds(exc.retry_after)) from exc
            raise PermanentPushError(exc.message) from exc
        except requests.RequestException as exc:
            raise TransientPushError(f"push service unreachable: {exc}") from exc


class FCMProvider:
    name = FCM

    def __init__(self, credentials_value, ttl, timeout):
        import firebase_admin
        from firebase_admin import credentials

        source = credentials_value.strip()
        info = json.loads(source) if source.startswith("{") else source
        # A named app per provider, so tests and several Flask apps never collide.
        self.app = firebase_admin.initialize_app(
            credentials.Certificate(info), options={"httpTimeout": timeout},
            name=f"ventroom-push-{uuid.uuid4().hex}")
        self.ttl = ttl

    def send(self, target, payload):
        from firebase_admin import exceptions, messaging

        data = {"notification_id": str(payload["id"])}
        data.update({key: str(payload[key]) for key in ("kind", "post_id", "comment_id", "created_at")
                     if payload.get(key) is not None})
        # firebase-admin 7.7 moves targeting from registration tokens to Firebase
        # installation IDs (22 characters, base64url, first one c-f); both are accepted.
        address = {"fid": target.token} if FID_PATTERN.fullmatch(target.token) else {"token": target.token}
        message = messaging.Message(
            **address,
            notification=messaging.Notification(title=payload["title"], body=payload["message"]),
            data=data,
            android=messaging.AndroidConfig(ttl=self.ttl),
            apns=messaging.APNSConfig(headers={"apns-expiration": str(int(time.time()) + self.ttl)}),
        )
        try:
            messaging.send(message, app=self.app)
        except messaging.UnregisteredError as exc:
            raise DeviceGone(str(exc)) from exc
        except (exceptions.UnavailableError, exceptions.InternalError, exceptions.DeadlineExceededError,
                exceptions.ResourceExhaustedError, exceptions.UnknownError) as exc:
            response = getattr(exc, "http_response", None)
            retry_after = response.headers.get("Retry-After") if response is not None else None
            raise TransientPushError(str(exc), _retry_after_seconds(retry_after)) from exc
        except exceptions.FirebaseError as exc:
            raise PermanentPushError(str(exc)) from exc


def _build_provider(platform):
    config = current_app.config
    if platform == WEBPUSH and config["VAPID_PRIVATE_KEY"]:
        return WebPushProvider(config["VAPID_PRIVATE_KEY"], config["VAPID_CLAIMS_EMAIL"],
                               config["PUSH_TTL_SECONDS"], config["PUSH_TIMEOUT_SECONDS"])
    if platform == FCM and config["FIREBASE_CREDENTIALS"]:
        return FCMProvider(config["FIREBASE_CREDENTIALS"], config["PUSH_TTL_SECONDS"],
                           config["PUSH_TIMEOUT_SECONDS"])
    return LogProvider()


def provider_for(platform):
    """The provider for one platform, built on first use from this app's configuration.

    Raises if that platform's credentials are unusable; other platforms are unaffected.
    """
    built = current_app.extensions.setdefault("push_providers", {})
    if platform not in built:
        built[platform] = _build_provider(platform)
    return built[platform]


def webpush_public_key():
    """The VAPID public key clients subscribe with (``applicationServerKey``), or None
    (also when the configured key is unusable: that is logged, and pushes are retried)."""
    try:
        provider = provider_for(WEBPUSH)
    except RuntimeError:
        log.exception("Web Push is misconfigured")
        return None
    return provider.public_key() if isinstance(provider, WebPushProvider) else None


# Throttle --------------------------------------------------------------------------

def _limiter():
    """A moving-window limiter: in Redis when configured (shared by every worker), else memory."""
    limiter = current_app.extensions.get("push_limiter")
    if limiter is None:
        url = current_app.config["REDIS_URL"]
        storage = storage_from_string(url) if url else MemoryStorage()
        limiter = current_app.extensions["push_limiter"] = MovingWindowRateLimiter(storage)
    return limiter


def take_push_slot(recipient_id):
    """True if ``recipient_id`` may get one more push this minute (and counts it)."""
    item = RateLimitItemPerMinute(current_app.config["PUSH_MAX_PER_MINUTE"])
    return _limiter().hit(item, "ventroom-push", recipient_id)


# Delivery --------------------------------------------------------------------------

def _backoff(attempts, retry_after):
    delay = min(RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1), RETRY_MAX_SECONDS)
    return min(max(delay, retry_after or 0), RETRY_MAX_SECONDS)


def _finish(notification_id, attempts, state, now):
    """Record a final push state, unless another attempt has claimed the row since."""
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.push_attempts == attempts)
        .values(push_state=state, push_next_at=None, pushed_at=now if state == PUSH_SENT else None))
    db.session.commit()
    return Outcome(state)


def deliver(notification_id, attempt=0, now=None):
    """Push one notification to its recipient's devices; returns an ``Outcome``.

    ``attempt`` is the ``push_attempts`` value the caller saw when it enqueued the
    push; the claim succeeds only if it still holds and the push is still pending,
    so a notification already sent (or being sent) is never sent again.
    """
    config = current_app.config
    now = now or utcnow()
    attempts = attempt + 1
    claimed = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.push_state == PUSH_PENDING,
               Notification.push_attempts == attempt)
        .values(push_attempts=attempts, push_next_at=now + CLAIM_LEASE)).rowcount
    db.session.commit()
    if not claimed:
        return Outcome(SKIPPED)
    notification = db.session.scalar(
        select(Notification).options(joinedload(Notification.actor)).where(Notification.id == notification_id))
    if notification is None:
        return Outcome(SKIPPED)
    if attempts > config["PUSH_MAX_ATTEMPTS"]:
        return _finish(notification_id, attempts, PUSH_FAILED, now)
    if notification.created_at < now - timedelta(seconds=config["PUSH_TTL_SECONDS"]):
        log.info("notification %s is older than PUSH_TTL_SECONDS: not pushed", notification_id)
        return _finish(notification_id, attempts, PUSH_FAILED, now)
    targets = [Target(device.id, device.platform, device.token) for device in db.session.scalars(
        select(Device).where(Device.user_id == notification.recipient_id).order_by(Device.id))]
    if not targets:
        return _finish(notification_id, attempts, PUSH_NO_DEVICE, now)
    # Every attempt that is about to send takes a slot (a retry too: never more than
    # PUSH_MAX_PER_MINUTE sends per recipient per minute).
    try:
        allowed = take_push_slot(notification.recipient_id)
    except Exception as exc:  # the limiter's Redis is unreachable
        log.warning("push throttle unavailable for notification %s: %s", notification_id, exc)
        return _schedule_retry(notification_id, attempts, now, None)
    if not allowed:
        return _finish(notification_id, attempts, PUSH_THROTTLED, now)
    payload = _payload_schema.dump(notification)
    db.session.commit()  # no transaction stays open during the network calls

    delivered, gone, transient, permanent = 0, [], [], []
    for target in targets:
        try:
            provider = provider_for(target.platform)
        except Exception as exc:  # bad credentials: retried, in case they are fixed meanwhile
            log.exception("push provider for %s cannot be built", target.platform)
            transient.append(TransientPushError(f"provider unavailable: {exc}"))
            continue
        try:
            provider.send(target, payload)
            delivered += 1
        except DeviceGone as exc:
            log.info("device %s is gone (%s): removed", target.id, exc)
            gone.append(target)
        except TransientPushError as exc:
            log.warning("push of notification %s to device %s failed for now: %s",
                        notification_id, target.id, exc)
            transient.append(exc)
        except PermanentPushError as exc:
            log.error("push of notification %s to device %s rejected: %s", notification_id, target.id, exc)
            permanent.append(exc)

    for target in gone:  # unless it was registered again (new keys, new owner) meanwhile
        db.session.execute(delete(Device).where(Device.id == target.id, Device.token == target.token))
    db.session.commit()
    now = utcnow()
    if delivered:
        return _finish(notification_id, attempts, PUSH_SENT, now)
    if transient:  # retried, or failed once out of attempts
        retry_after = max((exc.retry_after or 0) for exc in transient)
        return _schedule_retry(notification_id, attempts, now, retry_after)
    if gone and not transient and not permanent:
        return _finish(notification_id, attempts, PUSH_NO_DEVICE, now)
    return _finish(notification_id, attempts, PUSH_FAILED, now)


def _schedule_retry(notification_id, attempts, now, retry_after):
    """Stay pending; the task retries after the delay, the sweep a while after that."""
    if attempts >= current_app.config["PUSH_MAX_ATTEMPTS"]:
        return _finish(notification_id, attempts, PUSH_FAILED, now)
    delay = _backoff(attempts, retry_after)
    sweep_after = current_app.config["PUSH_SWEEP_AFTER_SECONDS"]
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.push_attempts == attempts)
        .values(push_next_at=now + timedelta(seconds=delay + sweep_after)))
    db.session.commit()
    return Outcome(RETRY, delay)


def due_pushes(now=None, limit=500):
    """Pending pushes whose next attempt is due: ``[(id, push_attempts)]``, oldest first.

    Each is pushed back by ``PUSH_SWEEP_AFTER_SECONDS`` so the next sweep does not
    enqueue it again while its task waits in the queue.
    """
    now = now or utcnow()
    rows = db.session.execute(
        select(Notification.id, Notification.push_attempts)
        .where(Notification.push_state == PUSH_PENDING, Notification.push_next_at <= now)
        .order_by(Notification.push_next_at, Notification.id).limit(limit)).all()
    if rows:
        db.session.execute(
            update(Notification)
            .where(Notification.id.in_([row.id for row in rows]), Notification.push_state == PUSH_PENDING)
            .values(push_next_at=now + timedelta(seconds=current_app.config["PUSH_SWEEP_AFTER_SECONDS"])))
    db.session.commit()
    return [(row.id, row.push_attempts) for row in rows]
