"""Images made safe to publish, with Pillow: only the pixels survive.

Every image is decoded and encoded again, whatever it seems to carry: EXIF (GPS, the
phone's make, the time), XMP, IPTC, comments, PNG text chunks and maker notes all stay
behind in the upload. The EXIF orientation goes into the pixels first, so the picture
still stands the right way up. Kept: the colour profile, transparency, animation
(frame durations, looping). Images that decode to more than ``max_pixels`` pixels
(decompression bombs) are refused. HEIC/HEIF (iPhone photos, through pillow-heif) and
multi-picture JPEGs come out as JPEG, which every browser shows.
"""
import io
import struct
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from app.adapters import Rejected

pillow_heif.register_heif_opener()

THUMBNAIL_SIDE = 480
# How each format is written back, and under which extension.
SAVE_OPTIONS = {
    "JPEG": {"quality": 90},
    "WEBP": {"quality": 90, "method": 4},
    "PNG": {"optimize": False},
    "GIF": {},
    "BMP": {},
    "TIFF": {"compression": "tiff_adobe_deflate"},
    "AVIF": {"quality": 90},
}
EXTENSIONS = {"JPEG": "jpg", "WEBP": "webp", "PNG": "png", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff",
              "AVIF": "avif"}
OUTPUT_FORMAT = {"MPO": "JPEG", "HEIF": "JPEG"}
ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")
# What a clean frame keeps of the original's info: colour and playback, nothing else.
KEPT_INFO = ("icc_profile", "transparency", "duration")


@dataclass(frozen=True)
class Encoded:
    data: bytes
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class CleanImage:
    image: Encoded
    thumbnail: Encoded | None


def open_image(source, max_pixels):
    """Open and fully decode an image (a path, a file object or a Pillow image's bytes),
    refusing decompression bombs and anything Pillow cannot read."""
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own check, at open, agrees with ours
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(source)
            width, height = image.size
            if width * height > max_pixels:
                raise Rejected(f"{width}x{height} pixels is over the limit of {max_pixels}")
            frames = getattr(image, "n_frames", 1)
            if width * height * frames > 4 * max_pixels:
                raise Rejected(f"{frames} frames of {width}x{height} pixels is over the limit")
            image.load()
            return image
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Rejected(f"decompression bomb: {exc}") from None
        except (UnidentifiedImageError, SyntaxError, ValueError, EOFError, struct.error, OSError) as exc:
            # OSError: Pillow's "image file is truncated", "broken data stream"...
            raise Rejected(f"not a readable image: {exc}") from None


def _pixels_of(frame):
    """A copy of ``frame`` with its pixels, palette and KEPT_INFO, nothing else."""
    clean = frame.copy()
    clean.info = {key: frame.info[key] for key in KEPT_INFO if key in frame.info}
    return clean


def _save_options(image, fmt):
    options = dict(SAVE_OPTIONS[fmt])
    if image.info.get("icc_profile") and fmt in ("JPEG", "PNG", "WEBP", "TIFF", "AVIF"):
        options["icc_profile"] = image.info["icc_profile"]
    if "transparency" in image.info and fmt in ("PNG", "GIF"):
        options["transparency"] = image.info["transparency"]
    return options


def _encode_frames(image, fmt):
    frames, durations = [], []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(_pixels_of(image))
        durations.append(image.info.get("duration", 100))
    image.seek(0)
    options = _save_options(frames[0], fmt)
    options.update(save_all=True, append_images=frames[1:], duration=durations, loop=image.info.get("loop", 0))
    out = io.BytesIO()
    frames[0].save(out, fmt, **options)
    return out.getvalue()


def _encode_still(image, fmt, max_side):
    clean = _pixels_of(ImageOps.exif_transpose(image))
    if max_side and max(clean.size) > max_side:
        clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if fmt == "JPEG" and clean.mode not in ("RGB", "L", "CMYK"):
        clean = clean.convert("RGB")
    out = io.BytesIO()
    clean.save(out, fmt, **_save_options(clean, fmt))
    return out.getvalue(), clean.size


def thumbnail_of(image, side=THUMBNAIL_SIDE):
    """A thumbnail of at most ``side`` px: JPEG, or PNG where there is transparency."""
    if getattr(image, "is_animated", False):
        image.seek(0)
    thumb = image.copy()
    thumb.info = {}
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    alpha = thumb.mode in ("RGBA", "LA", "PA") or (thumb.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if alpha:
        thumb.convert("RGBA").save(out, "PNG")
        return Encoded(out.getvalue(), "png", *thumb.size)
    thumb.convert("RGB").save(out, "JPEG", quality=85)
    return Encoded(out.getvalue(), "jpg", *thumb.size)


def clean(source, *, max_pixels, max_side=None, thumbnail_side=THUMBNAIL_SIDE):
    """Re-encode the image at ``source`` with its pixels only.

    ``max_side`` scales a still image down to fit (profile photos); ``thumbnail_side``
    None makes no thumbnail. Raises Rejected for anything that is not a readable image
    in a format this module writes.
    """
    image = open_image(source, max_pixels)
    try:
        fmt = OUTPUT_FORMAT.get(image.format, image.format)
        if fmt not in SAVE_OPTIONS:
            raise Rejected(f"cannot re-encode {image.format} images")
        try:
            if getattr(image, "is_animated", False) and fmt in ANIMATED_FORMATS:
                data, size = _encode_frames(image, fmt), image.size
            else:
                data, size = _encode_still(image, fmt, max_side)
        except (OSError, ValueError) as exc:
            raise Rejected(f"cannot re-encode this {image.format} image: {exc}") from None
        encoded = Encoded(data, EXTENSIONS[fmt], *size)
        thumbnail = None
        if thumbnail_side:
            with Image.open(io.BytesIO(data)) as written:
                written.load()
                thumbnail = thumbnail_of(written, thumbnail_side)
        return CleanImage(encoded, thumbnail)
    finally:
        image.close()
