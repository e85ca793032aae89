"""Error bodies: JSON in the DRF shape for unknown routes, wrong methods, malformed bodies and
unhandled errors, which are logged and never shown."""
import pytest


def test_unknown_route_is_json_404(client):
    response = client.get("/nope/")
    assert response.status_code == 404
    assert response.json == {"detail": "Not found."}


def test_wrong_method_is_json_405(client, alice):
    response = client.delete("/ventroom/posts/", headers=alice.headers)
    assert response.status_code == 405
    assert response.json == {"detail": 'Method "DELETE" not allowed.'}
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("body", ["{bad json", '{"title": ', "\xff"])
def test_malformed_json(client, alice, body):
    response = client.post("/ventroom/posts/", data=body, content_type="application/json", headers=alice.headers)
    assert response.status_code == 400
    assert response.json["detail"].startswith("JSON parse error - ")


def test_json_that_is_not_an_object(client, alice):
    response = client.post("/ventroom/posts/", json=[1, 2], headers=alice.headers)
    assert response.status_code == 400
    assert list(response.json) == ["non_field_errors"]


def test_unhandled_error_is_logged_not_shown(client, alice, monkeypatch, caplog):
    from app.services import posts

    def explode(*args, **kwargs):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(posts, "view_post", explode)
    response = client.get("/ventroom/posts/1/", headers=alice.headers)
    assert response.status_code == 500
    assert response.json == {"detail": "Internal server error."}
    assert b"secret internals" not in response.data and b"Traceback" not in response.data
    assert "secret internals" in caplog.text


def test_plain_http_to_websocket_path_is_json(client):
    response = client.get("/ws/")
    assert response.status_code == 400 and response.content_type == "application/json"
