"""The web client: ``/`` and its files under ``/app/<version>/``; nothing else is HTML.

The files in ``app/web/`` are read once, gzipped once, and served from memory. Their
URLs carry a hash of all of them, so they can be cached for a year; the page itself is
``no-cache``, so a new deploy is picked up on the next load. Any other path under
``/app/`` is the usual JSON 404.
"""
import gzip
import hashlib
from pathlib import Path

from flask import Blueprint, Response, abort, request

from app.urls import base_url

bp = Blueprint("web", __name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
ASSET_BASE = b"__ASSET_BASE__"  # written in index.html where the asset URLs start


def _load():
    files = {path.name: path.read_bytes() for path in sorted(WEB_DIR.iterdir())
             if path.suffix in TYPES and path.is_file()}
    digest = hashlib.sha256()
    for name, body in files.items():
        digest.update(name.encode() + b"\0" + body + b"\0")
    version = digest.hexdigest()[:12]
    files["index.html"] = files["index.html"].replace(ASSET_BASE, f"/app/{version}".encode())
    return version, {name: (body, gzip.compress(body, 9, mtime=0)) for name, body in files.items()}


VERSION, FILES = _load()


def _file_response(name, cache_control):
    plain, packed = FILES[name]
    use_gzip = request.accept_encodings["gzip"] > 0
    response = Response(packed if use_gzip else plain, content_type=TYPES[Path(name).suffix])
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(f"{VERSION}-{name}{'-gz' if use_gzip else ''}")
    return response.make_conditional(request)


def content_security_policy():
    """Scripts, styles and fonts from this origin only; images and media also from
    ``/media/`` (which ``PUBLIC_BASE_URL`` may put elsewhere); sockets to this host."""
    media = f"{base_url()}/media/"
    return "; ".join([
        "default-src 'self'",
        f"img-src 'self' {media}",
        f"media-src {media}",
        f"connect-src 'self' ws://{request.host} wss://{request.host}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ])


@bp.get("/")
def index():
    response = _file_response("index.html", "no-cache")
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    return response


@bp.get("/app/<version>/<name>")
def asset(version, name):
    if version != VERSION or name not in FILES or name == "index.html":
        abort(404)
    return _file_response(name, "public, max-age=31536000, immutable")
