"""Configuration, read from the environment only.

Unset variables give the embedded default: SQLite under ``instance/``, no Redis
(Celery runs tasks eagerly, SocketIO has no message queue, caches and rate limits
live in memory). One ``REDIS_URL`` feeds the broker, the message queue, the cache
and the rate limiter.
"""
import json
import os
from datetime import timedelta

DEFAULT_SECRET = "dev-insecure-secret-change-me-before-deploying"
BASE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))


def _bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _list(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def _origins(value):
    return "*" if value.strip() == "*" else _list(value)


# Shown to whoever reports content as self-harm (and in docs/API.md): a deployment should
# list the crisis lines of its own audience; this international directory is the floor.
DEFAULT_SUPPORT_RESOURCES = [{"name": "Find A Helpline (crisis lines in every country)",
                              "url": "https://findahelpline.com"}]


def _support_resources(value):
    """``SUPPORT_RESOURCES``: a JSON list of ``{name, url, phone?}``; anything else refuses
    to start (a deployment must not silently show nothing to someone in crisis)."""
    if value is None or not value.strip():
        return DEFAULT_SUPPORT_RESOURCES
    try:
        resources = json.loads(value)
    except ValueError:
        resources = None
    valid = isinstance(resources, list) and all(
        isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("url"), str)
        and isinstance(item.get("phone", ""), str) and set(item) <= {"name", "url", "phone"} for item in resources)
    if not valid:
        raise RuntimeError("Refusing to start: SUPPORT_RESOURCES must be a JSON list of {name, url, phone?}.")
    return [{key: item[key] for key in ("name", "url", "phone") if key in item} for item in resources]


def _database_url():
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(BASE_DIR, "instance", "ventroom.sqlite3")
    # Heroku-style URLs name the dialect "postgres"; SQLAlchemy wants "postgresql".
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET)
    JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", SECRET_KEY)
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=_int("JWT_ACCESS_MINUTES", 60))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=_int("JWT_REFRESH_DAYS", 30))
    JWT_TOKEN_LOCATION = ["headers"]

    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {}  # idle connections are pinged (extensions.ping_idle_connections)
    REDIS_URL = os.environ.get("REDIS_URL") or None

    MEDIA_ROOT = os.path.abspath(os.environ.get("MEDIA_ROOT") or os.path.join(BASE_DIR, "media"))
    PUBLIC_BASE_URL = (os.environ.get("PUBLIC_BASE_URL") or "").rstrip("/") or None
    # Without PUBLIC_BASE_URL, absolute URLs come from the request's Host: only these hosts
    # are answered (others: 400). Production needs one of the two.
    TRUSTED_HOSTS = _list(os.environ.get("TRUSTED_HOSTS", "")) or None
    MAX_MEDIA_BYTES = _int("MAX_MEDIA_BYTES", 10 * 1024 * 1024)
    PORT = _int("PORT", 8000)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None  # GET /metrics exists only with it
    # Proxies in front of the app whose X-Forwarded-For/-Proto/-Host to trust (0: none).
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    # Media processing (app/services/media_processing.py): bigger images are refused as
    # decompression bombs; uploads still "processing" this long after are enqueued again.
    MEDIA_MAX_IMAGE_PIXELS = _int("MEDIA_MAX_IMAGE_PIXELS", 50_000_000)
    MEDIA_REQUEUE_AFTER_SECONDS = _int("MEDIA_REQUEUE_AFTER_SECONDS", 600)

    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STANDARD = os.environ.get("RATELIMIT_STANDARD", "100/minute")
    RATELIMIT_CREATE = os.environ.get("RATELIMIT_CREATE", "20/minute")
    RATELIMIT_REACTIONS = os.environ.get("RATELIMIT_REACTIONS", "60/minute")
    RATELIMIT_LOGIN_FAILURES = os.environ.get("RATELIMIT_LOGIN_FAILURES", "10 per 15 minutes")  # per email

    FEED_CACHE_SECONDS = _int("FEED_CACHE_SECONDS", 300)
    PUSH_MAX_PER_MINUTE = _int("PUSH_MAX_PER_MINUTE", 10)
    # Push delivery (app/services/push.py). A platform whose credentials are unset is
    # served by the log-only provider.
    VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY") or None  # base64url raw/DER, PEM, or a PEM file path
    VAPID_CLAIMS_EMAIL = os.environ.get("VAPID_CLAIMS_EMAIL") or None  # the VAPID "sub": an email or https URL
    FIREBASE_CREDENTIALS = os.environ.get("FIREBASE_CREDENTIALS") or None  # service-account JSON: path or content
    # Accept http:// and private-address push endpoints: for tests against a local fake
    # push service only (refused in production).
    PUSH_ALLOW_PRIVATE_ENDPOINTS = _bool("PUSH_ALLOW_PRIVATE_ENDPOINTS", False)
    PUSH_TTL_SECONDS = _int("PUSH_TTL_SECONDS", 24 * 3600)
    PUSH_TIMEOUT_SECONDS = _int("PUSH_TIMEOUT_SECONDS", 10)
    PUSH_SWEEP_AFTER_SECONDS = _int("PUSH_SWEEP_AFTER_SECONDS", 120)  # a push still pending this long is re-sent
    PUSH_MAX_ATTEMPTS = _int("PUSH_MAX_ATTEMPTS", 8)
    PUSH_MAX_DEVICES_PER_USER = _int("PUSH_MAX_DEVICES_PER_USER", 10)

    # Real time. The channel must be the same for every web process and worker.
    SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "flask-socketio")
    SOCKETIO_ASYNC_MODE = os.environ.get("SOCKETIO_ASYNC_MODE", "threading")
    # Browser clients on other origins (REST and Socket.IO). Auth is a bearer token, never a
    # cookie, so "*" exposes nothing a script could not already ask for with the token.
    CORS_ALLOWED_ORIGINS = _origins(os.environ.get("CORS_ALLOWED_ORIGINS", "*"))
    WS_PING_INTERVAL = _int("WS_PING_INTERVAL", 25)
    WS_MAX_MESSAGE_BYTES = 64 * 1024
    WS_SEND_QUEUE_SIZE = _int("WS_SEND_QUEUE_SIZE", 256)
    # Client messages per connection (both transports): a bucket of WS_MESSAGE_BURST
    # refilled at WS_MESSAGES_PER_SECOND; over it an error frame, then close 1008.
    WS_MESSAGES_PER_SECOND = _int("WS_MESSAGES_PER_SECOND", 10)
    WS_MESSAGE_BURST = _int("WS_MESSAGE_BURST", 30)
    MAX_CONNECTIONS_PER_USER = _int("MAX_CONNECTIONS_PER_USER", 20)  # raw + Socket.IO, every process
    MAX_GROUPS_PER_CONNECTION = _int("MAX_GROUPS_PER_CONNECTION", 200)  # post groups
    # Resume after reconnect (app.adapters.eventlog): how long, how many per group, how
    # many per join. Past any of them a resume answers recovered: false.
    REALTIME_RESUME_SECONDS = _int("REALTIME_RESUME_SECONDS", 900)
    REALTIME_BACKLOG_EVENTS = _int("REALTIME_BACKLOG_EVENTS", 1000)
    REALTIME_REPLAY_MAX = _int("REALTIME_REPLAY_MAX", 500)

    # Sent with every self-harm report (app/services/reports.py).
    SUPPORT_RESOURCES = _support_resources(os.environ.get("SUPPORT_RESOURCES"))



class DevelopmentConfig(Config):
    pass


class TestingConfig(Config):
    TESTING = True
    RATELIMIT_ENABLED = False


class ProductionConfig(Config):
    pass


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
# Unset means production: a deployment that forgot APP_ENV gets the strict checks, and
# `make run` and the tests say development or testing explicitly.
DEFAULT_ENV = "production"


# Periodic tasks: run by Celery beat (the Procfile's `beat` process) with
# Redis, and by a background loop of the web process in embedded mode (app.tasks).
BEAT_SCHEDULE = {
    "sweep-pending-pushes": {"task": "app.tasks.push.sweep_pushes", "schedule": 60.0},
    "requeue-stuck-media": {"task": "app.tasks.media.requeue_stuck_media", "schedule": 300.0},
}


# Media and push have queues of their own, consumed by separate workers (the Procfile's
# `worker` and `pushworker`): a push service that hangs cannot hold up media cleaning.
TASK_ROUTES = {"app.tasks.media.*": {"queue": "media"}, "app.tasks.push.*": {"queue": "push"}}


def _celery_settings(redis_url):
    if redis_url:
        return {
            "task_routes": TASK_ROUTES,
            "task_default_queue": "media",
            "task_time_limit": 600,  # a hard ceiling for any task; each task sets its own
            "broker_url": redis_url,
            "result_backend": redis_url,
            "task_ignore_result": True,
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            # A task whose worker died (SIGKILL, a lost machine) is handed to another worker
            # once it has been unacknowledged this long: longer than any task may run
            # (their time limits), so a live worker's task is never run twice.
            # Every live worker looks for such tasks every 10 seconds.
            "broker_transport_options": {"visibility_timeout": _int("BROKER_VISIBILITY_TIMEOUT", 900),
                                         "unacked_restore_interval": 10, "unacked_restore_throttle": 1},
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            "imports": ("app.tasks",),
            "beat_schedule": BEAT_SCHEDULE,
            "beat_schedule_filename": os.path.join(BASE_DIR, "instance", "celerybeat-schedule"),
        }
    # Embedded mode: the same tasks run in-process, at the point they are enqueued.
    return {"task_always_eager": True, "task_eager_propagates": False, "task_ignore_result": True,
            "beat_schedule": BEAT_SCHEDULE}


def cache_config(settings):
    """Flask-Caching settings: Redis when configured, else this process's memory."""
    # No default expiry (the feed version must not expire); cached pages set their own.
    common = {"CACHE_KEY_PREFIX": "ventroom:", "CACHE_DEFAULT_TIMEOUT": 0}
    if settings["REDIS_URL"]:
        return {**common, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": settings["REDIS_URL"],
                "CACHE_OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2}}
    return {**common, "CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 10000}


def _refuse(message):
    raise RuntimeError(f"Refusing to start: {message}")


def _check_production(settings):
    """Fail closed: a deployment never runs on a default, short or test setting."""
    for key in ("SECRET_KEY", "JWT_SECRET_KEY"):
        value = settings.get(key) or ""
        if value == DEFAULT_SECRET or len(value) < 16:
            _refuse(f"{key} must be set to a strong secret (16+ characters), or APP_ENV=development "
                    "for local use.")
    if not (settings.get("PUBLIC_BASE_URL") or settings.get("TRUSTED_HOSTS")):
        _refuse("set PUBLIC_BASE_URL or TRUSTED_HOSTS: absolute URLs must not come from an "
                "arbitrary Host header.")
    if settings.get("PUSH_ALLOW_PRIVATE_ENDPOINTS"):
        _refuse("PUSH_ALLOW_PRIVATE_ENDPOINTS is for tests only.")


def load_config(overrides=None):
    """The settings for ``APP_ENV`` as a dict; ``overrides`` win, derived values follow them."""
    overrides = dict(overrides or {})
    env = overrides.get("APP_ENV") or os.environ.get("APP_ENV") or DEFAULT_ENV
    if env not in CONFIGS:
        _refuse(f"unknown APP_ENV {env!r} (one of: {', '.join(CONFIGS)}).")
    cls = CONFIGS[env]
    settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    settings.update(overrides)
    settings["APP_ENV"] = env
    settings.setdefault("CELERY", _celery_settings(settings["REDIS_URL"]))
    # The whole request: the media file plus room for the other form fields.
    settings.setdefault("MAX_CONTENT_LENGTH", settings["MAX_MEDIA_BYTES"] + 1024 * 1024)
    if env == "production":
        _check_production(settings)
    return settings
