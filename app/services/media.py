"""Uploaded files: size-capped, sniffed by their bytes, kept in quarantine until clean.

An upload is received into ``MEDIA_ROOT/.quarantine/`` (never served), and its bytes
decide what it is: extension and client Content-Type are ignored. The row that names it
is ``media_status: processing`` and shows ``media: null`` until the media job has
written a clean copy under a new random name (``app.services.media_processing``). The
services that store a file delete it again if their transaction does not commit.
"""
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app

from app.adapters.storage import Storage, TooLarge
from app.errors import NotFound, field_error
from app.errors import TooLarge as TooLargeError

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
NOT_MEDIA = ("Upload a valid image, video or audio file. "
             "The file you uploaded was either not one or a corrupted one.")


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to MEDIA_ROOT, in the quarantine
    media_type: str


def storage():
    return Storage(current_app.config["MEDIA_ROOT"])


def public_file(path):
    """The absolute path of a published file, or NotFound (the quarantine is never public)."""
    full = storage().public_path(path)
    if full is None:
        raise NotFound()
    return full


def kind_of(mime):
    return next((kind for kind, mimes in MEDIA_KINDS.items() if mime in mimes), None)


def store_upload(upload, declared_type, field="media"):
    """Receive ``upload`` (a werkzeug FileStorage) into quarantine after checking what
    it really is; 413 over ``MAX_MEDIA_BYTES``, 400 on ``field`` for anything else."""
    files = storage()
    limit = current_app.config["MAX_MEDIA_BYTES"]
    try:
        path, size = files.receive(upload.stream, limit)
    except TooLarge:
        raise TooLargeError({"detail": f"The media file exceeds the upload limit of {limit} bytes."}) from None
    with removed_unless_committed(path):
        if size == 0:
            raise field_error(field, "The submitted file is empty.")
        guess = files.sniff(path)
        actual = kind_of(guess[0]) if guess else None
        if actual is None:
            raise field_error(field, NOT_MEDIA)
        if actual != declared_type:
            raise field_error(field, f"The file is {'an' if actual == 'image' else 'a'} {actual} "
                                     f"file, not {declared_type}.")
    return StoredFile(path, actual)


def delete_files(*paths):
    storage().delete(*paths)


@contextmanager
def removed_unless_committed(*paths):
    """Delete the files at ``paths`` (None skipped) if the block raises: the row that
    would name them never landed."""
    try:
        yield
    except BaseException:
        delete_files(*paths)
        raise
