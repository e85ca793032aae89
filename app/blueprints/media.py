from flask import Blueprint, send_file

from app.services import media

bp = Blueprint("media", __name__)


@bp.get("/media/<path:path>")
def serve(path):
    """Uploaded files. Names are random; the bytes were sniffed before they were stored."""
    response = send_file(media.public_file(path), max_age=31536000)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
