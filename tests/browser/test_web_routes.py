"""The web client's routes, through the Flask test client: / and its versioned files are
the only HTML, JS and CSS the server answers; everything else stays JSON."""
import gzip
import re

import pytest

from app import create_app


@pytest.fixture
def client(tmp_path):
    app = create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      "REDIS_URL": None, "MEDIA_ROOT": str(tmp_path / "media"), "RATELIMIT_ENABLED": False})
    return app.test_client()


def asset_urls(html):
    return re.findall(r'(?:href|src)="(/app/[^"]+)"', html)


def test_the_page_is_html_no_cache_with_a_strict_policy(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    policy = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "img-src 'self' http://localhost/media/",
                      "media-src http://localhost/media/", "connect-src 'self' ws://localhost wss://localhost",
                      "object-src 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"):
        assert directive in policy
    assert "unsafe" not in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert len(asset_urls(response.get_data(as_text=True))) >= 10


def test_files_are_versioned_long_cached_and_gzipped_when_accepted(client):
    urls = asset_urls(client.get("/").get_data(as_text=True))
    assert len({url.split("/")[2] for url in urls}) == 1  # one version for all of them
    for url in urls:
        plain = client.get(url)
        packed = client.get(url, headers={"Accept-Encoding": "gzip, br"})
        assert plain.status_code == packed.status_code == 200, url
        assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.data) == plain.data
        assert packed.headers["Vary"] == "Accept-Encoding"
        assert client.get(url, headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
    refused = client.get(urls[0], headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


@pytest.mark.parametrize("path", ["/app/0123456789ab/app.js", "/app/x/index.html", "/index.html", "/app.js",
                                  "/app/", "/post/1", "/ventroom/", "/nope"])
def test_anything_else_is_the_json_404(client, path):
    version = asset_urls(client.get("/").get_data(as_text=True))[0].split("/")[2]
    for candidate in (path, path.replace("/x/", f"/{version}/")):
        response = client.get(candidate)
        assert response.status_code == 404 and response.get_json() == {"detail": "Not found."}, candidate
