"""Rate limits, as API.md says, with Flask-Limiter.

Three classes of request, each one bucket per caller (DRF's scoped throttles):

- ``create``: post, comment and report creation (POST to the ``posts``, ``comments``
  and ``reports`` blueprints), ``RATELIMIT_CREATE`` (20/minute);
- ``reactions``: every request to the ``reactions`` blueprint, ``RATELIMIT_REACTIONS``
  (60/minute);
- ``standard``: everything else, ``RATELIMIT_STANDARD`` (100/minute).

The classes are told apart by blueprint and method here, so the blueprints carry no
decorators and new endpoints are limited without being listed. Health checks, uploaded
media and CORS preflights are not limited.

The caller is the user id of a valid bearer token (access or refresh), else the
client's IP address (before login); ``/auth/login`` and ``/auth/register`` always count
per IP, whatever token they carry. Failed logins are also counted per normalized email
(``RATELIMIT_LOGIN_FAILURES``, 10 per 15 minutes), from any number of addresses: past it
that email cannot log in until the window moves on (``check_login`` / ``login_failed``).

Counters live in Redis when ``REDIS_URL`` is set, so every web process shares them,
and in memory otherwise; the strategy is a moving window (exact, with no leak at window
edges: the recent hits of each caller and class). If Redis cannot be reached, each process
falls back to counting in memory until it answers again; a limiter failure never fails
the request. ``RATELIMIT_ENABLED=0`` turns all of it off.

A throttled request gets 429 ``{"detail": "Request was throttled. Expected available in
N seconds."}`` and ``Retry-After: N``.
"""
import math
import time

from flask import current_app, g, request
from flask_jwt_extended import decode_token
from flask_limiter import Limit, Limiter, RateLimitExceeded
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.errors import Throttled, error_response
from app.security import request_token

STANDARD, CREATE, REACTIONS = "standard", "create", "reactions"
SETTINGS = {STANDARD: "RATELIMIT_STANDARD", CREATE: "RATELIMIT_CREATE", REACTIONS: "RATELIMIT_REACTIONS"}
CREATE_BLUEPRINTS = {"posts", "comments", "reports"}
EXEMPT_ENDPOINTS = {"health.healthz", "health.readyz", "media.serve", "metrics.scrape", "web.index", "web.asset"}
PER_IP_ENDPOINTS = {"auth.login", "auth.register"}


def limit_class(endpoint=None):
    """Which bucket the current request counts against."""
    if request.blueprint == "reactions":
        return REACTIONS
    if request.method == "POST" and request.blueprint in CREATE_BLUEPRINTS:
        return CREATE
    return STANDARD


def _limit_value():
    return current_app.config[SETTINGS[limit_class()]]


def caller():
    """``user:<id>`` for a valid bearer token, else ``ip:<address>``; once per request."""
    key = g.get("_ratelimit_caller")
    if key is None:
        key = f"ip:{request.remote_addr or 'unknown'}"
        token = request_token() if request.endpoint not in PER_IP_ENDPOINTS else None
        if token:
            try:
                key = f"user:{decode_token(token)['sub']}"
            except Exception:  # any bad token: the view answers 401, the IP is counted
                pass
        g._ratelimit_caller = key
    return key


def _exempt():
    return request.endpoint in EXEMPT_ENDPOINTS or request.method == "OPTIONS"


def _retry_after(limiter):
    """Whole seconds until the breached limit lets a request through again (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return 1
    try:
        reset_at = breached.window.reset_time
    except Exception:  # the storage went away between the check and here
        return 1
    return max(1, math.ceil(reset_at - time.time()))


def init_app(app):
    """A limiter of this app's own (its storage is per app; tests build several apps)."""
    if not app.config["RATELIMIT_ENABLED"]:
        return None
    redis_url = app.config["REDIS_URL"]
    limiter = Limiter(
        caller,
        default_limits=[Limit(_limit_value, key_function=caller, scope=limit_class, shared=True)],
        storage_uri=redis_url or "memory://",
        storage_options={"socket_timeout": 2, "socket_connect_timeout": 2} if redis_url else {},
        strategy="moving-window",
        key_prefix="ventroom",
        headers_enabled=False,  # no extra storage round trip per request; 429s carry Retry-After
        in_memory_fallback_enabled=bool(redis_url),
        swallow_errors=True,
    )
    limiter.request_filter(_exempt)
    limiter.init_app(app)
    app.extensions["ratelimit"] = limiter

    @app.errorhandler(RateLimitExceeded)
    def throttled(_err):
        wait = _retry_after(limiter)
        return error_response({"detail": f"Request was throttled. Expected available in {wait} seconds."},
                              429, {"Retry-After": str(wait)})

    return limiter


def _login_guard():
    """``(limiter, item)`` counting failed logins per email, or None when limits are off."""
    app = current_app._get_current_object()
    if not app.config["RATELIMIT_ENABLED"]:
        return None
    guard = app.extensions.get("login_guard")
    if guard is None:
        url = app.config["REDIS_URL"]
        storage = storage_from_string(url, socket_timeout=2, socket_connect_timeout=2) if url else MemoryStorage()
        guard = app.extensions["login_guard"] = (MovingWindowRateLimiter(storage),
                                                 parse(app.config["RATELIMIT_LOGIN_FAILURES"]))
    return guard


def check_login(email):
    """Throttled (429) when ``email`` has used up its failed logins."""
    guard = _login_guard()
    if guard is None:
        return
    limiter, item = guard
    try:
        if limiter.test(item, "login-failures", email):
            return
        reset_at = limiter.get_window_stats(item, "login-failures", email).reset_time
    except Exception:  # the counter's storage is down: logins go on, the IP limit still holds
        return
    raise Throttled(math.ceil(reset_at - time.time()))


def login_failed(email):
    guard = _login_guard()
    if guard is not None:
        try:
            guard[0].hit(guard[1], "login-failures", email)
        except Exception:
            pass
