"""app.adapters.av on files made here with PyAV, each carrying a secret in every place
its container (and codec) keeps metadata."""
import io
import math
import random
import re
import struct
from fractions import Fraction

import av
import pytest
from av.packet import PacketSideData, packet_sidedata_type_from_literal
from PIL import Image, ImageDraw

from app.adapters import Rejected
from app.adapters import av as adapter
from tests.support.media import decoded

SECRET = "GPS-SECRET-59.3293N18.0686E"
LEAKS = [SECRET.encode(), SECRET.encode("utf-16-le"), SECRET.encode("utf-16-be"), b"59.3293", b"18.0686"]
TAGS = {"title": SECRET, "comment": SECRET, "artist": SECRET, "description": SECRET,
        "location": "+59.3293+018.0686/", "com.apple.quicktime.location.ISO6709": "+59.3293+018.0686+010.000/"}
STREAM_TAGS = {"title": SECRET, "handler_name": SECRET, "comment": SECRET, "language": "swe"}
# What a cleaned file may still show: fixed words of its muxer (see the module docstring),
# the ISO brand (checked against the source) and Matroska's track durations.
TECHNICAL = {"handler_name": {"VideoHandler", "SoundHandler"}, "vendor_id": {"FFMP", "[0][0][0][0]"},
             "language": {"und"}, "encoder": {"Lavf"}, "major_brand": None, "minor_version": None,
             "compatible_brands": None, "DURATION": None}
# Byte strings that only a tag or an attachment would bring (in files this small). FFmpeg's
# MP4 muxer always writes an empty udta/meta/ilst: no item ("data" box) may be in it.
ISO_ITEMS = [b"data", b"keys", b"uuid", b"covr", b"chpl", b"\xa9xyz", b"\xa9nam", b"loci"]
NEVER = {".mp4": ISO_ITEMS, ".mov": ISO_ITEMS, ".3gp": ISO_ITEMS, ".m4a": ISO_ITEMS,
         ".mkv": [b"\x19\x41\xa4\x69", b"\x10\x43\xa7\x70"],  # Attachments, Chapters
         ".wav": [b"LIST", b"bext", b"id3 ", b"ID3"], ".avi": [b"INFO", b"strn", b"AVIF"],
         ".mp3": [b"ID3", b"APETAGEX", b"TAG"], ".ogg": [b"TITLE", b"title"], ".opus": [b"TITLE", b"title"]}
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")


def _cover_jpeg():
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, "JPEG", comment=SECRET.encode())
    return out.getvalue()


def _write(path, fmt, video=None, audio=None, rate=8000, cover=False, attachments=False,
           block_additions=False, rotate=None, options=None, tags=True):
    """A one-second file: a moving square at 10 fps and/or a 440 Hz tone, encoded
    bitexact (no "Lavc62..." of the encoders to confuse with what a muxer writes)."""
    out = av.open(str(path), "w", format=fmt, options=options or {})
    streams = []
    if tags:
        out.metadata.update(TAGS)
        out.set_chapters([{"id": 1, "start": 0, "end": 5, "time_base": Fraction(1, 10),
                           "metadata": {"title": SECRET}}])
    if cover:  # attached picture: a JPEG with the secret in a comment
        pic = out.add_stream("mjpeg", rate=1)
        pic.width, pic.height, pic.pix_fmt = 16, 16, "yuvj420p"
        pic.disposition = av.stream.Disposition.attached_pic
        pic.metadata.update({"title": SECRET, "comment": "Cover (front)"})
    if attachments:
        out.add_attachment(f"{SECRET}.ttf", "application/x-truetype-font", SECRET.encode() * 4)
        out.add_attachment("cover.jpg", "image/jpeg", _cover_jpeg())
    if video:
        stream = out.add_stream(video, rate=10, options={"flags": "+bitexact"})
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuvj420p" if video == "mjpeg" else "yuv420p"
        if rotate is not None:
            stream.set_display_rotation(rotate)
        streams.append((stream, _pictures()))
    if audio:
        layout = "stereo" if audio == "vorbis" else "mono"  # FFmpeg's own Vorbis encoder is stereo only
        stream = out.add_stream(audio, rate=rate, options={"strict": "experimental", "flags": "+bitexact"})
        stream.layout = layout
        streams.append((stream, _tone(rate, layout)))
    for stream, _ in streams:
        if tags:
            stream.metadata.update(STREAM_TAGS)
    if cover:
        packet = av.Packet(_cover_jpeg())
        packet.stream, packet.pts, packet.dts, packet.is_keyframe = pic, 0, 0, True
        out.mux(packet)
    for stream, frames in streams:
        for frame in frames:
            for packet in stream.encode(frame):
                if block_additions and stream.type == "video":
                    _add_block_addition(packet)
                out.mux(packet)
        out.mux(stream.encode(None))
    out.close()
    return path


def _add_block_addition(packet):
    """Matroska BlockAdditional data (BlockAddID 1), which its muxer writes back from side data."""
    payload = (1).to_bytes(8, "big") + SECRET.encode()
    side_data = PacketSideData(packet_sidedata_type_from_literal("matroska_block_additional"), len(payload))
    side_data.update(payload)
    packet.set_sidedata(side_data)


def _pictures(count=10):
    for i in range(count):
        image = Image.new("RGB", (64, 48), (i * 20, 80, 160))
        ImageDraw.Draw(image).rectangle([i * 4, 8, i * 4 + 12, 30], fill=(255, 255, 0))
        yield av.VideoFrame.from_image(image)


def _tone(rate, layout, chunk=1024):
    channels = 2 if layout == "stereo" else 1
    for start in range(0, rate, chunk):
        count = min(chunk, rate - start)
        frame = av.AudioFrame(format="s16", layout=layout, samples=count)
        frame.planes[0].update(b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * (start + k) / rate))) * channels
            for k in range(count)))
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        yield frame


def _vorbis_comment(*comments, header=b"\x03vorbis"):
    packed = b"".join(struct.pack("<I", len(c)) + c for c in comments)
    return header + struct.pack("<I", len(SECRET)) + SECRET.encode() + struct.pack("<I", len(comments)) + packed + b"\x01"


def _lacing(size):
    return b"\xff" * (size // 255) + bytes([size % 255])


def _copy(source, path, fmt, extradata):
    """``source`` remuxed as ``fmt``, tags and all, with its first stream's extradata
    replaced the way other tools write it: ``extradata(old) -> new``."""
    with av.open(str(source)) as src, av.open(str(path), "w", format=fmt) as out:
        out.metadata.update(src.metadata)
        copies = [out.add_stream_from_template(stream, opaque=True) for stream in src.streams]
        for stream, copy in zip(src.streams, copies):
            copy.metadata.update(stream.metadata)
        copies[0].codec_context.extradata = extradata(src.streams[0].codec_context.extradata)
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = copies[packet.stream.index]
                out.mux(packet)
    return path


def _tagged_vorbis_headers(extradata):
    """Vorbis headers as mkvmerge keeps them in CodecPrivate: the comment header holds the tags."""
    sizes = [extradata[1], extradata[2]]  # both first headers are under 255 bytes here
    ident, setup = extradata[3:3 + sizes[0]], extradata[3 + sizes[0] + sizes[1]:]
    comment = _vorbis_comment(f"TITLE={SECRET}".encode(), f"LOCATION={SECRET}".encode())
    return b"\x02" + _lacing(len(ident)) + _lacing(len(comment)) + ident + comment + setup


def _camera_exif(extradata):
    """What a camera's AVI keeps in its ``strd`` chunk, and FFmpeg then in extradata."""
    return b"AVIF" + b"Exif\x00\x00" + f"GPSLatitude={SECRET}".encode()


def _append(path, data):
    with open(path, "ab") as f:
        f.write(data)
    return path


def _ape_tag():
    item = struct.pack("<II", len(SECRET), 0) + b"Title\x00" + SECRET.encode()
    return item + b"APETAGEX" + struct.pack("<IIII", 2000, len(item) + 32, 1, 0) + bytes(8)


def _id3v2():
    text = b"\x03" + SECRET.encode()
    frame = b"TIT2" + struct.pack(">I", len(text)) + b"\x00\x00" + text  # v2.3: plain sizes in frames
    size = len(frame)
    syncsafe = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
    return b"ID3\x03\x00\x00" + syncsafe + frame


def _wav_with_id3_chunk(path):
    chunk = _id3v2()
    _append(path, b"id3 " + struct.pack("<I", len(chunk)) + chunk)
    with open(path, "r+b") as f:
        size = f.seek(0, 2)
        f.seek(4)
        f.write(struct.pack("<I", size - 8))
    return path


def _mp4_with_xmp(path):
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>{SECRET}</exif:GPSLatitude></x:xmpmeta>'
    box = XMP_UUID + xmp.encode()
    return _append(path, struct.pack(">I", len(box) + 8) + b"uuid" + box)


def _ogg_vorbis(d):
    return _write(d / "src.ogg", "ogg", audio="vorbis", rate=48000)


# name -> (media type, maker of a file with secrets everywhere that container has room)
CONTAINERS = {
    "mp4": ("video", lambda d: _mp4_with_xmp(_write(d / "src.mp4", "mp4", "mpeg4", "aac", cover=True))),
    "mov": ("video", lambda d: _write(d / "src.mov", "mov", "mpeg4", "aac")),
    "mov-apple-keys": ("video", lambda d: _write(d / "src.mov", "mov", "mpeg4", "aac",
                                                 options={"movflags": "+use_metadata_tags"})),
    "3gp": ("video", lambda d: _write(d / "src.3gp", "3gp", "mpeg4", "aac")),
    "m4a": ("audio", lambda d: _write(d / "src.m4a", "ipod", audio="aac")),
    "webm-vp8-vorbis": ("video", lambda d: _write(d / "src.webm", "webm", "vp8", "vorbis", rate=48000)),
    "webm-vp9-opus": ("video", lambda d: _write(d / "src.webm", "webm", "vp9", "libopus", rate=48000)),
    "mkv": ("video", lambda d: _write(d / "src.mkv", "matroska", "mpeg4", "flac", attachments=True,
                                      block_additions=True)),
    "mkv-vorbis-codecprivate": ("audio", lambda d: _copy(_ogg_vorbis(d), d / "src.mkv", "matroska",
                                                         _tagged_vorbis_headers)),
    "avi": ("video", lambda d: _copy(_write(d / "camera.avi", "avi", "mjpeg", "libmp3lame", rate=44100),
                                     d / "src.avi", "avi", _camera_exif)),
    "wav": ("audio", lambda d: _wav_with_id3_chunk(_write(d / "src.wav", "wav", audio="pcm_s16le",
                                                          options={"write_bext": "1"}))),
    "mp3": ("audio", lambda d: _append(_write(d / "src.mp3", "mp3", audio="libmp3lame", rate=44100, cover=True,
                                              options={"write_id3v1": "1"}), _ape_tag())),
    "flac": ("audio", lambda d: _write(d / "src.flac", "flac", audio="flac", cover=True)),
    "ogg-vorbis": ("audio", _ogg_vorbis),
    "ogg-opus": ("audio", lambda d: _write(d / "src.opus", "ogg", audio="libopus", rate=48000)),
}


def _technical(key, value):
    key = key.split(":")[-1]
    return key in TECHNICAL and (TECHNICAL[key] is None or value in TECHNICAL[key])


def _tags(path):
    with av.open(str(path)) as container:
        found = dict(container.metadata)
        for stream in container.streams:
            found.update({f"{stream.type}:{k}": v for k, v in stream.metadata.items()})
        return found, [s.type for s in container.streams], container.chapters(), container.format.name


@pytest.mark.parametrize("name", CONTAINERS)
def test_clean_leaves_no_secret_and_every_frame_and_sample(name, tmp_path):
    media_type, make = CONTAINERS[name]
    source = make(tmp_path)
    assert SECRET.encode() in source.read_bytes()
    target = tmp_path / f"clean{source.suffix}"

    info = adapter.clean(source, target, media_type)

    data = target.read_bytes()
    assert [leak for leak in LEAKS if leak in data] == []
    assert re.search(rb"Lav[fc]\d", data) is None  # no versioned encoder tag of the muxer's
    assert [word for word in NEVER.get(source.suffix, []) if word in data] == []
    tags, types, chapters, fmt = _tags(target)
    assert {key: value for key, value in tags.items() if not _technical(key, value)} == {}
    assert chapters == []
    assert set(types) <= {"video", "audio"} and types.count("video") == (media_type == "video")
    assert fmt == _tags(source)[3]
    assert tags.get("major_brand") == _tags(source)[0].get("major_brand")
    assert decoded(target) == decoded(source)
    assert info == adapter.probe(target, media_type)
    assert abs(info["duration"] - adapter.probe(source, media_type)["duration"]) < 0.05
    assert 0.9 < info["duration"] < 1.2
    assert (info.get("width"), info.get("height")) == ((64, 48) if media_type == "video" else (None, None))


@pytest.mark.parametrize("fmt, codec, suffix", [("mp4", "mpeg4", "mp4"), ("mov", "mpeg4", "mov"),
                                                ("webm", "vp9", "webm")])
def test_a_rotated_phone_video_keeps_playing_upright(fmt, codec, suffix, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")  # no ffmpeg or ffprobe program is needed
    source = _write(tmp_path / f"src.{suffix}", fmt, codec, rotate=90, tags=False)
    target = tmp_path / f"clean.{suffix}"

    assert adapter.probe(source, "video") == {"duration": 1.0, "width": 48, "height": 64}
    assert adapter.clean(source, target, "video") == {"duration": 1.0, "width": 48, "height": 64}
    with av.open(str(target)) as container:
        frame = next(container.decode(video=0))
    assert frame.rotation == 90  # the display matrix went along: players turn it upright
    poster = adapter.poster_frame(target)
    assert poster.mode == "RGB" and poster.size == (48, 64)


def test_poster_frame_is_from_the_middle_of_a_short_video(tmp_path):
    source = _write(tmp_path / "src.mp4", "mp4", "mpeg4", tags=False)
    with av.open(str(source)) as container:
        frames = [f.to_image() for f in container.decode(video=0)]
    poster = adapter.poster_frame(source)
    assert poster.size == (64, 48)
    assert poster.tobytes() == frames[5].tobytes()  # 0.5 s into a 1 s video at 10 fps


def test_poster_frame_of_audio_or_garbage_is_none(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(random.Random(1).randbytes(4096))
    assert adapter.poster_frame(_write(tmp_path / "a.wav", "wav", audio="pcm_s16le")) is None
    assert adapter.poster_frame(garbage) is None


def _picture(d, fmt):
    out = d / "picture.mp4"
    Image.new("RGB", (32, 32), (1, 2, 3)).save(out, fmt)
    return out


def _truncated(d):
    source = _write(d / "src.mp4", "mp4", "mpeg4", "aac")
    data = source.read_bytes()
    source.write_bytes(data[:len(data) // 2])
    return source


def _garbage(d):
    path = d / "garbage.webm"
    path.write_bytes(random.Random(0).randbytes(64 * 1024))
    return path


REFUSED = {
    "garbage bytes": ("video", _garbage),
    "a truncated file": ("video", _truncated),
    "a PNG passed as video": ("video", lambda d: _picture(d, "PNG")),
    "an AVIF passed as video": ("video", lambda d: _picture(d, "AVIF")),  # the MP4 demuxer reads it
    "audio declared as video": ("video", lambda d: _write(d / "a.mp3", "mp3", audio="libmp3lame", rate=44100)),
    "video without audio declared as audio": ("audio", lambda d: _write(d / "v.mp4", "mp4", "mpeg4")),
    "video with audio declared as audio": ("audio", lambda d: _write(d / "v.webm", "webm", "vp9", "libopus",
                                                                      rate=48000)),
    "an HLS playlist that would read another file": ("video", lambda d: _playlist(d)),
}


def _playlist(d):
    _write(d / "segment.ts", "mpegts", "mpeg4", tags=False)
    path = d / "list.m3u8"
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{d / 'segment.ts'}\n#EXT-X-ENDLIST\n")
    return path


@pytest.mark.parametrize("case", REFUSED)
def test_what_cannot_be_cleaned_is_rejected_and_leaves_no_target(case, tmp_path):
    media_type, make = REFUSED[case]
    source = make(tmp_path)
    target = tmp_path / "clean.out"
    with pytest.raises(Rejected):
        adapter.clean(source, target, media_type)
    assert not target.exists()
    with pytest.raises(Rejected):
        adapter.probe(source, media_type)


def test_frames_over_the_pixel_limit_are_rejected(tmp_path):
    source = _write(tmp_path / "src.mp4", "mp4", "mpeg4", tags=False)
    target = tmp_path / "clean.mp4"
    with pytest.raises(Rejected, match="pixels"):
        adapter.clean(source, target, "video", max_pixels=64 * 48 - 1)
    assert not target.exists()
    assert adapter.clean(source, target, "video", max_pixels=64 * 48)["width"] == 64
