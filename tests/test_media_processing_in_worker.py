"""End to end as deployed: a web process and a separate ``celery worker`` on one Redis and
one PostgreSQL database process an uploaded photo (the Procfile's ``web`` and ``worker``)."""
import io
import time

import pytest
import requests
from PIL import ExifTags, Image

from tests.support.clients import bearer, register
from tests.support.media import gps_jpeg

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def wait_until_processed(url, token, timeout=45):
    deadline = time.time() + timeout
    while True:
        body = requests.get(url, headers=bearer(token), timeout=10).json()
        if body["media_status"] != "processing" or time.time() > deadline:
            return body
        time.sleep(0.2)


def assert_no_gps(data):
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        assert ExifTags.IFD.GPSInfo not in exif and not exif.get_ifd(ExifTags.IFD.GPSInfo)
        return image.format, image.size


def test_worker_processes_an_uploaded_photo(stack):
    deployed = stack(workers=1, database="postgres", redis=True)
    server, worker = deployed.server, deployed.worker
    _, token = register(server.url, "photographer@example.com")
    auth = bearer(token)
    response = requests.post(f"{server.url}/ventroom/posts/", headers=auth, timeout=10,
                             data={"title": "where was this?", "media_type": "image"},
                             files={"media": ("p.jpg", gps_jpeg(), "image/jpeg")})
    assert response.status_code == 201, response.text
    post = response.json()
    assert post["media_status"] == "processing"

    processed = wait_until_processed(f"{server.url}/ventroom/posts/{post['id']}/", token)
    assert processed["media_status"] == "ready", worker.output()
    assert processed["media_info"]["width"] == 600 and processed["media_info"]["height"] == 1000

    thumbnail = requests.get(processed["thumbnail"], timeout=10)
    assert thumbnail.status_code == 200
    fmt, size = assert_no_gps(thumbnail.content)
    assert fmt == "JPEG" and max(size) == 480

    original = requests.get(processed["media"], timeout=10)
    assert original.status_code == 200
    assert assert_no_gps(original.content) == ("JPEG", (600, 1000))
    assert b"PhoneMaker" not in original.content

    # A comment's photo goes the same way.
    response = requests.post(f"{server.url}/ventroom/posts/{post['id']}/comments/", headers=auth, timeout=10,
                             data={"text": "here", "media_type": "image"},
                             files={"media": ("c.jpg", gps_jpeg(size=(300, 200)), "image/jpeg")})
    assert response.status_code == 201, response.text
    comment = response.json()
    url = f"{server.url}/ventroom/posts/{post['id']}/comments/{comment['id']}/"
    processed = wait_until_processed(url, token)
    assert processed["media_status"] == "ready", worker.output()
    assert_no_gps(requests.get(processed["thumbnail"], timeout=10).content)

    log = worker.output()
    assert "app.tasks.media.process_media" in log and "succeeded" in log
