"""At most ``MAX_CONNECTIONS_PER_USER`` open connections per user, raw and Socket.IO
together, across every web process.

With Redis each connection holds a ticket in its user's sorted set, scored by when its
lease ends; a process renews its tickets' leases while they are open (``refresh``) and
removes them when they close, and a process that dies without saying so loses its
tickets when their leases run out (``LEASE_SECONDS``). Taking a ticket is one script:
expired tickets out, count, add. A Redis outage lets connections in (and logs it): the
cap protects the service, it must not take it down.
"""
import itertools
import logging
import secrets
import threading
import time

import redis

log = logging.getLogger(__name__)

LEASE_SECONDS = 90
REFRESH_SECONDS = 30

TAKE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
"""


class RedisConnectionCap:
    def __init__(self, url, limit, prefix="ventroom:rt:conns:"):
        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.limit, self.prefix = limit, prefix
        self._take = self.redis.register_script(TAKE)
        self._process = secrets.token_hex(6)
        self._counter = itertools.count()
        self._open = {}  # ticket -> user id
        self._lock = threading.Lock()
        self._refreshed = time.monotonic()

    def take(self, user_id):
        """A ticket for one more connection of ``user_id``, or None when at the cap."""
        ticket = f"{self._process}:{next(self._counter)}"
        try:
            taken = self._take(keys=[self.prefix + user_id],
                               args=[int(time.time() * 1000), self.limit, LEASE_SECONDS * 1000, ticket])
        except redis.RedisError:
            log.warning("connection cap unavailable; letting user %s connect", user_id, exc_info=True)
            taken = 1
        if not taken:
            return None
        with self._lock:
            self._open[ticket] = user_id
        return ticket

    def release(self, ticket):
        with self._lock:
            user_id = self._open.pop(ticket, None)
        if user_id is None:
            return
        try:
            self.redis.zrem(self.prefix + user_id, ticket)
        except redis.RedisError:
            pass  # its lease runs out

    def refresh(self):
        """Renew the leases of this process's open tickets (every REFRESH_SECONDS)."""
        if time.monotonic() - self._refreshed < REFRESH_SECONDS:
            return
        self._refreshed = time.monotonic()
        with self._lock:
            tickets = list(self._open.items())
        until = int(time.time() * 1000) + LEASE_SECONDS * 1000
        try:
            pipe = self.redis.pipeline(transaction=False)
            for ticket, user_id in tickets:
                pipe.zadd(self.prefix + user_id, {ticket: until}, xx=True)
                pipe.pexpire(self.prefix + user_id, LEASE_SECONDS * 2000)
            pipe.execute()
        except redis.RedisError:
            log.warning("could not renew connection leases", exc_info=True)


class MemoryConnectionCap:
    """Embedded mode: one process counts its own connections."""

    def __init__(self, limit):
        self.limit = limit
        self._counts = {}
        self._lock = threading.Lock()

    def take(self, user_id):
        with self._lock:
            if self._counts.get(user_id, 0) >= self.limit:
                return None
            self._counts[user_id] = self._counts.get(user_id, 0) + 1
            return user_id

    def release(self, ticket):
        with self._lock:
            left = self._counts.get(ticket, 0) - 1
            if left > 0:
                self._counts[ticket] = left
            else:
                self._counts.pop(ticket, None)

    def refresh(self):
        pass


class MessageRate:
    """Client messages of one connection: a bucket of ``burst`` refilled at ``rate`` per
    second. ``check`` says ``OK``, ``WARN`` (the first message over: answer an error) or
    ``CLOSE`` (still sending after ``burst`` more: close 1008). ``rate`` 0: no limit."""

    __slots__ = ("burst", "level", "rate", "refilled", "strikes")
    OK, WARN, DROP, CLOSE = "ok", "warn", "drop", "close"

    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.level = float(burst)
        self.refilled = time.monotonic()
        self.strikes = 0

    def check(self):
        if not self.rate:
            return self.OK
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.level >= 1:
            self.level -= 1
            self.strikes = 0
            return self.OK
        self.strikes += 1
        if self.strikes > self.burst:
            return self.CLOSE
        return self.WARN if self.strikes == 1 else self.DROP
