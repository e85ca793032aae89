"""Media processing, run eagerly in-process (no REDIS_URL): the same task the worker runs.

An upload waits in quarantine with no URL; the job publishes a clean copy under a new name,
and only then does any response or event carry a URL."""
import io
import os
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import av
import pytest
import sqlalchemy.exc
from PIL import ExifTags, Image, PngImagePlugin

from app import jobs, realtime
from app.adapters import images
from app.config import load_config
from app.extensions import db
from app.models.base import utcnow
from app.models.comments import Comment
from app.models.posts import Post
from app.services import media_processing
from app.tasks import media as media_tasks
from tests.support.databases import SQLITE_ONLY
from tests.support.media import GPS, LOCATION, gps_jpeg, image_bytes, tagged_clip, upload


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


def files_under(app):
    return sorted(path for path in Path(app.config["MEDIA_ROOT"]).rglob("*") if path.is_file())


def run(app, kind, object_id):
    with app.app_context():
        return media_tasks.process_media.apply(args=(kind, object_id))


@pytest.fixture
def updates(monkeypatch):
    """The ``ventroom_post_updated`` data the media job announces."""
    sent = []
    monkeypatch.setattr(realtime, "post_updated", lambda data, *args, **kwargs: sent.append(data))
    return sent


@pytest.fixture
def unprocessed(monkeypatch):
    """Create posts whose processing does not start (as if the message were still queued)."""
    monkeypatch.setattr(jobs, "enqueue", lambda name, *args: None)


def test_photo_is_stripped_oriented_thumbnailed_and_published_under_a_new_name(app, client, alice, updates):
    created = create(client, alice, gps_jpeg())
    assert created["media_status"] == "processing"
    assert created["media"] is None and created["thumbnail"] is None  # nothing to fetch yet

    path, status, thumbnail, info = stored(app, created["id"])
    assert status == "ready" and path.startswith("vent_media/")
    assert info == {"width": 600, "height": 1000, "thumbnail_width": 288, "thumbnail_height": 480}
    with Image.open(file_of(app, path)) as cleaned:
        assert cleaned.format == "JPEG"
        assert not cleaned.getexif()  # no EXIF at all, so no GPS and no orientation tag
        assert "exif" not in cleaned.info
        assert cleaned.size == (600, 1000)  # rotated by the orientation tag
        rgb = cleaned.convert("RGB")
        assert rgb.getpixel((300, 100))[0] > 200 and rgb.getpixel((300, 900))[2] > 200  # red on top
    raw = Path(file_of(app, path)).read_bytes()
    assert b"Exif" not in raw and b"PhoneMaker" not in raw
    assert not any(".quarantine" in p.parts for p in files_under(app))  # the upload is gone

    detail = client.get(f"/ventroom/posts/{created['id']}/", headers=alice.headers).get_json()
    assert detail["media_status"] == "ready" and detail["media"].endswith(path)
    assert detail["thumbnail"].startswith("http://localhost/media/thumbnails/")
    response = client.get(detail["thumbnail"].replace("http://localhost", ""))
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.data)) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (288, 480) and not thumb.getexif()

    # The update event is the first thing to carry the URL.
    assert [event["id"] for event in updates] == [created["id"]]
    assert updates[0]["media_status"] == "ready" and updates[0]["media"] == detail["media"]
    assert updates[0]["thumbnail"] == detail["thumbnail"] and updates[0]["user_reaction"] is None


def test_the_quarantine_is_never_served(app, client, alice, unprocessed):
    created = create(client, alice, gps_jpeg(size=(40, 30)))
    path, status, _, _ = stored(app, created["id"])
    assert status == "processing" and path.startswith(".quarantine/")
    assert Path(file_of(app, path)).read_bytes() == gps_jpeg(size=(40, 30))
    assert client.get(f"/media/{path}").status_code == 404
    assert client.get(f"/media/{path.replace('.quarantine/', '')}").status_code == 404
    body = client.get(f"/ventroom/posts/{created['id']}/", headers=alice.headers).get_json()
    assert body["media"] is None and body["thumbnail"] is None
    feed = client.get("/ventroom/posts/", headers=alice.headers).get_json()
    assert feed["results"][0]["media"] is None


def test_comment_photo_is_processed_too(app, client, alice, bob, monkeypatch):
    sent = []
    monkeypatch.setattr(realtime, "comment_updated", lambda data, *args, **kwargs: sent.append(data))
    post_id = client.post("/ventroom/posts/", headers=alice.headers,
                          json={"title": "t", "content": "c"}).get_json()["id"]
    response = client.post(f"/ventroom/posts/{post_id}/comments/", headers=bob.headers,
                           content_type="multipart/form-data",
                           data={"text": "look", "media": upload(gps_jpeg(), "p.jpg"), "media_type": "image"})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["media_status"] == "processing" and created["media"] is None
    with app.app_context():
        comment = db.session.get(Comment, created["id"])
        path, status, thumbnail, info = comment.media, comment.media_status, comment.thumbnail, comment.media_info
    assert status == "ready" and path.startswith("comment_media/") and info["width"] == 600
    with Image.open(file_of(app, path)) as cleaned:
        assert not cleaned.getexif()
    with Image.open(file_of(app, thumbnail)) as thumb:
        assert max(thumb.size) == 480
    assert [event["id"] for event in sent] == [created["id"]]
    assert sent[0]["media"].endswith(path) and sent[0]["thumbnail"].endswith(thumbnail)
    assert sent[0]["post"] == post_id and sent[0]["user_reaction"] is None


@SQLITE_ONLY
def test_a_second_run_changes_nothing_and_a_losing_run_leaves_no_files(app, client, alice, updates):
    created = create(client, alice, gps_jpeg(size=(40, 30)))
    published = stored(app, created["id"])
    before = files_under(app)
    assert run(app, "post", created["id"]).result is None  # ready already: nothing to do
    assert stored(app, created["id"]) == published and files_under(app) == before
    # A run that raced another: it published its own copy, but the row was done meanwhile.
    with app.app_context():
        media = media_processing.media.storage()
        source = media.receive(io.BytesIO(gps_jpeg(size=(40, 30))), 10**6)[0]
        late = media_processing._publish("post", source, "image")
        assert media_processing._finish("post", created["id"], source, late) is None
    assert stored(app, created["id"]) == published
    assert set(files_under(app)) == {*before, Path(file_of(app, source))}  # its own copy is gone
    assert len(updates) == 1


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


def heic_with_exif():
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (90, 20, 200)).save(out, "HEIF", exif=exif.tobytes())
    return out.getvalue()


@SQLITE_ONLY
@pytest.mark.parametrize("data, name, extension, thumb_ext", [
    (png_with_metadata(), "x.png", ".png", ".png"),
    (animated_gif_with_comment(), "x.gif", ".gif", ".jpg"),
    (webp_with_exif(), "x.webp", ".webp", ".jpg"),
    (heic_with_exif(), "x.heic", ".jpg", ".jpg"),
], ids=["png-text-exif", "gif-animated-comment", "webp-exif", "heic-exif"])
def test_other_formats_lose_their_metadata(app, client, alice, data, name, extension, thumb_ext):
    created = create(client, alice, data, name=name)
    path, status, thumbnail, _ = stored(app, created["id"])
    assert status == "ready" and path.endswith(extension) and thumbnail.endswith(thumb_ext)
    with Image.open(file_of(app, path)) as cleaned:
        assert not cleaned.getexif()
        assert not set(cleaned.info) - set(images.KEPT_INFO) - {"loop", "background", "version", "jfif",
                                                                  "jfif_version", "jfif_unit", "jfif_density",
                                                                  "dpi", "lossless", "transparency", "blend",
                                                                  "disposal", "timestamp", "extension"}
        if name.endswith(".gif"):
            assert cleaned.n_frames == 3 and "comment" not in cleaned.info
        if name.endswith(".png"):
            assert cleaned.mode == "RGBA" and not cleaned.text
    assert b"52.52N" not in Path(file_of(app, path)).read_bytes()


@SQLITE_ONLY
def test_corrupt_image_fails_and_nothing_is_published(app, client, alice, updates):
    data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(300)  # sniffs as JPEG, decodes as nothing
    created = create(client, alice, data)
    assert stored(app, created["id"]) == (None, "failed", None, None)
    assert files_under(app) == []  # the upload was deleted, nothing was written
    assert updates[0]["media_status"] == "failed" and updates[0]["media"] is None


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
    assert stored(app, created["id"])[:2] == (None, "failed")
    assert files_under(app) == []  # given up: the upload is deleted, never served
    assert f"giving up on post {created['id']}" in caplog.text


@SQLITE_ONLY
def test_finishing_invalidates_the_feed(app, client, alice, unprocessed):
    created = create(client, alice, gps_jpeg(size=(40, 30)))
    page = client.get("/ventroom/posts/", headers=alice.headers).get_json()
    assert page["results"][0]["media_status"] == "processing"  # and now cached
    assert run(app, "post", created["id"]).result == "ready"
    page = client.get("/ventroom/posts/", headers=alice.headers).get_json()
    assert page["results"][0]["media_status"] == "ready"
    assert page["results"][0]["media"] and page["results"][0]["thumbnail"]


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
    monkeypatch.setattr(jobs, "enqueue", lambda name, *args: None)
    created = create(client, alice, gps_jpeg(size=(40, 30)))
    monkeypatch.undo()
    with app.app_context():
        db.session.get(Post, created["id"]).created_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        assert media_tasks.requeue_stuck_media.apply().result == 1
    assert stored(app, created["id"])[1] == "ready"


@SQLITE_ONLY
def test_post_deleted_while_processing_leaves_no_files(app, client, alice, monkeypatch):
    real = media_processing._publish

    def delete_meanwhile(kind, source, media_type):
        published = real(kind, source, media_type)
        with app.app_context():
            db.session.execute(sqlalchemy.delete(Post))
            db.session.commit()
        return published

    monkeypatch.setattr(media_processing, "_publish", delete_meanwhile)
    create(client, alice, gps_jpeg(size=(40, 30)))
    # What the job published names no row, so it is gone; only the upload is left, unserved.
    assert [p.parts[-2] for p in files_under(app)] == [".quarantine"]


@SQLITE_ONLY
def test_enqueue_survives_a_broker_outage(app, client, alice, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(media_tasks.process_media, "apply_async", down)
    created = create(client, alice, gps_jpeg(size=(40, 30)))  # still 201: the post committed
    assert stored(app, created["id"])[1] == "processing"
    assert f"{jobs.PROCESS_MEDIA}('post', {created['id']}) not enqueued" in caplog.text


def tags_of(data):
    with av.open(io.BytesIO(data)) as container:
        return {**container.metadata, **{key: value for stream in container.streams
                                         for key, value in stream.metadata.items()}}


@SQLITE_ONLY
@pytest.mark.parametrize("fmt, video, audio, media_type, name, extension", [
    ("mp4", "mpeg4", "aac", "video", "clip.mp4", ".mp4"),
    ("webm", "vp8", "libopus", "video", "clip.webm", ".webm"),
    ("mp3", None, "mp3", "audio", "voice.mp3", ".mp3"),
])
def test_video_and_audio_lose_their_location(app, client, alice, fmt, video, audio, media_type, name, extension):
    clip = tagged_clip(fmt, video=video, audio=audio)
    assert LOCATION.encode() in clip  # the fixture has it
    created = create(client, alice, clip, media_type=media_type, name=name)
    path, status, thumbnail, info = stored(app, created["id"])
    assert status == "ready" and path.endswith(extension), (status, path)
    cleaned = Path(file_of(app, path)).read_bytes()
    assert LOCATION.encode() not in cleaned and b"recorded at" not in cleaned
    assert not any(LOCATION in value for value in tags_of(cleaned).values())
    assert abs(info["duration"] - 1.0) < 0.15
    if media_type == "video":
        assert (info["width"], info["height"]) == (64, 48)
        with Image.open(file_of(app, thumbnail)) as thumb:
            assert thumb.size == (64, 48)
    else:
        assert thumbnail is None and set(info) == {"duration"}


@SQLITE_ONLY
def test_a_video_that_cannot_be_read_fails(app, client, alice):
    created = create(client, alice, tagged_clip("mp4", video="mpeg4")[:200], media_type="video", name="cut.mp4")
    assert stored(app, created["id"])[:2] == (None, "failed")
    assert files_under(app) == []


def test_the_sweep_is_scheduled_with_a_broker():
    schedule = load_config({"APP_ENV": "testing", "REDIS_URL": "redis://127.0.0.1:6379/9"})["CELERY"]["beat_schedule"]
    assert schedule["requeue-stuck-media"]["task"] == media_tasks.requeue_stuck_media.name
