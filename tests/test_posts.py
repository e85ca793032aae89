"""Posts: list, create (JSON and multipart), detail with views, update, delete."""
import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Comment, Post, Reaction
from tests.support.media import MP3_BYTES, MP4_BYTES, WAV_BYTES, image_bytes, upload

POST_FIELDS = {"id", "user", "title", "content", "media", "media_type", "created_at", "updated_at",
               "views", "total_comment", "reaction_summary", "user_reaction"}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def create(client, user, **payload):
    payload.setdefault("title", "A title")
    payload.setdefault("content", "Some content")
    return client.post("/ventroom/posts/", json=payload, headers=user.headers)


def create_media(client, user, data, media_type, name="file", **fields):
    form = {"title": "With media", "media": upload(data, name), "media_type": media_type, **fields}
    return client.post("/ventroom/posts/", data=form, headers=user.headers, content_type="multipart/form-data")


def test_create_text_post(client, alice):
    response = create(client, alice, title="My Thoughts", content="Just needed to vent")
    assert response.status_code == 201
    body = response.json
    assert set(body) >= POST_FIELDS
    assert body["title"] == "My Thoughts" and body["content"] == "Just needed to vent"
    assert body["user"] == {"id": alice.id, "display_name": "Alice", "profile_photo": None}
    assert body["media"] is None and body["media_type"] is None
    assert body["views"] == 0 and body["total_comment"] == 0
    assert body["reaction_summary"] == [] and body["user_reaction"] is None
    assert ISO_Z.match(body["created_at"]) and body["created_at"] == body["updated_at"]


@pytest.mark.parametrize("data, media_type, ext", [
    (image_bytes("JPEG"), "image", "jpg"),
    (image_bytes("PNG"), "image", "png"),
    (image_bytes("GIF"), "image", "gif"),
    (MP4_BYTES, "video", "mp4"),
    (WAV_BYTES, "audio", "wav"),
    (MP3_BYTES, "audio", "mp3"),
])
def test_create_media_post(client, alice, app, data, media_type, ext):
    """The upload has no URL while it waits in quarantine; once clean it is published under a
    new random name, and nothing ever served the uploaded bytes."""
    response = create_media(client, alice, data, media_type, name="holiday.bin")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["media_type"] == media_type and body["content"] == ""
    assert body["media_status"] == "processing" and body["media"] is None and body["thumbnail"] is None
    ready = client.get(f"/ventroom/posts/{body['id']}/", headers=alice.headers).json
    assert ready["media_status"] == "ready", ready
    match = re.match(r"^http://localhost/media/vent_media/\d{4}/\d\d/([0-9a-f]{32})\." + ext + "$", ready["media"])
    assert match, ready["media"]
    assert "holiday" not in ready["media"]  # stored under a random name
    served = client.get(ready["media"].replace("http://localhost", ""))
    assert served.status_code == 200 and served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "public, max-age=31536000"
    # The upload is gone from the quarantine once its clean copy is published.
    stored = [path for path in Path(app.config["MEDIA_ROOT"]).rglob("*") if path.is_file()]
    assert stored and all(".quarantine" not in path.parts for path in stored), stored


def test_public_base_url(client, alice, app):
    app.config["PUBLIC_BASE_URL"] = "https://cdn.example.org"
    post = create_media(client, alice, image_bytes(), "image").json
    ready = client.get(f"/ventroom/posts/{post['id']}/", headers=alice.headers).json
    assert ready["media"].startswith("https://cdn.example.org/media/vent_media/")


@pytest.mark.parametrize("data, declared, message_part", [
    (image_bytes(), "video", "image"),
    (MP4_BYTES, "image", "video"),
    (WAV_BYTES, "image", "audio"),
    (b"#!/bin/sh\necho not media\n", "image", "valid"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "image", "valid"),
])
def test_media_is_sniffed_not_trusted(client, alice, tmp_path, data, declared, message_part):
    response = create_media(client, alice, data, declared, name="trust-me.jpg")
    assert response.status_code == 400
    assert list(response.json) == ["media"]
    assert message_part in response.json["media"][0]
    assert [p for p in (tmp_path / "media").rglob("*") if p.is_file()] == []
    with client.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Post)) == 0


def test_media_over_the_limit_is_413_and_leaves_nothing(client, alice, app, tmp_path):
    app.config["MAX_MEDIA_BYTES"] = 1000
    response = create_media(client, alice, image_bytes(size=(400, 400)) + b"\0" * 2000, "image")
    assert response.status_code == 413
    assert set(response.json) == {"detail"}
    assert [p for p in (tmp_path / "media").rglob("*") if p.is_file()] == []


def test_body_over_max_content_length_is_413_json(client, alice, app):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    response = create_media(client, alice, b"\0" * 5000, "image")
    assert response.status_code == 413
    assert response.content_type == "application/json" and "detail" in response.json


def test_rolled_back_upload_leaves_no_file(client, alice, app, tmp_path, monkeypatch):
    def fail_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", fail_commit)
    response = create_media(client, alice, image_bytes(), "image")
    assert response.status_code == 500
    assert response.json == {"detail": "Internal server error."}
    assert [p for p in (tmp_path / "media").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("payload, errors", [
    ({"content": "x"}, {"title"}),
    ({"title": "", "content": "x"}, {"title"}),
    ({"title": "t" * 201, "content": "x"}, {"title"}),
    ({"title": "t"}, {"content"}),
    ({"title": "t", "content": ""}, {"content"}),
    ({"title": "t", "content": "c" * 10001}, {"content"}),
    ({"title": "t", "content": "c", "media_type": "image"}, {"media_type"}),
    ({"title": "t", "content": "c", "media_type": "picture"}, {"media_type"}),
])
def test_create_validation(client, alice, payload, errors):
    response = client.post("/ventroom/posts/", json=payload, headers=alice.headers)
    assert response.status_code == 400
    assert set(response.json) == errors
    assert all(isinstance(v, list) and v for v in response.json.values())


def test_media_without_media_type(client, alice):
    response = client.post("/ventroom/posts/", headers=alice.headers, content_type="multipart/form-data",
                           data={"title": "t", "media": upload(image_bytes(), "a.jpg")})
    assert response.status_code == 400 and list(response.json) == ["media_type"]


def test_title_boundaries(client, alice):
    assert create(client, alice, title="t" * 200).status_code == 201
    assert create(client, alice, title="x").status_code == 201


def test_list_newest_first_with_pagination(client, alice):
    ids = [create(client, alice, title=f"post {i}").json["id"] for i in range(5)]
    response = client.get("/ventroom/posts/?page_size=2", headers=alice.headers)
    assert response.status_code == 200
    body = response.json
    assert body["count"] == 5
    assert [p["id"] for p in body["results"]] == ids[::-1][:2]
    assert body["previous"] is None
    assert body["next"] == "http://localhost/ventroom/posts/?page_size=2&page=2"
    page3 = client.get("/ventroom/posts/?page_size=2&page=3", headers=alice.headers).json
    assert [p["id"] for p in page3["results"]] == [ids[0]]
    assert page3["next"] is None
    assert page3["previous"] == "http://localhost/ventroom/posts/?page_size=2&page=2"
    assert set(page3["results"][0]) >= POST_FIELDS


def test_list_defaults_and_clamping(client, alice):
    for i in range(3):
        create(client, alice, title=f"p{i}")
    body = client.get("/ventroom/posts/", headers=alice.headers).json
    assert body["count"] == 3 and len(body["results"]) == 3 and body["next"] is None
    clamped = client.get("/ventroom/posts/?page_size=1000", headers=alice.headers)
    assert clamped.status_code == 200 and len(clamped.json["results"]) == 3


@pytest.mark.parametrize("query", ["page=abc", "page=0", "page=-1", "page=2", "page=1.5"])
def test_invalid_page(client, alice, query):
    create(client, alice)
    response = client.get(f"/ventroom/posts/?{query}", headers=alice.headers)
    assert response.status_code == 404
    assert response.json == {"detail": "Invalid page."}


@pytest.mark.parametrize("query", ["page_size=abc", "page_size=0", "page_size=-5"])
def test_invalid_page_size(client, alice, query):
    response = client.get(f"/ventroom/posts/?{query}", headers=alice.headers)
    assert response.status_code == 400
    assert list(response.json) == ["page_size"]


def test_empty_feed(client, alice):
    body = client.get("/ventroom/posts/", headers=alice.headers).json
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def test_both_slash_forms_answer_without_redirect(client, alice):
    post_id = create(client, alice).json["id"]
    for path in ("/ventroom/posts", "/ventroom/posts/", f"/ventroom/posts/{post_id}",
                 f"/ventroom/posts/{post_id}/"):
        response = client.get(path, headers=alice.headers)
        assert response.status_code == 200, path
    assert client.post("/ventroom/posts", json={"title": "t", "content": "c"},
                       headers=alice.headers).status_code == 201


def test_detail_counts_views_and_leaves_updated_at(client, alice, bob):
    created = create(client, alice).json
    first = client.get(f"/ventroom/posts/{created['id']}/", headers=bob.headers).json
    second = client.get(f"/ventroom/posts/{created['id']}/", headers=alice.headers).json
    assert first["views"] == 1 and second["views"] == 2
    assert second["updated_at"] == created["updated_at"]
    assert set(second) >= POST_FIELDS and "text" not in second


def test_detail_missing_post(client, alice):
    response = client.get("/ventroom/posts/999/", headers=alice.headers)
    assert response.status_code == 404 and response.json == {"detail": "Not found."}


def test_update_by_owner_put_and_patch(client, alice):
    created = create(client, alice, title="Old", content="old").json
    patched = client.patch(f"/ventroom/posts/{created['id']}/", json={"content": "new"}, headers=alice.headers)
    assert patched.status_code == 200
    assert patched.json["title"] == "Old" and patched.json["content"] == "new"
    assert patched.json["updated_at"] > created["updated_at"]
    put = client.put(f"/ventroom/posts/{created['id']}/", json={"title": "New title"}, headers=alice.headers)
    assert put.status_code == 200 and put.json["title"] == "New title"
    missing_title = client.put(f"/ventroom/posts/{created['id']}/", json={"content": "x"}, headers=alice.headers)
    assert missing_title.status_code == 400 and list(missing_title.json) == ["title"]


def test_update_ignores_read_only_fields_and_refuses_media(client, alice):
    created = create(client, alice).json
    response = client.patch(f"/ventroom/posts/{created['id']}/", headers=alice.headers,
                            json={"views": 1000, "id": 5, "title": "t2"})
    assert response.status_code == 200
    assert response.json["views"] == 0 and response.json["id"] == created["id"]
    media = client.patch(f"/ventroom/posts/{created['id']}/", headers=alice.headers,
                         content_type="multipart/form-data",
                         data={"media": upload(image_bytes(), "a.jpg"), "media_type": "image"})
    assert media.status_code == 400 and list(media.json) == ["media"]


def test_update_blank_content_on_text_post(client, alice):
    created = create(client, alice).json
    response = client.patch(f"/ventroom/posts/{created['id']}/", json={"content": ""}, headers=alice.headers)
    assert response.status_code == 400 and list(response.json) == ["content"]


def test_update_permissions(client, alice, bob, admin):
    post_id = create(client, alice).json["id"]
    response = client.patch(f"/ventroom/posts/{post_id}/", json={"title": "hijack"}, headers=bob.headers)
    assert response.status_code == 403 and response.json == FORBIDDEN
    response = client.patch(f"/ventroom/posts/{post_id}/", json={"title": "moderated"}, headers=admin.headers)
    assert response.status_code == 200 and response.json["title"] == "moderated"
    assert response.json["user"]["id"] == alice.id
    missing = client.patch("/ventroom/posts/999/", json={"title": "x"}, headers=alice.headers)
    assert missing.status_code == 404


def test_delete_permissions_and_cascade(client, app, alice, bob, admin):
    post_id = create(client, alice).json["id"]
    other_id = create(client, bob).json["id"]
    with app.app_context():
        comment = Comment(post_id=post_id, user_id=bob.id, text="c")
        db.session.add(comment)
        db.session.flush()
        reply = Comment(post_id=post_id, user_id=alice.id, text="r", parent_id=comment.id)
        db.session.add(reply)
        db.session.flush()
        db.session.add_all([
            Reaction(user_id=bob.id, content_type="ventpost", object_id=post_id, reaction_type="👍"),
            Reaction(user_id=alice.id, content_type="ventcomment", object_id=comment.id, reaction_type="❤️"),
            Reaction(user_id=bob.id, content_type="ventcomment", object_id=reply.id, reaction_type="😂"),
            Reaction(user_id=alice.id, content_type="ventpost", object_id=other_id, reaction_type="😢"),
        ])
        db.session.commit()

    response = client.delete(f"/ventroom/posts/{post_id}/", headers=bob.headers)
    assert response.status_code == 403 and response.json == FORBIDDEN
    response = client.delete(f"/ventroom/posts/{post_id}/", headers=alice.headers)
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/ventroom/posts/{post_id}/", headers=alice.headers).status_code == 404
    assert client.delete(f"/ventroom/posts/{post_id}/", headers=alice.headers).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 0
        remaining = db.session.execute(select(Reaction.content_type, Reaction.object_id)).all()
        assert remaining == [("ventpost", other_id)]
    assert client.delete(f"/ventroom/posts/{other_id}/", headers=admin.headers).status_code == 204


def test_delete_removes_media_files(client, alice, tmp_path):
    post = create_media(client, alice, image_bytes(), "image").json
    files = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert files
    assert client.delete(f"/ventroom/posts/{post['id']}/", headers=alice.headers).status_code == 204
    assert not any(p.exists() for p in files)


def test_reaction_summary_and_user_reaction_from_tables(client, app, alice, bob, make_user):
    post_id = create(client, alice).json["id"]
    carol = make_user("carol@example.com")
    dave = make_user("dave@example.com")
    with app.app_context():
        db.session.add_all([
            Reaction(user_id=alice.id, content_type="ventpost", object_id=post_id, reaction_type="😢"),
            Reaction(user_id=bob.id, content_type="ventpost", object_id=post_id, reaction_type="😂"),
            Reaction(user_id=carol.id, content_type="ventpost", object_id=post_id, reaction_type="😢"),
            Reaction(user_id=dave.id, content_type="ventpost", object_id=post_id, reaction_type="👍"),
            Comment(post_id=post_id, user_id=bob.id, text="one"),
        ])
        db.session.execute(Post.__table__.update().values(comment_count=1))
        db.session.commit()
    for path in ("/ventroom/posts/", f"/ventroom/posts/{post_id}/"):
        body = client.get(path, headers=bob.headers).json
        post = body["results"][0] if "results" in body else body
        # Highest count first; ties in the order 👍 ❤️ 😂 😢.
        assert post["reaction_summary"] == [{"reaction_type": "😢", "count": 2},
                                            {"reaction_type": "👍", "count": 1},
                                            {"reaction_type": "😂", "count": 1}]
        assert post["user_reaction"] == "😂"
        assert post["total_comment"] == 1
    assert client.get(f"/ventroom/posts/{post_id}/", headers=alice.headers).json["user_reaction"] == "😢"


def _seed(app, author_id, others, n_posts):
    with app.app_context():
        for i in range(n_posts):
            post = Post(user_id=author_id if i % 2 else others[0], title=f"p{i}", content="c")
            db.session.add(post)
            db.session.flush()
            db.session.add(Comment(post_id=post.id, user_id=others[0], text="c"))
            for j, user_id in enumerate([author_id, *others]):
                db.session.add(Reaction(user_id=user_id, content_type="ventpost", object_id=post.id,
                                        reaction_type=("👍", "❤️", "😂", "😢")[(i + j) % 4]))
        db.session.commit()


def test_feed_and_detail_use_a_fixed_number_of_queries(client, app, alice, bob, make_user, count_queries):
    carol = make_user("carol@example.com")
    _seed(app, alice.id, [bob.id, carol.id], 60)
    counts = {}
    for size in (5, 50):
        response, counts[size] = count_queries.uncached_feed_page(app, client, alice.headers, size)
        assert response.status_code == 200 and len(response.json["results"]) == size
    assert counts[5] == counts[50] <= 5, counts  # user, count, page (users joined), summaries, mine
    count_queries.reset()
    response = client.get("/ventroom/posts/3/", headers=alice.headers)
    assert response.status_code == 200
    detail = count_queries.count
    assert detail <= 4, count_queries.statements  # user, views update, post+user, reactions (with mine)
    print(f"\nstatements: feed page {counts}, detail {detail}")


def test_timestamps_are_utc_z(client, alice):
    body = create(client, alice).json
    parsed = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("path", ["/ventroom/posts/99999999999999999999999/", "/ventroom/posts/2147483648/",
                                  "/ventroom/posts/0/", "/ventroom/posts/2147483648/comments/"])
def test_ids_out_of_range_are_404(client, alice, path):
    response = client.get(path, headers=alice.headers)
    assert response.status_code == 404 and response.json == {"detail": "Not found."}


def test_media_that_is_not_a_file(client, alice):
    response = client.post("/ventroom/posts/", headers=alice.headers,
                           json={"title": "t", "media": "abc", "media_type": "image"})
    assert response.status_code == 400
    assert response.json == {"media": ["The submitted data was not a file. Check the encoding type on the form."]}


@pytest.mark.parametrize("path", ["/media/../instance/ventroom.sqlite3", "/media/.incoming/x",
                                  "/media/vent_media/%2e%2e/%2e%2e/etc/passwd", "/media/nothing-here.jpg"])
def test_media_outside_the_stored_files_is_404(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.json == {"detail": "Not found."}


def test_an_edit_that_changes_nothing_saves_and_announces_nothing(client, app, alice, monkeypatch):
    created = create(client, alice, title="Same", content="same").json
    sent = []
    monkeypatch.setattr("app.realtime.emit", lambda *args: sent.append(args))
    response = client.patch(f"/ventroom/posts/{created['id']}/", json={"title": "Same"}, headers=alice.headers)
    assert response.status_code == 200 and response.json["updated_at"] == created["updated_at"]
    assert sent == []


def test_a_cache_outage_after_the_commit_is_not_a_500(client, alice, monkeypatch):
    from app.extensions import cache

    def down(*args, **kwargs):
        raise ConnectionError("cache is down")

    monkeypatch.setattr(cache, "set", down)
    response = create(client, alice)
    assert response.status_code == 201
