"""Suspensions and the revocation of a user's tokens.

A suspension revokes every token issued until that moment, for good: an unsuspended user
logs in again, their old tokens stay dead. A token is revoked when it was issued (its
``iat_ms`` claim, milliseconds; tokens from before that claim: ``iat``) at or before the
user's revocation time. That time is kept twice:

- in Redis (``ventroom:revoked:{user_id}``, in memory without ``REDIS_URL``), read by
  Flask-JWT-Extended's blocklist hook on every request and socket handshake, at no
  database cost; it expires with the longest token lifetime, after which no token from
  before it can be valid anyway;
- on the user's row (``tokens_revoked_at``), read with the user every request loads
  anyway, so a lost Redis key (a flush, a restart of the embedded process) revives nothing.

A suspended user's login answers 403 ``This account is suspended.`` with
``suspended_until``; the suspension ends by itself at ``suspended_until`` (never when it
is null). Their open sockets are closed by ``app.services.moderation`` (4403).
"""
import logging
import threading
import time

import redis
from flask import current_app

from app.models.base import utcnow

log = logging.getLogger(__name__)

PREFIX = "ventroom:revoked:"


def _ms(moment):
    return int(moment.timestamp() * 1000)


def issued_ms(payload):
    """When a token was issued, in milliseconds."""
    value = payload.get("iat_ms")
    return value if isinstance(value, int) else int(payload.get("iat", 0)) * 1000


def issue_claims(_identity):
    """Extra claims of every token: its issue time in milliseconds (``iat`` has seconds)."""
    return {"iat_ms": int(time.time() * 1000)}


class MemoryRevocations:
    def __init__(self):
        self._lock = threading.Lock()
        self._until = {}

    def set(self, user_id, ms, ttl):
        with self._lock:
            self._until[user_id] = max(ms, self._until.get(user_id, 0))

    def get(self, user_id):
        with self._lock:
            return self._until.get(user_id)


class RedisRevocations:
    def __init__(self, url):
        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def set(self, user_id, ms, ttl):
        self.redis.set(PREFIX + user_id, ms, ex=ttl)

    def get(self, user_id):
        value = self.redis.get(PREFIX + user_id)
        return int(value) if value is not None else None


def _store():
    store = current_app.extensions.get("token_revocations")
    if store is None:
        url = current_app.config["REDIS_URL"]
        store = current_app.extensions["token_revocations"] = RedisRevocations(url) if url else MemoryRevocations()
    return store


def revoke_tokens(user_id, moment):
    """Every token of ``user_id`` issued at or before ``moment`` is revoked from now on."""
    config = current_app.config
    ttl = int(max(config["JWT_REFRESH_TOKEN_EXPIRES"], config["JWT_ACCESS_TOKEN_EXPIRES"]).total_seconds()) + 60
    try:
        _store().set(user_id, _ms(moment), ttl)
    except redis.RedisError:  # the row's tokens_revoked_at still refuses them
        log.error("token revocation of user %s not stored in Redis", user_id, exc_info=True)


def is_revoked(payload):
    """The blocklist hook: the token was issued at or before its user's revocation."""
    try:
        revoked = _store().get(payload.get("sub", ""))
    except redis.RedisError:  # the user's row is checked too
        log.warning("token revocations unreadable in Redis", exc_info=True)
        return False
    return revoked is not None and issued_ms(payload) <= revoked


def is_suspended(user, now=None):
    if user.suspended_at is None:
        return False
    return user.suspended_until is None or user.suspended_until > (now or utcnow())


def token_usable(user, payload):
    """The user may act with this token: not suspended, and it was issued after their
    tokens were last revoked."""
    if is_suspended(user):
        return False
    return user.tokens_revoked_at is None or issued_ms(payload) > _ms(user.tokens_revoked_at)
