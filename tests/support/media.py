"""Media to upload in tests: images made with Pillow (one with GPS and orientation in its EXIF),
real tiny MP4/MP3 files, a WAV, an MP4 header with no movie in it, and clips made with PyAV
that carry a recording location."""
import io
import math
import struct
from pathlib import Path

import av
from PIL import ExifTags, Image

DATA = Path(__file__).resolve().parents[1] / "data"
# Real, tiny media made with ffmpeg (0.2 s each): tools that parse them accept them.
MP4_BYTES = (DATA / "tiny.mp4").read_bytes()
MP3_BYTES = (DATA / "tiny.mp3").read_bytes()
# A valid 8-sample PCM WAV.
WAV_BYTES = (b"RIFF" + (36 + 8).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
             + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
             + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
             + b"data" + (8).to_bytes(4, "little") + b"\x80" * 8)
# Only an ftyp box: sniffed as MP4, but no movie inside.
MP4_HEADER_ONLY = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" + b"\x00" * 64)
GPS = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}


def upload(data, name="file.bin"):
    """A file field for the test client's multipart ``data=``."""
    return (io.BytesIO(data), name)


def image_bytes(fmt="JPEG", size=(64, 48), color=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def gps_jpeg(size=(1000, 600), orientation=6):
    """A JPEG whose left half is red and right half blue, with GPS and orientation in its EXIF."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the fixture has GPS
    return data


LOCATION = "+52.5200+013.4050/"  # where a phone says a clip was recorded


def tagged_clip(fmt, video=None, audio=None, seconds=1.0):
    """A short file made with PyAV (``fmt`` e.g. "mp4", "matroska", "mp3"): a moving square at
    10 fps and/or a 440 Hz tone, with the recording location in its container tags."""
    buffer = io.BytesIO()
    out = av.open(buffer, "w", format=fmt)
    out.metadata.update({"location": LOCATION, "title": f"recorded at {LOCATION}"})
    streams = []
    if video:
        stream = out.add_stream(video, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        streams.append(stream)
    if audio:
        stream = out.add_stream(audio, rate=8000)
        stream.layout = "mono"
        streams.append(stream)
    for stream in streams:
        if stream.type == "video":
            for index in range(int(seconds * 10)):
                image = Image.new("RGB", (64, 48), (20, 20, 20))
                image.paste((240, 200, 0), (index * 4 % 48, 10, index * 4 % 48 + 12, 22))
                out.mux(stream.encode(av.VideoFrame.from_image(image).reformat(format="yuv420p")))
        else:
            samples = int(8000 * seconds)
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            frame.planes[0].update(struct.pack(f"<{samples}h", *(
                int(12000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(samples))))
            frame.sample_rate = 8000
            for resampled in av.AudioResampler(format=stream.format.name, layout="mono", rate=8000).resample(frame):
                out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))
    out.close()
    return buffer.getvalue()


def decoded(source):
    """What a player gets from ``source`` (bytes, or a file's path): ``(checksums of every
    video frame, count of audio samples)``; cover art (an attached picture) is not played."""
    import hashlib

    with av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source)) as container:
        video = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        streams = video[:1] + list(container.streams.audio[:1])
        checksums, samples = [], 0
        for frame in container.decode(*streams):
            if isinstance(frame, av.VideoFrame):
                checksums.append(hashlib.md5(b"".join(bytes(plane) for plane in frame.planes)).hexdigest())
            else:
                samples += frame.samples
        return checksums, samples


def tags(data):
    """Every container and stream tag of ``data``."""
    with av.open(io.BytesIO(data)) as container:
        found = dict(container.metadata)
        for stream in container.streams:
            found.update({f"{stream.type}:{key}": value for key, value in stream.metadata.items()})
        return found
