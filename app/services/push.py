"""Push delivery: the provider for each device, the per-recipient throttle, the send.

``deliver`` is what the Celery task runs. A notification is claimed by compare-and-set
on ``push_attempts``, so two copies of one task (a redelivery, a sweep) never send it
twice at once; the send happens outside any database transaction. Delivery is at least
once: a worker killed between the provider's "accepted" and the commit of ``sent`` leaves
the row pending, and the sweep sends it again (Web Push carries a ``Topic`` per
notification so the push service replaces an undelivered copy). The providers
themselves are in ``app.adapters.push``; a platform whose credentials are unset is
served by the log-only provider.
"""
import logging
from collections import namedtuple
from datetime import timedelta

from flask import current_app
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, select, update
from sqlalchemy.orm import joinedload

from app.adapters import push as providers
from app.adapters.push import DeviceGone, PermanentPushError, TransientPushError
from app.extensions import db
from app.models.base import utcnow
from app.models.devices import WEBPUSH, Device
from app.models.notifications import PUSH_FAILED, PUSH_NO_DEVICE, PUSH_PENDING, PUSH_SENT, PUSH_THROTTLED, Notification
from app.schemas.notifications import NotificationSchema

log = logging.getLogger(__name__)

# How long a claimed attempt may take before the sweep may start another one.
CLAIM_LEASE = timedelta(minutes=5)
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
SKIPPED, RETRY = "skipped", "retry"

Target = namedtuple("Target", "id platform token")
# ``attempts``: the claim a retry must present (``push_attempts`` after this attempt).
Outcome = namedtuple("Outcome", "state retry_in attempts", defaults=(None, None))

_payload_schema = NotificationSchema(exclude=("read", "push_state"))


def provider_for(platform):
    """The provider for one platform, built on first use from this app's configuration.

    Raises if that platform's credentials are unusable; other platforms are unaffected.
    """
    built = current_app.extensions.setdefault("push_providers", {})
    if platform not in built:
        built[platform] = providers.build(platform, current_app.config)
    return built[platform]


def webpush_public_key():
    """The VAPID public key clients subscribe with (``applicationServerKey``), or None
    (also when the configured key is unusable: that is logged, and pushes are retried)."""
    try:
        provider = provider_for(WEBPUSH)
    except RuntimeError:
        log.exception("Web Push is misconfigured")
        return None
    return provider.public_key() if isinstance(provider, providers.WebPushProvider) else None


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


def deliver(notification_id, attempt=0, now=None, redelivered=False):
    """Push one notification to its recipient's devices; returns an ``Outcome``.

    ``attempt`` is the ``push_attempts`` value the caller saw when it enqueued the
    push; the claim succeeds only if it still holds and the push is still pending,
    so a notification already sent (or being sent) is never sent again.
    ``redelivered``: the broker handed this task on because the worker that held it
    died (past the visibility timeout, above every task's time limit: it cannot still
    be running). Its claim, if it made one, is taken over at once instead of waiting
    out the lease.
    """
    config = current_app.config
    now = now or utcnow()
    expected = (attempt, attempt + 1) if redelivered else (attempt,)
    attempts = db.session.scalar(
        update(Notification)
        .where(Notification.id == notification_id, Notification.push_state == PUSH_PENDING,
               Notification.push_attempts.in_(expected))
        .values(push_attempts=Notification.push_attempts + 1, push_next_at=now + CLAIM_LEASE)
        .returning(Notification.push_attempts))
    db.session.commit()
    if attempts is None:
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
    return Outcome(RETRY, delay, attempts)


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
