"""Browser clients (CORS, open or restricted to some origins) and absolute URLs behind trusted proxies."""
from tests.support.databases import create_database, make_app


def test_cors_for_browser_clients(client, alice):
    preflight = client.options("/ventroom/posts/", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", "https://app.example.com")
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    response = client.get("/ventroom/posts/", headers={**alice.headers, "Origin": "https://app.example.com"})
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://app.example.com")


def test_cors_origins_can_be_restricted(tmp_path):
    app = make_app(create_database("sqlite", tmp_path), tmp_path, CORS_ALLOWED_ORIGINS=["https://ok.example"])
    ok = app.test_client().get("/healthz", headers={"Origin": "https://ok.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ok.example"
    other = app.test_client().get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_trusted_proxy_headers(tmp_path):
    """With TRUSTED_PROXIES, absolute URLs follow X-Forwarded-Proto/-Host; without, they are ignored."""
    database = create_database("sqlite", tmp_path)
    trusting = make_app(database, tmp_path, TRUSTED_PROXIES=1)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
    token = trusting.test_client().post("/auth/register", json={
        "email": "p@example.com", "password": "long-enough", "display_name": "P"}).json["access_token"]
    headers = {**forwarded, "Authorization": f"Bearer {token}"}
    for title in ("one", "two"):
        assert trusting.test_client().post("/ventroom/posts/", headers=headers,
                                           json={"title": title, "content": "c"}).status_code == 201

    page = trusting.test_client().get("/ventroom/posts/?page_size=1", headers=headers).json
    assert page["next"] == "https://api.example.com/ventroom/posts/?page_size=1&page=2"
    plain = make_app(database, tmp_path)
    page = plain.test_client().get("/ventroom/posts/?page_size=1", headers=headers).json
    assert page["next"] == "http://localhost/ventroom/posts/?page_size=1&page=2"
