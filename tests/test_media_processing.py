"""Media processing, run eagerly in-process (no REDIS_URL): the same task the worker runs."""
import hashlib
import io
import os
import shutil
import struct
import zlib
from datetime import timedelta

import pytest
import sqlalchemy.exc
from PIL import ExifTags, Image, PngImagePlugin

from app import realtime
from app.extensions import db
from app.models.base import utcnow
from app.models.comments import Comment
from app.models.posts import Post
from app.services import media_processing
from app.tasks import media as media_tasks
from tests.support.databases import SQLITE_ONLY
from tests.support.media import GPS, MP4_HEADER_ONLY, WAV_BYTES, gps_jpeg, image_bytes, upload


def create(client, user, data, media_type="image", name="photo.jpg"):
    response = client.post("/ventroom/posts/", headers=user.headers, content_type="multipart/form-data",
                           data={"title": "t", "media": upload(data, name), "media_type": media_type})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stored(app, post_id):
    with app.app_context():
        post = db.session.get(Post, post_id)
        return post.media, post.media_status, post.thumbnail, post.media_info


def file_of(app, relative):
    return os.path.join(app.config["MEDIA_ROOT"], relative)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(app, kind, object_id):
    with app.app_context():
        return media_tasks.process_media.apply(args=(kind, object_id))


@pytest.fixture
def events(monkeypatch):
    sent = []
    monkeypatch.setattr(realtime, "post_updated", lambda data: sent.append(data))
    return sent


@pytest.fixture
def unprocessed(monkeypatch):
    """Create posts whose processing does not start (as if the message were still queued)."""
    monkeypatch.setattr(media_tasks, "enqueue", lambda kind, object_id: None)


def test_photo_is_stripped_oriented_and_thumbnailed(app, client, alice, events):
    created = create(client, alice, gps_jpeg())
    assert created["media_status"] == "processing"  # what the create answers, in both modes

    path, status, thumbnail, info = stored(app, created["id"])
    assert status == "ready"
    assert info == {"width": 600, "height": 1000, "thumbnail_width": 288, "thumbnail_height": 480}
    with Image.open(file_of(app, path)) as original:
        assert original.format == "JPEG"
        assert not original.getexif()  # no EXIF at all, so no GPS and no orientation tag
        assert "exif" not in original.info
        assert original.size == (600, 1000)  # rotated by the orientation tag
        rgb = original.convert("RGB")
        assert rgb.getpixel((300, 100))[0] > 200 and rgb.getpixel((300, 900))[2] > 200  # red on top
    with open(file_of(app, path), "rb") as f:
        raw = f.read()
    assert b"Exif" not in raw and b"PhoneMaker" not in raw

    detail = client.get(f"/ventroom/posts/{created['id']}/", headers=alice.headers).get_json()
    assert detail["media_status"] == "ready"
    assert detail["media"] == created["media"]  # the URL did not change
    assert detail["thumbnail"].startswith("http://localhost/media/thumbnails/")
    response = client.get(detail["thumbnail"].replace("http://localhost", ""))
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.data)) as thumb:
        thumb.verify()
    with Image.open(io.BytesIO(response.data)) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= 480 and thumb.size == (288, 480)
        assert not thumb.getexif()

    assert [event["id"] for event in events] == [created["id"]]
    assert events[0]["media_status"] == "ready" and events[0]["thumbnail"] == detail["thumbnail"]
    assert events[0]["user_reaction"] is None


def test_comment_photo_is_processed_too(app, client, alice, bob, monkeypatch):
    sent = []
    monkeypatch.setattr(realtime, "comment_updated", lambda data: sent.append(data))
    post_id = client.post("/ventroom/posts/", headers=alice.headers,
                          json={"title": "t", "content": "c"}).get_json()["id"]
    response = client.post(f"/ventroom/posts/{post_id}/comments/", headers=bob.headers,
                           content_type="multipart/form-data",
                           data={"text": "look", "media": upload(gps_jpeg(), "p.jpg"), "media_type": "image"})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["media_status"] == "processing"
    with app.app_context():
        comment = db.session.get(Comment, created["id"])
        path, status, thumbnail, info = comment.media, comment.media_status, comment.thumbnail, comment.media_info
    assert status == "ready" and info["width"] == 600 and info["height"] == 1000
    with Image.open(file_of(app, path)) as original:
        assert not original.getexif()
    with Image.open(file_of(app, thumbnail)) as thumb:
        assert max(thumb.size) == 480
    assert [event["id"] for event in sent] == [created["id"]]
    assert sent[0]["media_status"] == "ready" and sent[0]["thumbnail"].endswith(thumbnail)
    assert sent[0]["post"] == post_id and sent[0]["user_reaction"] is None


@SQLITE_ONLY
def test_running_twice_changes_nothing(app, client, alice, events):
    created = create(client, alice, gps_jpeg())
    path, _, thumbnail, info = stored(app, created["id"])
    before = sha(file_of(app, path)), sha(file_of(app, thumbnail))

    assert run(app, "post", created["id"]).result is None  # ready already: nothing to do
    # As if the first run had crashed after writing its files but before its commit:
    with app.app_context():
        db.session.get(Post, created["id"]).media_status = "processing"
        db.session.commit()
    assert run(app, "post", created["id"]).result == "ready"

    assert (sha(file_of(app, path)), sha(file_of(app, thumbnail))) == before  # no second encode
    assert stored(app, created["id"])[2:] == (thumbnail, info)
    assert len(events) == 2


@SQLITE_ONLY
def test_clean_jpeg_is_kept_byte_for_byte(app, client, alice):
    data = image_bytes(size=(200, 100))
    created = create(client, alice, data)
    path, status, thumbnail, info = stored(app, created["id"])
    assert status == "ready" and info["width"] == 200
    with open(file_of(app, path), "rb") as f:
        assert f.read() == data
    assert thumbnail.endswith(".jpg")


def png_with_metadata():
    image = Image.new("RGBA", (640, 640), (0, 128, 0, 128))
    text = PngImagePlugin.PngInfo()
    text.add_text("Location", "52.52N 13.40E")
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=text, exif=exif.tobytes())
    return out.getvalue()


def animated_gif_with_comment():
    frames = [Image.new("RGB", (50, 40), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0,
                   comment=b"taken at 52.52N 13.40E")
    return out.getvalue()


def webp_with_exif():
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (10, 20, 30)).save(out, "WEBP", exif=exif.tobytes())
    return out.getvalue()


@SQLITE_ONLY
@pytest.mark.parametrize("data, name, thumb_ext", [
    (png_with_metadata(), "x.png", ".png"),
    (animated_gif_with_comment(), "x.gif", ".jpg"),
    (webp_with_exif(), "x.webp", ".jpg"),
], ids=["png-text-exif", "gif-animated-comment", "webp-exif"])
def test_other_formats_lose_metadata_and_reach_a_fixed_point(app, client, alice, data, name, thumb_ext):
    created = create(client, alice, data, name=name)
    path, status, thumbnail, _ = stored(app, created["id"])
    assert status == "ready" and thumbnail.endswith(thumb_ext)
    with Image.open(file_of(app, path)) as cleaned:
        assert not cleaned.getexif()
        assert not media_processing.has_metadata(cleaned)
        if name.endswith(".gif"):
            assert cleaned.n_frames == 3 and "comment" not in cleaned.info
        if name.endswith(".png"):
            assert cleaned.mode == "RGBA" and not cleaned.text
    with open(file_of(app, path), "rb") as f:
        assert b"52.52N" not in f.read()
    before = sha(file_of(app, path))
    with app.app_context():
        db.session.get(Post, created["id"]).media_status = "processing"
        db.session.commit()
    assert run(app, "post", created["id"]).result == "ready"
    assert sha(file_of(app, path)) == before


@SQLITE_ONLY
def test_corrupt_image_fails_and_is_not_served(app, client, alice, events):
    data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(300)  # sniffs as JPEG, decodes as nothing
    created = create(client, alice, data)
    media, status, thumbnail, info = stored(app, created["id"])
    assert (media, status, thumbnail, info) == (None, "failed", None, None)
    assert client.get(created["media"].replace("http://localhost", "")).status_code == 404
    assert events[0]["media_status"] == "failed" and events[0]["media"] is None


def png_header_only(width, height):
    """A PNG that declares ``width`` x ``height`` pixels: a bomb if anything decoded it."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


@SQLITE_ONLY
def test_decompression_bomb_is_refused(app, client, alice):
    created = create(client, alice, png_header_only(100_000, 100_000), name="bomb.png")
    assert stored(app, created["id"])[:2] == (None, "failed")


@SQLITE_ONLY
def test_pixel_limit_is_configurable(app, client, alice):
    app.config["MEDIA_MAX_IMAGE_PIXELS"] = 100 * 100
    created = create(client, alice, image_bytes(size=(101, 100)))
    assert stored(app, created["id"])[1] == "failed"
    created = create(client, alice, image_bytes(size=(100, 100)))
    assert stored(app, created["id"])[1] == "ready"


@SQLITE_ONLY
def test_transient_error_is_retried(app, client, alice, monkeypatch):
    real = media_processing.process
    calls = []

    def flaky(kind, object_id):
        calls.append(object_id)
        if len(calls) == 1:
            raise sqlalchemy.exc.OperationalError("UPDATE posts", {}, Exception("server closed the connection"))
        return real(kind, object_id)

    monkeypatch.setattr(media_processing, "process", flaky)
    created = create(client, alice, gps_jpeg(size=(40, 30)))
    assert len(calls) == 2
    assert stored(app, created["id"])[1] == "ready"


@SQLITE_ONLY
def test_persistent_error_gives_up_as_failed(app, client, alice, monkeypatch, caplog):
    def broken(kind, object_id):
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(media_processing, "process", broken)
    created = create(client, alice, gps_jpeg(size=(40, 30)))
    media, status, _, _ = stored(app, created["id"])
    assert (media, status) == (None, "failed")
    assert f"giving up on post {created['id']}" in caplog.text


@SQLITE_ONLY
def test_finishing_invalidates_the_feed(app, client, alice, unprocessed):
    created = create(client, alice, gps_jpeg(size=(40, 30)))
    page = client.get("/ventroom/posts/", headers=alice.headers).get_json()
    assert page["results"][0]["media_status"] == "processing"  # and now cached
    assert run(app, "post", created["id"]).result == "ready"
    page = client.get("/ventroom/posts/", headers=alice.headers).get_json()
    assert page["results"][0]["media_status"] == "ready"
    assert page["results"][0]["thumbnail"]


@SQLITE_ONLY
def test_only_old_uploads_count_as_stuck(app, client, alice, unprocessed):
    old = create(client, alice, gps_jpeg(size=(40, 30)))
    create(client, alice, gps_jpeg(size=(40, 30)))
    with app.app_context():
        db.session.get(Post, old["id"]).created_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    with app.app_context():
        assert media_processing.stuck() == [("post", old["id"])]


@SQLITE_ONLY
def test_sweep_task_enqueues_stuck_uploads(app, client, alice, monkeypatch):
    monkeypatch.setattr(media_tasks, "enqueue", lambda kind, object_id: None)
    created = create(client, alice, gps_jpeg(size=(40, 30)))
    monkeypatch.undo()
    with app.app_context():
        db.session.get(Post, created["id"]).created_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        assert media_tasks.requeue_stuck_media.apply().result == 1
    assert stored(app, created["id"])[1] == "ready"


@SQLITE_ONLY
def test_post_deleted_while_processing_leaves_no_files(app, client, alice, monkeypatch):
    real = media_processing._process_file

    def delete_meanwhile(path, media_type):
        result = real(path, media_type)
        with app.app_context():
            db.session.execute(sqlalchemy.delete(Post))
            db.session.commit()
        return result

    monkeypatch.setattr(media_processing, "_process_file", delete_meanwhile)
    create(client, alice, gps_jpeg(size=(40, 30)))
    root = app.config["MEDIA_ROOT"]
    left = [name for _, _, names in os.walk(root) for name in names if not name.startswith(".")]
    assert left == []


@SQLITE_ONLY
def test_enqueue_survives_a_broker_outage(app, client, alice, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(media_tasks.process_media, "delay", down)
    created = create(client, alice, gps_jpeg(size=(40, 30)))  # still 201: the post committed
    assert stored(app, created["id"])[1] == "processing"
    assert f"could not enqueue process_media for post {created['id']}" in caplog.text


def mp4_with_location(duration_ms=5000, width=640, height=360):
    def box(kind, body):
        return struct.pack(">I", 8 + len(body)) + kind + body
    mvhd = box(b"mvhd", b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, 1000, duration_ms) + b"\x00" * 80)
    tkhd = box(b"tkhd", b"\x00\x00\x00\x00" + b"\x00" * 72 + struct.pack(">II", width << 16, height << 16))
    udta = box(b"udta", box(b"\xa9xyz", b"\x00\x12\x15\xc7+52.5200+013.4050/"))
    moov = box(b"moov", mvhd + box(b"trak", tkhd) + udta)
    return box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + moov + box(b"mdat", b"\x00" * 32)


@pytest.fixture
def without_media_tools(monkeypatch):
    """As on a machine without ffprobe and ffmpeg, whether or not this one has them."""
    monkeypatch.setattr(media_processing.shutil, "which", lambda name, *args, **kwargs: None)


@SQLITE_ONLY
def test_video_header_and_location_without_ffprobe(app, client, alice, without_media_tools):
    created = create(client, alice, mp4_with_location(), media_type="video", name="clip.mp4")
    path, status, thumbnail, info = stored(app, created["id"])
    assert status == "ready" and thumbnail is None  # no ffmpeg, no poster frame
    assert info == {"duration": 5.0, "width": 640, "height": 360}
    with open(file_of(app, path), "rb") as f:
        raw = f.read()
    assert b"+52.5200" not in raw and b"udta" not in raw and b"free" in raw
    assert len(raw) == len(mp4_with_location())  # renamed in place: every offset still holds


@SQLITE_ONLY
def test_audio_and_unknown_containers_without_ffprobe(app, client, alice, without_media_tools):
    wav = create(client, alice, WAV_BYTES, media_type="audio", name="a.wav")
    assert stored(app, wav["id"])[1:] == ("ready", None, {"duration": 0.001})
    bare = create(client, alice, MP4_HEADER_ONLY, media_type="video", name="b.mp4")  # no moov box at all
    assert stored(app, bare["id"])[1:] == ("ready", None, {})


@SQLITE_ONLY
@pytest.mark.ffmpeg
def test_ffprobe_reads_video(app, client, alice, tmp_path):
    import subprocess

    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=10:duration=2",
                    "-pix_fmt", "yuv420p", "-metadata", "location=+52.5200+013.4050/", str(clip)], check=True)
    created = create(client, alice, clip.read_bytes(), media_type="video", name="clip.mp4")
    path, status, thumbnail, info = stored(app, created["id"])
    assert status == "ready"
    assert info["width"] == 640 and info["height"] == 360 and abs(info["duration"] - 2.0) < 0.2
    with open(file_of(app, path), "rb") as f:
        assert b"+52.5200" not in f.read()
    if shutil.which("ffmpeg"):
        with Image.open(file_of(app, thumbnail)) as thumb:
            assert max(thumb.size) <= 480
    audio = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1.5",
                    "-metadata", "location=+52.5200+013.4050/", str(audio)], check=True)
    created = create(client, alice, audio.read_bytes(), media_type="audio", name="tone.m4a")
    path, status, thumbnail, info = stored(app, created["id"])
    assert status == "ready" and thumbnail is None
    assert set(info) == {"duration"} and abs(info["duration"] - 1.5) < 0.1
    with open(file_of(app, path), "rb") as f:
        assert b"+52.5200" not in f.read()


def test_the_sweep_is_scheduled_with_a_broker():
    from app.config import load_config

    schedule = load_config({"APP_ENV": "testing", "REDIS_URL": "redis://127.0.0.1:6379/9"})["CELERY"]["beat_schedule"]
    assert schedule["requeue-stuck-media"]["task"] == media_tasks.requeue_stuck_media.name
