"""Audio and video made safe to publish, with PyAV (FFmpeg ships inside its wheel: no
``ffmpeg`` or ``ffprobe`` program is run).

``clean`` remuxes a file into the same container, copying the packets of its audio and
video streams bit for bit and nothing else: no container or stream tags, chapters, cover
art, attachments, subtitle or data streams, and no encoder tag of our own (FFmpeg's
bitexact mode; MP3 without ID3 tags). Metadata also hides below the container, so:

- a Vorbis or Theora stream's codec extradata holds a comment header (any tag, in
  Matroska or MP4): it is rewritten without comments or vendor string;
- a camera's AVI keeps EXIF in its ``strd`` chunk, which FFmpeg reads as extradata: dropped;
- packets carry side data (Ogg metadata updates, Matroska block additions, new
  extradata): only what playback needs survives (gapless trims, palettes).

What stays is playback: the display matrix (a phone video recorded sideways still plays
upright), and each muxer's fixed words, the same in every file: MP4 handler names
("VideoHandler") and language "und", MOV's vendor "FFMP", Matroska's mandatory muxing
app "Lavf" and per-track DURATION tags, "ffmpeg" as vendor of the comment header that
FLAC and Ogg files must have, "Lavf" in an MP3's LAME header (its encoder delay keeps the
sample count). Packet payloads are not touched, so what an encoder wrote inside the
bitstream (an x264 settings SEI, MPEG-4 user data) stays as well.

Only the demuxers of the accepted containers may read a file, only from the file itself,
and no open or read may take longer than ``TIMEOUT``.
"""
import contextlib
import os

import av

from app.adapters import Rejected

MAX_PIXELS = 50_000_000
# Demuxers a file may be read with (FFmpeg names): anything else is refused before its
# demuxer runs, so no playlist, concat list or reference movie makes FFmpeg open another
# file; nor can any protocol but plain files.
INPUT_OPTIONS = {"format_whitelist": "mov,matroska,avi,wav,mp3,flac,ogg", "protocol_whitelist": "file"}
TIMEOUT = 30  # seconds to open, and for each read: garbage cannot keep a worker forever
# Muxer options on top of bitexact (no "encoder" tag, no random ids or dates).
MUXER_OPTIONS = {"mp3": {"id3v2_version": "0", "write_id3v1": "0"}}
# ISO base media brands (ftyp) and the muxer of each; any other brand is written as mp4.
ISO_BRANDS = {"qt  ": "mov", "M4A ": "ipod", "M4B ": "ipod",
              "3g2": "3g2", "3gp": "3gp", "3ge": "3gp", "3gg": "3gp"}  # 3GPP by their first three letters
# HEIF and AVIF pictures share the MP4 demuxer: they are images, for the image pipeline.
IMAGE_BRANDS = {"avif", "avis", "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"}
WEBM_CODECS = {"vp8", "vp9", "av1", "vorbis", "opus"}
KEPT_SIDE_DATA = ("skip_samples", "palette")
COMMENT_HEADERS = {"vorbis": b"\x03vorbis", "theora": b"\x81theora"}


def clean(source, target, media_type, *, max_pixels=MAX_PIXELS):
    """Remux ``source`` into ``target`` (paths) as the same container without metadata
    (see the module docstring) and return its ``media_info``. Raises ``Rejected``, leaving
    no ``target``, for anything that cannot be published so."""
    _check_media_type(media_type)
    try:
        with _open(source) as src:
            _remux(src, target)
        return _inspect(target, media_type, max_pixels)  # what is published is what is checked
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        raise


def probe(path, media_type):
    """``{"duration"}`` (and ``"width"``, ``"height"`` as displayed, for video) of the file
    at ``path``, writing nothing; ``Rejected`` as ``clean`` would."""
    _check_media_type(media_type)
    return _inspect(path, media_type, MAX_PIXELS)


def poster_frame(path):
    """The frame about 1 s in (the middle of a shorter video) as an upright RGB Pillow
    image, for the thumbnail; None when there is no decodable video frame."""
    try:
        with _open(path) as container:
            video = [s for s in _kept(container) if s.type == "video"]
            if not video:
                return None
            _check_pixels(video[0].width, video[0].height, MAX_PIXELS)
            at = min(1.0, (container.duration or 0) / av.time_base / 2)
            if at:
                container.seek(int(at * av.time_base))  # to the keyframe before ``at``
            frame = None
            for frame in container.decode(video[0]):
                if frame.time is None or frame.time >= at - 0.001:
                    break
            if frame is None:
                return None
            return frame.to_image().rotate(frame.rotation, expand=True)
    except (Rejected, av.FFmpegError):
        return None


def _open(path):
    try:
        return av.open(os.fspath(path), options=INPUT_OPTIONS, timeout=TIMEOUT, metadata_errors="ignore")
    except FileNotFoundError:
        raise
    except av.FFmpegError as exc:
        raise Rejected(f"not a readable audio or video file: {exc}") from None


def _video(container):
    """Video streams; cover art is a picture, not video."""
    return [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]


def _kept(container):
    """The streams worth publishing: video and audio, with a decoder we have."""
    if container.format.name.startswith("mov,") and container.metadata.get("major_brand") in IMAGE_BRANDS:
        raise Rejected("a HEIF or AVIF picture, not audio or video")
    streams = _video(container) + list(container.streams.audio)
    for stream in streams:
        if stream.codec_context is None:
            raise Rejected(f"no decoder for its {stream.type} stream")
    return streams


def _check_media_type(media_type):
    if media_type not in ("audio", "video"):
        raise ValueError(f"media_type must be 'audio' or 'video', not {media_type!r}")


def _check_pixels(width, height, max_pixels):
    if width * height > max_pixels:
        raise Rejected(f"{width}x{height} is over {max_pixels} pixels")


def _inspect(path, media_type, max_pixels):
    """Check what may be published (streams of the declared kind, each decodable, frames
    under the pixel limit) and measure its ``media_info``."""
    with _open(path) as container:
        streams = _kept(container)
        video = [s for s in streams if s.type == "video"]
        if media_type == "video" and not video:
            raise Rejected("no video stream")
        if media_type == "audio" and (video or not streams):
            raise Rejected("an audio file needs an audio stream and no video")
        for stream in video:  # as the container says before decoding, then as decoded
            _check_pixels(stream.width, stream.height, max_pixels)
        first = _first_frames(container, streams)
        for stream in video:
            _check_pixels(first[stream.index].width, first[stream.index].height, max_pixels)
        duration = container.duration / av.time_base if container.duration else _stream_duration(streams)
        info = {"duration": round(duration, 3)}
        if video:
            frame = first[video[0].index]
            width, height = frame.width, frame.height
            if frame.rotation % 180 == 90:
                width, height = height, width
            info.update(width=width, height=height)
        return info


def _first_frames(container, streams):
    """``{stream index: first decoded frame}``; ``Rejected`` if a stream decodes to none."""
    first = {}
    try:
        for packet in container.demux(streams):
            if packet.stream.index not in first:
                frames = packet.decode()
                if frames:
                    first[packet.stream.index] = frames[0]
                    if len(first) == len(streams):
                        return first
    except av.FFmpegError as exc:
        raise Rejected(f"cannot decode it: {exc}") from None
    missing = [s.type for s in streams if s.index not in first]
    raise Rejected(f"no decodable {' or '.join(missing)} frame")


def _stream_duration(streams):
    return float(max((s.duration * s.time_base for s in streams if s.duration), default=0))


def _muxer(container):
    """The muxer that writes the input's own format (mp4, mov, 3gp, m4a, webm, ...)."""
    name = container.format.name
    if name.startswith("mov,"):
        brand = container.metadata.get("major_brand", "qt  ")  # old QuickTime has no ftyp
        return ISO_BRANDS.get(brand, ISO_BRANDS.get(brand[:3], "mp4"))
    if name == "matroska,webm":
        codecs = {s.codec_context.codec.canonical_name for s in _kept(container)}
        return "webm" if codecs <= WEBM_CODECS else "matroska"
    return name


def _remux(src, target):
    muxer = _muxer(src)
    options = {"fflags": "+bitexact", **MUXER_OPTIONS.get(muxer, {})}
    try:
        with av.open(os.fspath(target), "w", format=muxer, options=options) as out:
            _copy_streams(src, out)
    except FileNotFoundError:
        raise
    except (av.FFmpegError, ValueError) as exc:  # ValueError: a codec this container cannot hold
        raise Rejected(f"cannot remux it: {exc}") from None


def _copy_streams(src, out):
    streams = _kept(src)
    outputs = {}
    for stream in streams:
        output = out.add_stream_from_template(stream, opaque=True)
        name, extradata = stream.codec_context.codec.canonical_name, stream.codec_context.extradata
        if name in COMMENT_HEADERS:
            output.codec_context.extradata = _without_comments(name, extradata)
        elif out.format.name == "avi" and extradata and extradata.startswith(b"AVIF"):
            output.codec_context.extradata = None  # a camera's EXIF (its strd chunk), not codec setup
        outputs[stream.index] = output
    for packet in src.demux(streams):
        if packet.dts is not None:  # not the empty packet that ends each stream
            out.mux(_bare(packet, outputs[packet.stream.index]))


def _bare(packet, stream):
    """``packet``'s payload and timing for ``stream``, with only the side data playback needs."""
    bare = av.Packet(bytes(packet))
    bare.time_base, bare.pts, bare.dts = packet.time_base, packet.pts, packet.dts
    bare.duration, bare.is_keyframe = packet.duration, packet.is_keyframe
    for kind in KEPT_SIDE_DATA:
        if packet.has_sidedata(kind):
            bare.set_sidedata(packet.get_sidedata(kind))
    bare.stream = stream
    return bare


def _without_comments(codec, extradata):
    """Vorbis/Theora extradata (three Xiph-laced headers) with an empty comment header."""
    ident, comment, setup = _xiph_headers(extradata)
    if not comment.startswith(COMMENT_HEADERS[codec]):
        raise Rejected(f"the {codec} comment header is not where it belongs")
    empty = COMMENT_HEADERS[codec] + bytes(8) + (b"\x01" if codec == "vorbis" else b"")
    return b"\x02" + _lacing(len(ident)) + _lacing(len(empty)) + ident + empty + setup


def _xiph_headers(data):
    if not data or data[0] != 2:
        raise Rejected("unreadable codec headers")
    sizes, pos = [], 1
    for _ in range(2):
        size = 0
        while pos < len(data) and data[pos] == 255:
            size, pos = size + 255, pos + 1
        if pos >= len(data):
            raise Rejected("unreadable codec headers")
        sizes.append(size + data[pos])
        pos += 1
    ident, comment = data[pos:pos + sizes[0]], data[pos + sizes[0]:pos + sizes[0] + sizes[1]]
    setup = data[pos + sizes[0] + sizes[1]:]
    if len(comment) != sizes[1] or not setup:
        raise Rejected("unreadable codec headers")
    return ident, comment, setup


def _lacing(size):
    return b"\xff" * (size // 255) + bytes([size % 255])
