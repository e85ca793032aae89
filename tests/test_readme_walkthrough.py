"""The README's walkthrough against a real server process (gunicorn + eventlet, as the Procfile
runs it) on PostgreSQL."""
import pytest
import requests

from tests.support.clients import register
from tests.support.media import image_bytes

pytestmark = pytest.mark.postgres


def test_readme_walkthrough_over_http(stack):
    """Register, log in, a text post and an image post, list and fetch: as the README shows."""
    server = stack(database="postgres").server
    register(server.url, "walk@example.com", password="long-enough")
    login = requests.post(f"{server.url}/auth/login",
                          json={"email": "walk@example.com", "password": "long-enough"}, timeout=10)
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    text = requests.post(f"{server.url}/ventroom/posts/", json={"title": "Hi", "content": "there"},
                         headers=headers, timeout=10)
    assert text.status_code == 201
    image = requests.post(f"{server.url}/ventroom/posts/", headers=headers, timeout=10,
                          data={"title": "Photo", "media_type": "image"},
                          files={"media": ("p.jpg", image_bytes(), "image/jpeg")})
    assert image.status_code == 201, image.text
    assert image.json()["media_status"] == "processing" and image.json()["media"] is None
    listing = requests.get(f"{server.url}/ventroom/posts/", headers=headers, timeout=10).json()
    assert [p["title"] for p in listing["results"]] == ["Photo", "Hi"]
    detail = requests.get(f"{server.url}/ventroom/posts/{text.json()['id']}", headers=headers, timeout=10)
    assert detail.status_code == 200 and detail.json()["views"] == 1
    # Embedded mode cleans the photo as the request ends: its detail has the clean file's URL.
    photo = requests.get(f"{server.url}/ventroom/posts/{image.json()['id']}", headers=headers, timeout=10).json()
    assert photo["media_status"] == "ready" and photo["media"].startswith(f"{server.url}/media/vent_media/")
    media = requests.get(photo["media"], timeout=10)
    assert media.status_code == 200 and media.headers["Content-Type"] == "image/jpeg"
