"""Nothing uploaded is public before it is clean.

- Profile photos are cleaned in the request: no EXIF (so no GPS), orientation applied, at
  most 1024 px, HEIC made JPEG; one that cannot be cleaned is a 400 and leaves no file.
- Post media waits in a quarantine no URL reaches (a live server whose worker is held back:
  REST, raw and Socket.IO events all say ``media: null``, and every file under MEDIA_ROOT is
  a 404 over HTTP); the worker publishes a clean copy under a new random name, which the
  update event is the first to carry.
- Every accepted audio and video container goes through the real pipeline (a live web
  process and Celery worker on Redis and PostgreSQL for some, embedded for the rest) and
  ends ``ready`` with the same frames and samples, its duration, and none of its tags; one
  that cannot be cleaned ends ``failed`` and is never served.
"""
import io
import os
import re
import time
from pathlib import Path

import pytest
import requests
from PIL import ExifTags, Image

from app.extensions import db
from app.models.posts import Post
from tests.support.clients import bearer
from tests.support.databases import SQLITE_ONLY
from tests.support.media import LOCATION, MP4_HEADER_ONLY, decoded, gps_jpeg, tagged_clip, tags, upload
from tests.support.processes import CeleryWorker

NEW_NAME = re.compile(r"/media/vent_media/\d{4}/\d{2}/[0-9a-f]{32}\.(jpg|mp4|webm|mp3)$")
# What a remuxed file may still name (its muxer's fixed words; see app/adapters/av.py).
TECHNICAL = {"major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id", "language",
             "encoder", "DURATION"}


def files_under(root):
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def assert_no_exif(data):
    with Image.open(io.BytesIO(data)) as image:
        assert not image.getexif() and "exif" not in image.info
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif" not in data and b"PhoneMaker" not in data


# 1. Profile photos ------------------------------------------------------------------------

@SQLITE_ONLY
def test_a_gps_tagged_profile_photo_is_stored_and_served_clean_upright_and_small(app, client, alice):
    response = client.patch("/auth/me", headers=alice.headers, content_type="multipart/form-data",
                            data={"profile_photo": upload(gps_jpeg(size=(3000, 1800), orientation=6), "me.jpg")})
    assert response.status_code == 200, response.json
    url = response.json["profile_photo"]
    assert re.search(r"/media/profile_photos/\d{4}/\d{2}/[0-9a-f]{32}\.jpg$", url)
    served = client.get(url.replace("http://localhost", ""))
    assert served.status_code == 200
    assert_no_exif(served.data)
    with Image.open(io.BytesIO(served.data)) as photo:
        assert photo.format == "JPEG" and photo.size == (614, 1024)  # turned upright, then scaled
        rgb = photo.convert("RGB")
        assert rgb.getpixel((300, 100))[0] > 200 and rgb.getpixel((300, 900))[2] > 200  # red on top
    stored = files_under(app.config["MEDIA_ROOT"])
    assert [p.name for p in stored] == [url.rsplit("/", 1)[1]]  # the upload itself is gone
    assert_no_exif(stored[0].read_bytes())


@SQLITE_ONLY
def test_a_heic_profile_photo_with_exif_comes_out_jpeg_without_it(client, alice):
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    exif[ExifTags.Base.Make] = "PhoneMaker"
    heic = io.BytesIO()
    Image.new("RGB", (1600, 1200), (90, 20, 200)).save(heic, "HEIF", exif=exif.tobytes())
    assert Image.open(io.BytesIO(heic.getvalue())).getexif()  # the fixture has it
    response = client.patch("/auth/me", headers=alice.headers, content_type="multipart/form-data",
                            data={"profile_photo": upload(heic.getvalue(), "IMG_0001.HEIC")})
    assert response.status_code == 200, response.json
    assert response.json["profile_photo"].endswith(".jpg")
    served = client.get(response.json["profile_photo"].replace("http://localhost", "")).data
    assert_no_exif(served)
    with Image.open(io.BytesIO(served)) as photo:
        assert photo.format == "JPEG" and photo.size == (1024, 768)


@SQLITE_ONLY
def test_an_image_that_cannot_be_cleaned_is_a_400_and_nothing_is_stored(app, client, alice):
    corrupt = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(2000)  # sniffs as a JPEG, decodes as nothing
    response = client.patch("/auth/me", headers=alice.headers, content_type="multipart/form-data",
                            data={"profile_photo": upload(corrupt, "me.jpg"), "display_name": "Changed"})
    assert response.status_code == 400 and list(response.json) == ["profile_photo"]
    assert files_under(app.config["MEDIA_ROOT"]) == []
    me = client.get("/auth/me", headers=alice.headers).json
    assert me["profile_photo"] is None and me["display_name"] == "Alice"  # nothing of the request applied


# 2. Quarantine, on a live server whose worker is held back --------------------------------

@pytest.fixture(scope="module")
def deployed(module_stack):
    """A web process on PostgreSQL and Redis with no worker yet: uploads wait in the queue."""
    return module_stack(database="postgres", redis=True)


def on(server, url):
    return f"{server.url}/media/{url.split('/media/', 1)[1]}"


def worker_for(deployed):
    if not deployed.workers:
        deployed.workers.append(CeleryWorker(deployed.env, deployed.server.log_path.parent / "worker.log"))
    return deployed.workers[0]


@pytest.mark.redis
@pytest.mark.postgres
def test_no_url_ever_serves_an_uncleaned_upload(deployed):
    media_root = deployed.env["MEDIA_ROOT"]
    server = deployed.server
    try:
        _, token = deployed.user("poster")
        _, watcher_token = deployed.user("watcher")
        raw = deployed.raw(watcher_token)
        raw.request("join_ventroom", reply="ventroom_joined")
        sio = deployed.sio(watcher_token)
        sio.request("join_ventroom", reply="ventroom_joined")

        original = gps_jpeg(size=(300, 200))
        created = requests.post(f"{server.url}/ventroom/posts/", headers=bearer(token), timeout=10,
                                data={"title": "where I live", "media_type": "image"},
                                files={"media": ("home.jpg", original, "image/jpeg")}).json()
        assert created["media_status"] == "processing"
        assert created["media"] is None and created["thumbnail"] is None
        for frame in (raw.expect("new_ventroom_post")["data"], sio.expect("new_ventroom_post")["data"]):
            assert (frame["id"], frame["media"], frame["thumbnail"], frame["media_type"]) == (
                created["id"], None, None, "image")
        detail = deployed.api("GET", f"/ventroom/posts/{created['id']}/", token).json()
        feed = deployed.api("GET", "/ventroom/posts/", token).json()["results"][0]
        assert (detail["media"], detail["thumbnail"], feed["media"], feed["thumbnail"]) == (None,) * 4

        # The upload is on disk, in quarantine, and no path reaches it (or anything else there).
        waiting = files_under(media_root)
        assert len(waiting) == 1 and waiting[0].parent.name == ".quarantine"
        assert waiting[0].read_bytes() == original
        name = waiting[0].name
        tries = [f"/media/{p.relative_to(media_root).as_posix()}" for p in files_under(media_root)] + [
            f"/media/.quarantine/{name}", f"/media/%2Equarantine/{name}", f"/media/%2equarantine%2F{name}",
            f"/media/x/../.quarantine/{name}", f"/media/./.quarantine/{name}", f"/media//.quarantine/{name}",
            f"/media/{name}", f"/media/vent_media/{name}", "/media/.quarantine/", "/media/.quarantine",
            f"/media/.quarantine/../.quarantine/{name}", f"/media/%2e%2e/{Path(media_root).name}/.quarantine/{name}"]
        for path in tries:
            answer = requests.get(server.url + path, timeout=10)
            assert answer.status_code == 404 and original not in answer.content, (path, answer.status_code)

        # The worker comes: a clean copy under a new name, first announced by the update event.
        worker_for(deployed)
        updated = [raw.expect("ventroom_post_updated", timeout=45)["data"],
                   sio.expect("ventroom_post_updated", timeout=10)["data"]]
        url = updated[0]["media"]
        assert updated[1]["media"] == url and updated[0]["media_status"] == "ready"
        assert NEW_NAME.search(url) and name not in url
        # (the worker has no PUBLIC_BASE_URL here: its URLs name the default port; the path is what counts)
        served = requests.get(on(server, url), timeout=10)
        assert served.status_code == 200 and "max-age=31536000" in served.headers["Cache-Control"]
        assert_no_exif(served.content)
        assert_no_exif(requests.get(on(server, updated[0]["thumbnail"]), timeout=10).content)
        assert not (Path(media_root) / ".quarantine" / name).exists()
        for path in tries:  # still nothing there
            assert requests.get(server.url + path, timeout=10).status_code == 404, path
    finally:
        deployed.close_clients()


# 3. Every accepted audio and video container, through the pipeline ------------------------

# (format, video codec, audio codec, media type, upload name)
LIVE = [("mp4", "mpeg4", "aac", "video", "clip.mp4"), ("webm", "vp8", "libopus", "video", "clip.webm"),
        ("mp3", None, "libmp3lame", "audio", "voice.mp3")]
EMBEDDED = [("mov", "mpeg4", "aac", "video", "clip.mov"), ("matroska", "mpeg4", "libopus", "video", "clip.mkv"),
            ("avi", "mpeg4", "libmp3lame", "video", "clip.avi"), ("wav", None, "pcm_s16le", "audio", "voice.wav"),
            ("flac", None, "flac", "audio", "voice.flac"), ("ogg", None, "libopus", "audio", "voice.ogg")]


def assert_clean_copy(source, cleaned, info, media_type):
    assert LOCATION.encode() not in cleaned and b"recorded at" not in cleaned
    left = {key: value for key, value in tags(cleaned).items() if key.split(":")[-1] not in TECHNICAL}
    assert left == {}, left
    assert decoded(cleaned) == decoded(source)  # the same frames and samples
    assert abs(info["duration"] - 1.0) < 0.15, info
    if media_type == "video":
        assert (info["width"], info["height"]) == (64, 48)


@pytest.mark.redis
@pytest.mark.postgres
def test_containers_through_a_real_worker(deployed):
    worker_for(deployed)
    _, token = deployed.user("recorder")
    created = {}
    for fmt, video, audio, media_type, name in LIVE:
        clip = tagged_clip(fmt, video=video, audio=audio)
        response = requests.post(f"{deployed.server.url}/ventroom/posts/", headers=bearer(token), timeout=10,
                                 data={"title": name, "media_type": media_type},
                                 files={"media": (name, clip, "application/octet-stream")})
        assert response.status_code == 201, response.text
        created[name] = (response.json()["id"], clip, media_type)
    broken = requests.post(f"{deployed.server.url}/ventroom/posts/", headers=bearer(token), timeout=10,
                           data={"title": "broken", "media_type": "video"},
                           files={"media": ("broken.mp4", MP4_HEADER_ONLY, "video/mp4")}).json()
    deadline = time.time() + 60
    while time.time() < deadline:
        states = {name: deployed.api("GET", f"/ventroom/posts/{post_id}/", token).json()
                  for name, (post_id, _, _) in created.items()}
        states["broken"] = deployed.api("GET", f"/ventroom/posts/{broken['id']}/", token).json()
        if all(body["media_status"] != "processing" for body in states.values()):
            break
        time.sleep(0.3)
    assert states["broken"]["media_status"] == "failed" and states["broken"]["media"] is None
    for name, (_, clip, media_type) in created.items():
        body = states[name]
        assert body["media_status"] == "ready" and NEW_NAME.search(body["media"]), (name, body)
        assert_clean_copy(clip, requests.get(on(deployed.server, body["media"]), timeout=10).content,
                          body["media_info"], media_type)
    assert not any(p.parent.name == ".quarantine" for p in files_under(deployed.env["MEDIA_ROOT"]))


@SQLITE_ONLY
@pytest.mark.parametrize("fmt, video, audio, media_type, name", EMBEDDED, ids=[case[4] for case in EMBEDDED])
def test_containers_in_embedded_mode(app, client, alice, fmt, video, audio, media_type, name):
    clip = tagged_clip(fmt, video=video, audio=audio)
    assert LOCATION.encode() in clip
    response = client.post("/ventroom/posts/", headers=alice.headers, content_type="multipart/form-data",
                           data={"title": name, "media": upload(clip, name), "media_type": media_type})
    assert response.status_code == 201, response.json
    assert response.json["media"] is None
    body = client.get(f"/ventroom/posts/{response.json['id']}/", headers=alice.headers).json
    assert body["media_status"] == "ready", body
    served = client.get(body["media"].replace("http://localhost", ""))
    assert served.status_code == 200
    assert_clean_copy(clip, served.data, body["media_info"], media_type)


@SQLITE_ONLY
def test_a_container_that_cannot_be_cleaned_fails_and_is_never_served(app, client, alice):
    clip = tagged_clip("matroska", video="mpeg4", audio="libopus")
    truncated = clip[:48] + bytes(range(256)) * 8  # sniffs as Matroska, holds no stream to remux
    response = client.post("/ventroom/posts/", headers=alice.headers, content_type="multipart/form-data",
                           data={"title": "t", "media": upload(truncated, "c.mkv"), "media_type": "video"})
    assert response.status_code == 201
    body = client.get(f"/ventroom/posts/{response.json['id']}/", headers=alice.headers).json
    assert (body["media_status"], body["media"], body["thumbnail"]) == ("failed", None, None)
    assert files_under(app.config["MEDIA_ROOT"]) == []
    with app.app_context():
        assert db.session.get(Post, response.json["id"]).media is None
