"""The media job: what happens to an upload after the row that names it has committed.

``process(kind, object_id)`` claims nothing and locks nothing while it works: it reads
the row, makes a clean copy of the quarantined upload under a new random name
(``app.adapters.images`` for pictures, ``app.adapters.av`` for audio and video, plus a
thumbnail), and then commits the outcome with a compare-and-set on ``media`` still
naming that upload and ``media_status = 'processing'``. Only then does any response or
event carry a URL, and that URL never named an uncleaned file. The upload is deleted
once the outcome is committed; a second run (a redelivered task, a duplicate enqueue)
finds the row done and returns, and a run that loses the race deletes what it wrote.
A file that cannot be made safe is ``failed``: the upload is deleted and nothing is
published.

``publish_profile_photo`` does the same for a profile photo, synchronously, in the
request that uploads it.
"""
import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from app import offload
from app.adapters import Rejected, av, images
from app.extensions import db
from app.models.base import utcnow
from app.models.comments import Comment
from app.models.posts import Post
from app.services import comments, feed, media, posts

log = logging.getLogger(__name__)

MODELS = {"post": Post, "comment": Comment}
FOLDERS = {"post": media.POST_MEDIA, "comment": media.COMMENT_MEDIA}
PROCESSING, READY, FAILED = "processing", "ready", "failed"
PROFILE_PHOTO_SIDE = 1024


@dataclass
class Published:
    path: str
    thumbnail: str | None = None
    info: dict = field(default_factory=dict)

    def files(self):
        return self.path, self.thumbnail


def thumbnail_path(path, extension):
    """Where the thumbnail of the published file ``path`` lives: one place per file."""
    return f"{media.THUMBNAILS}/{os.path.splitext(path)[0]}.{extension}"


def _write_thumbnail(files, path, thumbnail):
    relative = thumbnail_path(path, thumbnail.extension)
    files.write(relative, thumbnail.data)
    return relative, {"thumbnail_width": thumbnail.width, "thumbnail_height": thumbnail.height}


def _publish_image(files, source, folder):
    cleaned = images.clean(files.path(source), max_pixels=current_app.config["MEDIA_MAX_IMAGE_PIXELS"])
    path = files.new_name(folder, cleaned.image.extension)
    files.write(path, cleaned.image.data)
    thumb, sizes = _write_thumbnail(files, path, cleaned.thumbnail)
    return Published(path, thumb, {"width": cleaned.image.width, "height": cleaned.image.height, **sizes})


def _publish_av(files, source, folder, media_type):
    sniffed = files.sniff(source)
    if sniffed is None:
        raise Rejected("not a recognisable audio or video file")
    temp = files.temporary(sniffed[1])
    try:
        info = av.clean(files.path(source), temp, media_type,
                        max_pixels=current_app.config["MEDIA_MAX_IMAGE_PIXELS"])
        path = files.new_name(folder, sniffed[1])
        files.publish(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    published = Published(path, info=info)
    if media_type == "video":
        frame = av.poster_frame(files.path(path))
        if frame is not None:
            published.thumbnail, sizes = _write_thumbnail(files, path, images.thumbnail_of(frame))
            published.info.update(sizes)
    return published


def _publish(kind, source, media_type):
    files = media.storage()
    if not os.path.isfile(files.path(source)):
        # Raised, not rejected: a worker that does not (yet) see the web process's
        # MEDIA_ROOT must retry, not fail the upload.
        raise FileNotFoundError(f"{source} is not in MEDIA_ROOT (is it shared with the web process?)")
    if media_type == "image":
        return _publish_image(files, source, FOLDERS[kind])
    if media_type in ("video", "audio"):
        return _publish_av(files, source, FOLDERS[kind], media_type)
    raise Rejected(f"unknown media type {media_type!r}")


def process(kind, object_id):
    """Process the media of one post or comment; returns the status it ends in, or None
    when there is nothing to do (no such row, no media, or processed already)."""
    model = MODELS[kind]
    row = db.session.execute(
        select(model.media, model.media_type, model.media_status).where(model.id == object_id)).first()
    db.session.rollback()  # hold no connection while working on files
    if row is None:
        log.info("media processing: %s %s no longer exists", kind, object_id)
        return None
    if row.media_status != PROCESSING or not row.media:
        return None
    try:
        published = _publish(kind, row.media, row.media_type)
    except Rejected as exc:
        log.warning("media processing: %s %s failed: %s", kind, object_id, exc)
        return _finish(kind, object_id, row.media, None)
    return _finish(kind, object_id, row.media, published)


def mark_failed(kind, object_id):
    """Give up on an object whose processing kept failing: nothing of it is published."""
    model = MODELS[kind]
    source = db.session.scalar(
        select(model.media).where(model.id == object_id, model.media_status == PROCESSING))
    db.session.rollback()
    if source is None:
        return None
    return _finish(kind, object_id, source, None)


def stuck(limit=500):
    """``[(kind, id)]`` of objects still ``processing`` ``MEDIA_REQUEUE_AFTER_SECONDS`` after upload."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["MEDIA_REQUEUE_AFTER_SECONDS"])
    found = []
    for kind, model in MODELS.items():
        ids = db.session.scalars(
            select(model.id).where(model.media_status == PROCESSING, model.created_at < cutoff)
            .order_by(model.id).limit(limit)).all()
        found.extend((kind, object_id) for object_id in ids)
    db.session.rollback()
    return found


def _finish(kind, object_id, source, published):
    """Commit the outcome (``published`` None: failed) if the row still waits for
    ``source``; then delete the upload and tell everyone."""
    model = MODELS[kind]
    if published is None:
        status, values = FAILED, {"media": None, "thumbnail": None, "media_info": None}
    else:
        status, values = READY, {"media": published.path, "thumbnail": published.thumbnail,
                                 "media_info": published.info}
    changed = db.session.execute(
        update(model)
        .where(model.id == object_id, model.media == source, model.media_status == PROCESSING)
        .values(media_status=status, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not changed:  # done by another run, or deleted meanwhile: what we wrote names nothing
        if published is not None:
            media.delete_files(*published.files())
        return None
    media.delete_files(source)
    log.info("media processing: %s %s is %s", kind, object_id, status)
    try:
        if kind == "post":
            feed.invalidate()  # the feed shows a post's media fields (not its comments')
        _announce(kind, object_id)
    except Exception:  # the outcome is committed; a lost broadcast must not undo or repeat it
        log.exception("media processing: %s %s committed, but the update could not be announced",
                      kind, object_id)
    return status


def _announce(kind, object_id):
    """The object's ``*_updated`` event, through the one module that emits."""
    if kind == "post":
        posts.announce_updated(posts.load_post(object_id))
        return
    post_id = db.session.scalar(select(Comment.post_id).where(Comment.id == object_id))
    comments.announce_updated(post_id, object_id)


def publish_profile_photo(stored):
    """Clean a quarantined profile photo (scaled to fit ``PROFILE_PHOTO_SIDE``) and publish
    it under a new name; returns that path. Rejected when it is not a clean-able image."""
    files = media.storage()
    try:
        cleaned = offload.run(images.clean, files.path(stored.path),
                              max_pixels=current_app.config["MEDIA_MAX_IMAGE_PIXELS"],
                              max_side=PROFILE_PHOTO_SIDE, thumbnail_side=None)
        path = files.new_name(media.PROFILE_PHOTOS, cleaned.image.extension)
        files.write(path, cleaned.image.data)
        return path
    finally:
        files.delete(stored.path)
