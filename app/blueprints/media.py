import os

from flask import Blueprint, current_app, send_from_directory

from app.errors import NotFound

bp = Blueprint("media", __name__)


@bp.get("/media/<path:path>")
def serve(path):
    """Uploaded files. Names are random; the bytes were sniffed before they were stored."""
    parts = path.split("/")
    if any(part.startswith(".") for part in parts):  # no dotfiles, no incoming temp files
        raise NotFound()
    root = current_app.config["MEDIA_ROOT"]
    if not os.path.isfile(os.path.join(root, *parts)):
        raise NotFound()
    response = send_from_directory(root, path, max_age=31536000)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
