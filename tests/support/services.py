"""Where the test PostgreSQL and Redis are, whether they (and Chromium) are there, and a
Redis database of its own for each test run."""
import functools
import importlib.util
import os
import uuid

import psycopg2
import redis

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


@functools.cache
def postgres_available():
    try:
        psycopg2.connect(PG_ADMIN_URL, connect_timeout=3).close()
        return True
    except psycopg2.Error:
        return False


@functools.cache
def redis_available():
    try:
        return redis.Redis.from_url(REDIS_BASE_URL, socket_connect_timeout=3).ping()
    except redis.RedisError:
        return False


CHROMIUM = "/usr/bin/chromium"


def chromium_available():
    """Debian's Chromium, for Playwright (which never downloads a browser of its own here)."""
    return os.access(CHROMIUM, os.X_OK) and importlib.util.find_spec("playwright") is not None


# What each marker needs: tests carrying it are skipped (or fail, under REQUIRE_SERVICES=1) without it.
AVAILABLE = {"postgres": postgres_available, "redis": redis_available, "browser": chromium_available}


# Redis databases a test run may hold: not 0 (the slots' own locks) nor 1, 2 and 9, which
# the shared benchmark harness flushes (make bench).
SLOTS = (3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15)


class RedisSlot:
    """One of Redis's numbered databases, held for this test run (others may run at once)."""

    def __init__(self):
        self.client = redis.Redis.from_url(f"{REDIS_BASE_URL}/0")
        self.token = uuid.uuid4().hex
        self.db = None
        for number in SLOTS:
            if self.client.set(f"ventroom-test-slot-{number}", self.token, nx=True, ex=3600):
                self.db = number
                break
        if self.db is None:
            raise RuntimeError("no free Redis database for this test run")
        self.url = f"{REDIS_BASE_URL}/{self.db}"
        # Pub/sub channels are shared by every Redis database: give this run its own.
        self.channel = f"flask-socketio-test-{self.token[:12]}"
        redis.Redis.from_url(self.url).flushdb()

    def release(self):
        redis.Redis.from_url(self.url).flushdb()
        if self.client.get(f"ventroom-test-slot-{self.db}") == self.token.encode():
            self.client.delete(f"ventroom-test-slot-{self.db}")
