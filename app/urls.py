"""Absolute URLs for JSON bodies: from ``PUBLIC_BASE_URL``, else the request's host."""
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import urlencode

from flask import current_app, has_request_context, request

# The origin of the request whose deferred work is running (embedded mode runs tasks
# just after the request that enqueued them, outside its request context).
_request_origin = ContextVar("request_origin", default=None)


@contextmanager
def request_origin(origin):
    token = _request_origin.set(origin)
    try:
        yield
    finally:
        _request_origin.reset(token)


def base_url():
    configured = current_app.config.get("PUBLIC_BASE_URL")
    if configured:
        return configured
    if has_request_context():
        return request.host_url.rstrip("/")
    if _request_origin.get():
        return _request_origin.get()
    # Outside a request (a Celery task) with no PUBLIC_BASE_URL: the local server.
    return f"http://127.0.0.1:{current_app.config.get('PORT', 8000)}"


def media_url(path):
    if not path:
        return None
    return f"{base_url()}/media/{path}"


def page_url(page):
    """The current request's URL with ``page`` replaced in its query."""
    args = request.args.to_dict(flat=True)
    args["page"] = page
    return f"{base_url()}{request.path}?{urlencode(args)}"
