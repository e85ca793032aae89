"""Uploaded files, once they are clean."""
from flask import Blueprint, send_file

from app.blueprints import endpoint
from app.services import media

bp = Blueprint("media", __name__)


@bp.get("/media/<path:path>")
@endpoint("An uploaded file", response="application/octet-stream", public=True, errors=(404,),
          description="Names are random and published only once the file is clean; the bytes were "
                      "sniffed when they were uploaded.")
def serve(path):
    response = send_file(media.public_file(path), max_age=31536000)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
