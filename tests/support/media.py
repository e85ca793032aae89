"""Media to upload in tests: images made with Pillow (one with GPS and orientation in its EXIF),
real tiny MP4/MP3 files, a WAV, and an MP4 header with no movie in it."""
import io
from pathlib import Path

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
