"""Accounts: register, login, refresh, me, and the JWT failure bodies."""
import pytest
from flask_jwt_extended import create_access_token

from app.extensions import db
from app.models.users import User
from tests.support.databases import make_app
from tests.support.media import MP4_BYTES, image_bytes, upload

NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}
BAD_TOKEN = {"detail": "Given token not valid for any token type"}


def register(client, email="new@example.com", password="long-enough", display_name="New"):
    return client.post("/auth/register", json={"email": email, "password": password,
                                                "display_name": display_name})


def test_register_returns_user_and_tokens(client, app):
    response = register(client, email="Mixed@Example.COM")
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"user", "access_token", "refresh_token"}
    assert body["user"]["email"] == "mixed@example.com"
    assert body["user"]["display_name"] == "New"
    assert body["user"]["profile_photo"] is None
    assert len(body["user"]["id"]) == 36 and body["user"]["id"].count("-") == 4
    with app.app_context():
        user = db.session.get(User, body["user"]["id"])
        assert user.password_hash != "long-enough"
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json["id"] == body["user"]["id"]


def test_register_email_unique_case_insensitive(client):
    assert register(client, email="dup@example.com").status_code == 201
    response = register(client, email="DUP@example.com")
    assert response.status_code == 400
    assert response.json == {"email": ["A user with this email already exists."]}


@pytest.mark.parametrize("payload, field", [
    ({"email": "not-an-email", "password": "long-enough", "display_name": "x"}, "email"),
    ({"email": "a@example.com", "password": "short", "display_name": "x"}, "password"),
    ({"email": "a@example.com", "password": "long-enough", "display_name": "   "}, "display_name"),
    ({"password": "long-enough", "display_name": "x"}, "email"),
    ({"email": "a@example.com", "display_name": "x"}, "password"),
])
def test_register_validation(client, payload, field):
    response = client.post("/auth/register", json=payload)
    assert response.status_code == 400
    assert list(response.json) == [field]
    assert isinstance(response.json[field], list) and response.json[field]


def test_login(client, alice):
    response = client.post("/auth/login", json={"email": "ALICE@example.com", "password": alice.password})
    assert response.status_code == 200
    assert response.json["user"]["id"] == alice.id
    assert response.json["access_token"] and response.json["refresh_token"]


@pytest.mark.parametrize("email, password", [("alice@example.com", "wrong-password"),
                                             ("nobody@example.com", "whatever-123")])
def test_login_wrong_credentials(client, alice, email, password):
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401
    assert response.json == {"detail": "No active account found with the given credentials"}


def test_refresh_gives_a_working_access_token(client, alice):
    response = client.post("/auth/refresh", headers={"Authorization": f"Bearer {alice.refresh}"})
    assert response.status_code == 200
    assert set(response.json) == {"access_token"}
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {response.json['access_token']}"})
    assert me.json["id"] == alice.id


def test_refresh_rejects_an_access_token(client, alice):
    response = client.post("/auth/refresh", headers=alice.headers)
    assert response.status_code == 401
    assert response.json == BAD_TOKEN


def test_refresh_token_is_not_an_access_token(client, alice):
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {alice.refresh}"})
    assert response.status_code == 401
    assert response.json == BAD_TOKEN


@pytest.mark.parametrize("headers, body", [
    ({}, NO_CREDENTIALS),
    ({"Authorization": "Bearer not.a.token"}, BAD_TOKEN),
    ({"Authorization": "Bearer"}, BAD_TOKEN),
])
def test_auth_failures(client, headers, body):
    for path in ("/auth/me", "/ventroom/posts/"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json == body
        assert response.content_type == "application/json"


def test_token_of_deleted_user(client, app, alice):
    with app.app_context():
        db.session.delete(db.session.get(User, alice.id))
        db.session.commit()
    response = client.get("/auth/me", headers=alice.headers)
    assert response.status_code == 401
    assert response.json == BAD_TOKEN


def test_token_signed_with_another_key(client, app, alice, tmp_path):
    other = make_app("sqlite://", tmp_path, JWT_SECRET_KEY="another-secret-key-0123456789abcdef")
    with other.app_context():
        forged = create_access_token(identity=alice.id)
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json == BAD_TOKEN


def test_patch_me_display_name_and_photo(client, alice, app):
    response = client.patch("/auth/me", headers=alice.headers, json={"display_name": "Alice B"})
    assert response.status_code == 200 and response.json["display_name"] == "Alice B"

    response = client.patch("/auth/me", headers=alice.headers, content_type="multipart/form-data",
                            data={"profile_photo": upload(image_bytes("PNG"), "me.png")})
    assert response.status_code == 200, response.json
    photo = response.json["profile_photo"]
    assert photo.startswith("http://localhost/media/profile_photos/") and photo.endswith(".png")
    served = client.get(photo.replace("http://localhost", ""))
    assert served.status_code == 200 and served.content_type == "image/png"

    # The public user object in posts shows the new photo.
    post = client.post("/ventroom/posts/", headers=alice.headers, json={"title": "t", "content": "c"})
    assert post.json["user"] == {"id": alice.id, "display_name": "Alice B", "profile_photo": photo}


def test_patch_me_rejects_non_image_photo(client, alice, tmp_path):
    response = client.patch("/auth/me", headers=alice.headers, content_type="multipart/form-data",
                            data={"profile_photo": upload(MP4_BYTES, "me.jpg")})
    assert response.status_code == 400
    assert list(response.json) == ["profile_photo"]
    assert not any((tmp_path / "media").rglob("*.mp4"))


def test_patch_me_cannot_make_admin(client, alice):
    response = client.patch("/auth/me", headers=alice.headers, json={"is_admin": True})
    assert response.status_code == 200
    assert response.json["is_admin"] is False


def test_profile_change_shows_in_a_cached_feed(client, alice, bob):
    client.post("/ventroom/posts/", headers=alice.headers, json={"title": "t", "content": "c"})
    before = client.get("/ventroom/posts/", headers=bob.headers).json["results"][0]["user"]
    assert before["display_name"] == "Alice"
    client.patch("/auth/me", headers=alice.headers, json={"display_name": "Alicia"})
    after = client.get("/ventroom/posts/", headers=bob.headers).json["results"][0]["user"]
    assert after["display_name"] == "Alicia"
