"""Uploaded files: size-capped, sniffed by their bytes, stored under random names.

A file is written to a temporary name first, checked, and only then moved to
``<folder>/<yyyy>/<mm>/<random>.<ext>`` under ``MEDIA_ROOT``. The services that
store a file delete it again if their transaction does not commit.
"""
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import filetype
from flask import current_app

from app.errors import NotFound, TooLarge, field_error

CHUNK = 64 * 1024
POST_MEDIA = "vent_media"
COMMENT_MEDIA = "comment_media"
PROFILE_PHOTOS = "profile_photos"
THUMBNAILS = "thumbnails"

MEDIA_KINDS = {
    "image": {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff",
              "image/heic", "image/heif", "image/avif"},
    "video": {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/x-msvideo",
              "video/mpeg", "video/3gpp", "video/x-m4v", "video/x-flv"},
    "audio": {"audio/mpeg", "audio/x-wav", "audio/wav", "audio/ogg", "audio/x-flac", "audio/flac",
              "audio/aac", "audio/mp4", "audio/m4a", "audio/x-m4a", "audio/amr", "audio/webm",
              "audio/aiff", "audio/x-aiff", "audio/opus"},
}


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to MEDIA_ROOT, with forward slashes
    media_type: str


def media_root():
    return current_app.config["MEDIA_ROOT"]


def absolute_path(path):
    root = os.path.realpath(media_root())
    full = os.path.realpath(os.path.join(root, path))
    if not full.startswith(root + os.sep):
        raise ValueError("path escapes MEDIA_ROOT")
    return full


def public_file(path):
    """The absolute path of a stored file that clients may fetch, or NotFound: nothing
    outside MEDIA_ROOT, no dotfiles, nothing from the incoming area."""
    if any(part.startswith(".") for part in path.split("/")):
        raise NotFound()
    try:
        full = absolute_path(path)
    except ValueError:
        raise NotFound() from None
    if not os.path.isfile(full):
        raise NotFound()
    return full


def kind_of(mime):
    for kind, mimes in MEDIA_KINDS.items():
        if mime in mimes:
            return kind
    return None


def _copy_capped(stream, target, limit):
    size = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return size
        size += len(chunk)
        if size > limit:
            raise TooLarge({"detail": f"The media file exceeds the upload limit of {limit} bytes."})
        target.write(chunk)


def store_upload(upload, declared_type, folder, field="media"):
    """Save ``upload`` (a werkzeug FileStorage) after checking what it really is."""
    limit = current_app.config["MAX_MEDIA_BYTES"]
    root = media_root()
    os.makedirs(os.path.join(root, ".incoming"), exist_ok=True)
    fd, temp_path = tempfile.mkstemp(dir=os.path.join(root, ".incoming"))
    try:
        with os.fdopen(fd, "wb") as target:
            size = _copy_capped(upload.stream, target, limit)
        if size == 0:
            raise field_error(field, "The submitted file is empty.")
        guess = filetype.guess(temp_path)
        actual = kind_of(guess.mime) if guess else None
        if actual is None:
            raise field_error(field, "Upload a valid image, video or audio file. "
                                     "The file you uploaded was either not one or a corrupted one.")
        if actual != declared_type:
            raise field_error(field, f"The file is {'an' if actual == 'image' else 'a'} {actual} "
                                     f"file, not {declared_type}.")
        now = datetime.now(timezone.utc)
        relative = f"{folder}/{now:%Y}/{now:%m}/{secrets.token_hex(16)}.{guess.extension}"
        final = absolute_path(relative)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        shutil.move(temp_path, final)
        os.chmod(final, 0o644)
        return StoredFile(relative, actual)
    finally:
        if os.path.exists(temp_path):
            os.unlink(temp_path)


def delete_files(*paths):
    for path in paths:
        if not path:
            continue
        try:
            os.unlink(absolute_path(path))
        except (FileNotFoundError, ValueError):
            pass


@contextmanager
def removed_unless_committed(*stored):
    """Delete stored files if the block raises (the row that names them never landed)."""
    try:
        yield
    except BaseException:
        delete_files(*(item.path for item in stored if item is not None))
        raise
