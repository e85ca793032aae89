"""What happens to an uploaded file after the row that names it has committed.

``process(kind, object_id)`` is the whole job; ``app.tasks.media.process_media`` runs it
in a Celery worker (or in-process, eagerly, without ``REDIS_URL``).

Images are re-encoded without their metadata, so the stored original no longer says
where or with what a photo was taken (EXIF, GPS, XMP, IPTC, comments). The EXIF
orientation is applied to the pixels first, so the picture still stands the right way
up. Files that decode to more than ``MEDIA_MAX_IMAGE_PIXELS`` pixels (decompression
bombs) are refused. A thumbnail of at most 480 px on the long side is written under
``thumbnails/`` and its width and height, and the image's, go to ``media_info``.

Video and audio: ``duration`` (and ``width``/``height`` of video) come from ffprobe when
it is on PATH, and a poster frame from ffmpeg becomes the video's thumbnail. Without
those tools the container header still gives them for MP4/MOV/M4A/3GP (ISO base media
files) and WAV; other containers get no ``media_info``. MP4-family files also lose their
user-data and metadata boxes in place (the boxes are renamed ``free``, so no offset
moves): phones write the recording location there.

The row goes ``processing`` -> ``ready``, or ``failed`` when the file cannot be made
safe to serve; a failed file is deleted and the row's ``media`` cleared. The outcome
is committed with a compare-and-set on ``media_status = 'processing'``, so a second run
(a redelivered task, a duplicate enqueue) changes nothing: it finds the row done and
returns. Work on the files is deterministic and idempotent as well: a re-encoded image
has no metadata left, so running again leaves it byte for byte as it is (no second
lossy encode), and thumbnails are written to a path derived from the media path.
"""
import io
import json
import logging
import os
import shutil
import struct
import subprocess
import tempfile
import warnings
import wave
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select, update

from app import realtime
from app.extensions import db
from app.models.base import utcnow
from app.models.comments import Comment
from app.models.posts import Post
from app.services import feed, media

log = logging.getLogger(__name__)

MODELS = {"post": Post, "comment": Comment}
PROCESSING, READY, FAILED = "processing", "ready", "failed"
THUMBNAIL_MAX = 480
TOOL_TIMEOUT = 60  # seconds for one ffprobe or ffmpeg run

# How each format is written back. Lossy formats are re-encoded only when they carry
# metadata; lossless ones re-encode to the same pixels whatever happens.
SAVE_OPTIONS = {
    "JPEG": {"quality": 90},
    "WEBP": {"quality": 90, "method": 4},
    "PNG": {"optimize": False},
    "GIF": {},
    "BMP": {},
    "TIFF": {"compression": "tiff_adobe_deflate"},
    "AVIF": {"quality": 90},
}
OUTPUT_FORMAT = {"MPO": "JPEG"}  # multi-picture JPEGs keep their first picture, as a JPEG
ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")
# Info keys that describe pixels or playback, never the person, place or device.
SAFE_INFO = {
    "jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "adobe", "adobe_transform",
    "progressive", "progression", "icc_profile", "transparency", "gamma", "srgb", "chromaticity",
    "aspect", "duration", "loop", "background", "version", "compression", "interlace",
    "default_image", "disposal", "blend", "timestamp", "palette", "lossless",
}
# JPEG APPn segments that are structure, not metadata: JFIF, ICC profile, Adobe colour.
SAFE_JPEG_APP = {("APP0", b"JFIF"), ("APP0", b"JFXX"), ("APP2", b"ICC_PROFILE"), ("APP14", b"Adobe")}


class Rejected(Exception):
    """The file cannot be processed into something safe to serve."""


@dataclass
class Result:
    thumbnail: str | None = None
    info: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- the job


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
    path = row.media
    try:
        result = _process_file(path, row.media_type)
    except Rejected as exc:
        log.warning("media processing: %s %s failed: %s (%s)", kind, object_id, exc, path)
        return _fail(kind, object_id, path)
    return _finish(kind, object_id, path, READY, result)


def _fail(kind, object_id, path):
    """An unprocessed original is never served: its file and any thumbnail go."""
    media.delete_files(path, thumbnail_path(path, "jpg"), thumbnail_path(path, "png"))
    return _finish(kind, object_id, path, FAILED, None)


def mark_failed(kind, object_id):
    """Give up on an object whose processing kept failing: its file is not served unprocessed."""
    model = MODELS[kind]
    path = db.session.scalar(
        select(model.media).where(model.id == object_id, model.media_status == PROCESSING))
    db.session.rollback()
    if path is None:
        return None
    return _fail(kind, object_id, path)


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


def _finish(kind, object_id, path, status, result):
    """Commit the outcome if the row is still waiting for this very file; then tell everyone."""
    model = MODELS[kind]
    values = {"media_status": status}
    if status == READY:
        values.update(thumbnail=result.thumbnail, media_info=result.info)
    else:
        values.update(media=None, thumbnail=None, media_info=None)
    changed = db.session.execute(
        update(model)
        .where(model.id == object_id, model.media == path, model.media_status == PROCESSING)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not changed:
        gone = db.session.scalar(select(model.id).where(model.id == object_id)) is None
        db.session.rollback()
        if gone and result is not None:
            # Deleted while we worked: whatever we wrote has no row to name it.
            media.delete_files(path, result.thumbnail)
        return None
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
    # Imported here: these services enqueue this job, so they import its task module.
    if kind == "post":
        from app.services import posts

        realtime.post_updated(posts.broadcast_data(posts.load_post(object_id)))
    else:
        from app.schemas.comments import dump_tree
        from app.services import comments

        post_id = db.session.scalar(select(Comment.post_id).where(Comment.id == object_id))
        comment = comments.get_comment(post_id, object_id, None)
        realtime.comment_updated(dump_tree([comment], broadcast=True)[0])


def _process_file(path, media_type):
    full = media.absolute_path(path)
    if not os.path.isfile(full):
        # Raised, not rejected: a worker that does not (yet) see the web process's
        # MEDIA_ROOT must retry, not delete.
        raise FileNotFoundError(f"{full} does not exist (is MEDIA_ROOT shared with the web process?)")
    if media_type == "image":
        return _process_image(path, full)
    if media_type in ("video", "audio"):
        return _process_av(path, full, media_type)
    raise Rejected(f"unknown media type {media_type!r}")


def thumbnail_path(media_path, extension):
    """Where the thumbnail of ``media_path`` lives: one fixed place per file."""
    stem = os.path.splitext(media_path)[0]
    return f"{media.THUMBNAILS}/{stem}.{extension}"


def _write_atomically(relative, write):
    """Write a file under MEDIA_ROOT through a temporary sibling, then rename it in place."""
    target = media.absolute_path(relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


# --------------------------------------------------------------------------- images


def _open_image(source):
    """Open and fully decode an image, refusing decompression bombs."""
    limit = current_app.config["MEDIA_MAX_IMAGE_PIXELS"]
    Image.MAX_IMAGE_PIXELS = limit  # Pillow's own check, at open, agrees with ours
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(source)
            width, height = image.size
            if width * height > limit:
                raise Rejected(f"{width}x{height} pixels is over the limit of {limit}")
            frames = getattr(image, "n_frames", 1)
            if width * height * frames > 4 * limit:
                raise Rejected(f"{frames} frames of {width}x{height} pixels is over the limit")
            image.load()
            return image
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Rejected(f"decompression bomb: {exc}") from None
        except (UnidentifiedImageError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise Rejected(f"not a readable image: {exc}") from None
        except OSError as exc:  # Pillow's "image file is truncated", "broken data stream"...
            raise Rejected(f"not a readable image: {exc}") from None


def has_metadata(image):
    """Does ``image`` carry anything beyond its pixels (and colour profile) we must strip?"""
    if image.format == "TIFF":
        return True  # its tags are its metadata; lossless, so always rewritten
    if len(image.getexif()):
        return True
    if any(key not in SAFE_INFO for key in image.info if key != "extension"):
        return True
    extension = image.info.get("extension")  # a GIF application extension: only looping is safe
    if extension and not extension[0].startswith((b"NETSCAPE2.0", b"ANIMEXTS1.0")):
        return True
    for marker, data in getattr(image, "applist", []):  # JPEG segments Pillow does not surface
        if not any(marker == safe and data.startswith(name) for safe, name in SAFE_JPEG_APP):
            return True
    return bool(getattr(image, "text", None))  # PNG text chunks


def _clean_copy(frame):
    """The pixels of ``frame`` (and palette, transparency, ICC profile): nothing else."""
    clean = frame.copy()
    keep = {key: frame.info[key] for key in ("icc_profile", "transparency", "duration")
            if key in frame.info}
    clean.info = keep
    return clean


def _save_options(image, fmt):
    options = dict(SAVE_OPTIONS.get(fmt, {}))
    if image.info.get("icc_profile") and fmt in ("JPEG", "PNG", "WEBP", "TIFF", "AVIF"):
        options["icc_profile"] = image.info["icc_profile"]
    if "transparency" in image.info and fmt in ("PNG", "GIF"):
        options["transparency"] = image.info["transparency"]
    return options


def _animated(image, fmt):
    return getattr(image, "is_animated", False) and fmt in ANIMATED_FORMATS


def _encode(image, fmt, animated):
    """``image`` (already opened and oriented) as ``fmt`` bytes, without metadata."""
    out = io.BytesIO()
    if animated:
        frames = []
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(_clean_copy(image))
            durations.append(image.info.get("duration", 100))
        image.seek(0)
        options = _save_options(frames[0], fmt)
        options.update(save_all=True, append_images=frames[1:], duration=durations,
                       loop=image.info.get("loop", 0))
        frames[0].save(out, fmt, **options)
    else:
        clean = _clean_copy(image)
        if fmt == "JPEG" and clean.mode not in ("RGB", "L", "CMYK"):
            clean = clean.convert("RGB")
        clean.save(out, fmt, **_save_options(clean, fmt))
    return out.getvalue()


def _thumbnail(image):
    """``(extension, bytes, size)`` of a thumbnail: JPEG, or PNG where there is transparency."""
    if getattr(image, "is_animated", False):
        image.seek(0)
    thumb = image.copy()
    thumb.info = {}
    thumb.thumbnail((THUMBNAIL_MAX, THUMBNAIL_MAX), Image.Resampling.LANCZOS)
    alpha = thumb.mode in ("RGBA", "LA", "PA") or (thumb.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if alpha:
        thumb.convert("RGBA").save(out, "PNG")
        return "png", out.getvalue(), thumb.size
    thumb.convert("RGB").save(out, "JPEG", quality=85)
    return "jpg", out.getvalue(), thumb.size


def _process_image(path, full):
    image = _open_image(full)
    try:
        fmt = OUTPUT_FORMAT.get(image.format, image.format)
        if fmt not in SAVE_OPTIONS:
            raise Rejected(f"cannot re-encode {image.format} images")
        if has_metadata(image):
            animated = _animated(image, fmt)
            # Orientation goes into the pixels (the tag goes with the rest of the EXIF).
            source = image if animated else ImageOps.exif_transpose(image)
            try:
                encoded = _encode(source, fmt, animated)
            except (OSError, ValueError) as exc:
                raise Rejected(f"cannot re-encode this {image.format} image: {exc}") from None
            _write_atomically(path, lambda out: out.write(encoded))
            image.close()
            image = Image.open(io.BytesIO(encoded))
            image.load()
        return _image_result(path, image)
    finally:
        image.close()


def _image_result(path, image):
    extension, data, (thumb_w, thumb_h) = _thumbnail(image)
    thumb = thumbnail_path(path, extension)
    _write_atomically(thumb, lambda out: out.write(data))
    # The other extension may hold a thumbnail from an earlier, different run: drop it.
    media.delete_files(thumbnail_path(path, "png" if extension == "jpg" else "jpg"))
    width, height = image.size
    return Result(thumbnail=thumb, info={"width": width, "height": height,
                                         "thumbnail_width": thumb_w, "thumbnail_height": thumb_h})


# --------------------------------------------------------------------------- video and audio


def _process_av(path, full, media_type):
    info = probe(full, media_type)
    scrub_iso_metadata(full)
    result = Result(info=info)
    if media_type == "video":
        frame = poster_frame(full, info.get("duration"))
        if frame is not None:
            result = _image_result(path, frame)
            result.info = {**info, "thumbnail_width": result.info["thumbnail_width"],
                           "thumbnail_height": result.info["thumbnail_height"]}
    return result


def probe(full, media_type):
    """``{duration, width, height}`` as far as they can be known on this machine."""
    if shutil.which("ffprobe"):
        return ffprobe(full, media_type)
    info = iso_header(full) or wav_header(full) or {}
    if media_type == "audio":
        info.pop("width", None)
        info.pop("height", None)
    return info


def ffprobe(full, media_type):
    try:
        run = subprocess.run(
            ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", full],
            capture_output=True, timeout=TOOL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise Rejected("ffprobe timed out") from None
    if run.returncode != 0:
        raise Rejected(f"ffprobe cannot read it: {run.stderr.decode(errors='replace').strip()[:200]}")
    data = json.loads(run.stdout or b"{}")
    streams = data.get("streams", [])
    wanted = "video" if media_type == "video" else "audio"
    if not any(stream.get("codec_type") == wanted for stream in streams):
        raise Rejected(f"no {wanted} stream")
    info = {}
    duration = _float(data.get("format", {}).get("duration"))
    if duration is None:
        duration = next((_float(s.get("duration")) for s in streams if _float(s.get("duration"))), None)
    if duration is not None:
        info["duration"] = round(duration, 3)
    if media_type == "video":
        video = next(s for s in streams if s.get("codec_type") == "video")
        if video.get("width") and video.get("height"):
            width, height = int(video["width"]), int(video["height"])
            if _rotation(video) % 180 == 90:
                width, height = height, width
            info.update(width=width, height=height)
    return info


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rotation(stream):
    rotate = stream.get("tags", {}).get("rotate")
    if rotate is None:
        rotate = next((side.get("rotation") for side in stream.get("side_data_list", [])
                       if "rotation" in side), 0)
    try:
        return int(float(rotate)) % 360
    except (TypeError, ValueError):
        return 0


def poster_frame(full, duration):
    """One frame of the video as a Pillow image (ffmpeg), or None where there is no ffmpeg."""
    if not shutil.which("ffmpeg"):
        return None
    at = min(1.0, duration / 2) if duration else 0.0
    try:
        run = subprocess.run(
            ["ffmpeg", "-v", "error", "-ss", f"{at:.3f}", "-i", full, "-frames:v", "1",
             "-f", "image2pipe", "-c:v", "png", "pipe:1"],
            capture_output=True, timeout=TOOL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        log.warning("ffmpeg timed out making a poster frame of %s", full)
        return None
    if run.returncode != 0 or not run.stdout:
        log.warning("ffmpeg made no poster frame of %s: %s", full, run.stderr.decode(errors="replace")[:200])
        return None
    return _open_image(io.BytesIO(run.stdout))


# ISO base media files (MP4, MOV, M4A, 3GP): a tree of boxes, size + type first.
CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}
METADATA_BOXES = {b"udta", b"meta"}  # user data (©xyz: where it was filmed), iTunes/Apple keys


def _boxes(f, start, end):
    """``(type, payload_offset, box_end, header_offset)`` of each box in ``[start, end)``."""
    offset = start
    while offset + 8 <= end:
        f.seek(offset)
        header = f.read(8)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        payload = offset + 8
        if size == 1:
            large = f.read(8)
            if len(large) < 8:
                return
            size = struct.unpack(">Q", large)[0]
            payload += 8
        elif size == 0:
            size = end - offset
        if size < payload - offset or offset + size > end:
            return
        yield kind, payload, offset + size, offset
        offset += size


def _is_iso(f, end):
    f.seek(4)
    return end >= 8 and f.read(4) in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def iso_header(full):
    """Duration and video size from an MP4/MOV header, or None if it is not one."""
    with open(full, "rb") as f:
        end = os.fstat(f.fileno()).st_size
        if not _is_iso(f, end):
            return None
        info = {}
        for kind, payload, box_end, _ in _boxes(f, 0, end):
            if kind == b"moov":
                _read_moov(f, payload, box_end, info)
                break
        return info


def _read_moov(f, start, end, info):
    for kind, payload, box_end, _ in _boxes(f, start, end):
        if kind == b"mvhd":
            f.seek(payload)
            data = f.read(min(box_end - payload, 32))
            version = data[0] if data else None
            if version == 0 and len(data) >= 20:
                timescale, duration = struct.unpack(">II", data[12:20])
            elif version == 1 and len(data) >= 32:
                timescale, duration = struct.unpack(">IQ", data[20:32])
            else:
                continue
            if timescale and duration not in (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
                info["duration"] = round(duration / timescale, 3)
        elif kind == b"trak" and "width" not in info:
            for sub, sub_payload, sub_end, _ in _boxes(f, payload, box_end):
                if sub == b"tkhd":
                    f.seek(sub_payload)
                    data = f.read(min(sub_end - sub_payload, 96))
                    offset = 76 if data[:1] == b"\x00" else 88
                    if len(data) >= offset + 8:
                        width, height = struct.unpack(">II", data[offset:offset + 8])
                        if width >> 16 and height >> 16:
                            info.update(width=width >> 16, height=height >> 16)


def scrub_iso_metadata(full):
    """Turn the user-data and metadata boxes of an MP4/MOV into zeroed ``free`` boxes, in
    place (no offset moves, so the file plays as before). Returns how many."""
    renamed = 0
    with open(full, "r+b") as f:
        end = os.fstat(f.fileno()).st_size
        if not _is_iso(f, end):
            return 0

        def walk(start, stop):
            nonlocal renamed
            for kind, payload, box_end, header in _boxes(f, start, stop):
                if kind in METADATA_BOXES or (kind == b"uuid" and _is_xmp_uuid(f, payload, box_end)):
                    f.seek(header + 4)
                    f.write(b"free")
                    f.seek(payload)
                    remaining = box_end - payload
                    while remaining:  # the payload too: a renamed box still holds its bytes
                        chunk = min(remaining, 64 * 1024)
                        f.write(bytes(chunk))
                        remaining -= chunk
                    renamed += 1
                elif kind in CONTAINER_BOXES:
                    walk(payload, box_end)

        walk(0, end)
    return renamed


XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")


def _is_xmp_uuid(f, payload, box_end):
    if box_end - payload < 16:
        return False
    f.seek(payload)
    return f.read(16) == XMP_UUID


def wav_header(full):
    try:
        with wave.open(full, "rb") as audio:
            rate = audio.getframerate()
            return {"duration": round(audio.getnframes() / rate, 3)} if rate else {}
    except (wave.Error, EOFError, OSError):
        return None
