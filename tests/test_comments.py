"""Comments: the tree, pagination, create (JSON and multipart), edit, delete, counts, events."""
import re
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import Comment, Post, Reaction
from app.models.base import utcnow
from app.services.comments import MAX_REPLY_DEPTH
from tests.support.media import MP4_BYTES, image_bytes, upload

COMMENT_FIELDS = ["id", "post", "user", "text", "media", "media_type", "created_at", "updated_at",
                  "parent", "replies", "reaction_summary", "user_reaction"]
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "Not found."}
TEXT_REQUIRED = {"text": ["This field is required unless a media file is sent."]}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def make_post(client, user, title="A post"):
    response = client.post("/ventroom/posts/", json={"title": title, "content": "text"}, headers=user.headers)
    assert response.status_code == 201, response.json
    return response.json["id"]


def url(post_id, comment_id=None):
    base = f"/ventroom/posts/{post_id}/comments/"
    return base if comment_id is None else f"{base}{comment_id}/"


def comment(client, user, post_id, text="A comment", parent=None):
    payload = {"text": text} if parent is None else {"text": text, "parent": parent}
    response = client.post(url(post_id), json=payload, headers=user.headers)
    assert response.status_code == 201, response.json
    return response.json


def post_detail(client, user, post_id):
    return client.get(f"/ventroom/posts/{post_id}/", headers=user.headers).json


def feed_post(client, user, post_id):
    results = client.get("/ventroom/posts/?page_size=100", headers=user.headers).json["results"]
    return next(post for post in results if post["id"] == post_id)


def count_rows(app, model, *criteria):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*criteria))


def parse(timestamp):
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def ids_of(nodes):
    return [node["id"] for node in nodes]


def walk(nodes, level=0):
    """``(node, level)`` for every node of a tree, depth first."""
    for node in nodes:
        yield node, level
        yield from walk(node["replies"], level + 1)


# Create and read

def test_create_comment(client, alice, bob):
    post_id = make_post(client, alice)
    response = client.post(url(post_id), json={"text": "  Great post!  ", "post": 999, "user": "x"},
                           headers=bob.headers)
    assert response.status_code == 201
    body = response.json
    assert list(body)[:len(COMMENT_FIELDS)] == COMMENT_FIELDS
    assert body["post"] == post_id and body["parent"] is None
    assert body["text"] == "Great post!"  # trimmed; read-only fields ignored
    assert body["user"] == {"id": bob.id, "display_name": "Bob", "profile_photo": None}
    assert body["media"] is None and body["media_type"] is None
    assert body["replies"] == [] and body["reaction_summary"] == [] and body["user_reaction"] is None
    assert ISO_Z.match(body["created_at"]) and body["created_at"] == body["updated_at"]


def test_reply_and_unslashed_paths(client, alice, bob):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id)
    response = client.post(f"/ventroom/posts/{post_id}/comments", json={"text": "re", "parent": top["id"]},
                           headers=bob.headers)
    assert response.status_code == 201 and response.json["parent"] == top["id"]
    listed = client.get(f"/ventroom/posts/{post_id}/comments", headers=bob.headers)
    assert listed.status_code == 200 and ids_of(listed.json[0]["replies"]) == [response.json["id"]]
    one = client.get(f"/ventroom/posts/{post_id}/comments/{top['id']}", headers=bob.headers)
    assert one.status_code == 200 and one.json["id"] == top["id"]


def test_tree_shape_and_newest_first_at_every_level(client, alice, bob):
    post_id = make_post(client, alice)
    a = comment(client, alice, post_id, "a")
    b = comment(client, bob, post_id, "b")
    a1 = comment(client, bob, post_id, "a1", parent=a["id"])
    a2 = comment(client, alice, post_id, "a2", parent=a["id"])
    a1x = comment(client, alice, post_id, "a1x", parent=a1["id"])
    a1y = comment(client, bob, post_id, "a1y", parent=a1["id"])
    a1x_deep = comment(client, bob, post_id, "a1x-deep", parent=a1x["id"])
    c = comment(client, bob, post_id, "c")
    b1 = comment(client, alice, post_id, "b1", parent=b["id"])
    other = make_post(client, bob, "other")
    comment(client, bob, other, "elsewhere")

    tree = client.get(url(post_id), headers=bob.headers).json
    assert isinstance(tree, list)
    assert ids_of(tree) == [c["id"], b["id"], a["id"]]
    by_id = {node["id"]: node for node, _ in walk(tree)}
    assert len(by_id) == 9  # every comment of this post once, none of the other post's
    assert ids_of(by_id[a["id"]]["replies"]) == [a2["id"], a1["id"]]
    assert ids_of(by_id[a1["id"]]["replies"]) == [a1y["id"], a1x["id"]]
    assert ids_of(by_id[a1x["id"]]["replies"]) == [a1x_deep["id"]]
    assert ids_of(by_id[b["id"]]["replies"]) == [b1["id"]]
    assert by_id[c["id"]]["replies"] == [] and by_id[a1x_deep["id"]]["replies"] == []
    for node, level in walk(tree):
        assert list(node)[:len(COMMENT_FIELDS)] == COMMENT_FIELDS
        assert node["post"] == post_id
        assert (node["parent"] is None) == (level == 0)
        for reply in node["replies"]:
            assert reply["parent"] == node["id"]
    assert by_id[a1x_deep["id"]]["user"]["display_name"] == "Bob"


def test_order_is_by_creation_time_not_id(client, app, alice):
    post_id = make_post(client, alice)
    now = utcnow()
    with app.app_context():
        older = Comment(post_id=post_id, user_id=alice.id, text="later id, older", created_at=now - timedelta(hours=1),
                        updated_at=now)
        newer = Comment(post_id=post_id, user_id=alice.id, text="earlier id, newer", created_at=now, updated_at=now)
        db.session.add(newer)
        db.session.flush()
        db.session.add(older)
        db.session.commit()
        newer_id, older_id = newer.id, older.id
    assert newer_id < older_id
    assert ids_of(client.get(url(post_id), headers=alice.headers).json) == [newer_id, older_id]


def test_get_one_comment_with_its_subtree(client, alice, bob):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id)
    reply = comment(client, bob, post_id, "r", parent=top["id"])
    deeper = comment(client, alice, post_id, "d", parent=reply["id"])
    body = client.get(url(post_id, reply["id"]), headers=alice.headers).json
    assert body["id"] == reply["id"] and body["parent"] == top["id"]
    assert ids_of(body["replies"]) == [deeper["id"]]


def test_pagination_over_top_level_comments(client, alice, bob):
    post_id = make_post(client, alice)
    tops = [comment(client, alice, post_id, f"top {i}") for i in range(5)]
    replies = {top["id"]: comment(client, bob, post_id, "reply", parent=top["id"]) for top in tops}
    comment(client, alice, post_id, "deep", parent=replies[tops[0]["id"]]["id"])
    newest_first = [top["id"] for top in reversed(tops)]

    page1 = client.get(url(post_id) + "?page_size=2", headers=bob.headers)
    assert page1.status_code == 200
    body = page1.json
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 5  # top-level comments only
    assert body["previous"] is None
    assert body["next"] == f"http://localhost/ventroom/posts/{post_id}/comments/?page_size=2&page=2"
    assert ids_of(body["results"]) == newest_first[:2]
    for node in body["results"]:
        assert ids_of(node["replies"]) == [replies[node["id"]]["id"]]

    page3 = client.get(url(post_id) + "?page=3&page_size=2", headers=bob.headers).json
    assert ids_of(page3["results"]) == newest_first[4:] == [tops[0]["id"]]
    assert page3["next"] is None
    assert page3["previous"] == f"http://localhost/ventroom/posts/{post_id}/comments/?page=2&page_size=2"
    deep = page3["results"][0]["replies"][0]["replies"]
    assert len(deep) == 1 and deep[0]["text"] == "deep"  # replies nested to any depth

    default = client.get(url(post_id) + "?page=1", headers=bob.headers).json
    assert default["count"] == 5 and len(default["results"]) == 5

    for query in ("?page=4&page_size=2", "?page=abc", "?page=0", "?page=-1"):
        response = client.get(url(post_id) + query, headers=bob.headers)
        assert response.status_code == 404 and response.json == {"detail": "Invalid page."}, query
    response = client.get(url(post_id) + "?page_size=abc", headers=bob.headers)
    assert response.status_code == 400 and list(response.json) == ["page_size"]


def test_empty_post_lists_nothing(client, alice):
    post_id = make_post(client, alice)
    assert client.get(url(post_id), headers=alice.headers).json == []
    page = client.get(url(post_id) + "?page=1", headers=alice.headers).json
    assert page == {"count": 0, "next": None, "previous": None, "results": []}


# Validation

LONG = "x" * 5001


CREATE_ERRORS = [
    ({}, TEXT_REQUIRED),
    ({"text": ""}, TEXT_REQUIRED),
    ({"text": "   \n "}, TEXT_REQUIRED),
    ({"text": None}, TEXT_REQUIRED),
    ({"text": LONG}, {"text": ["Ensure this field has no more than 5000 characters."]}),
    ({"text": 42}, {"text": ["Not a valid string."]}),
    ({"text": "hi", "parent": "abc"}, {"parent": ["A valid integer is required."]}),
    ({"text": "hi", "parent": True}, {"parent": ["A valid integer is required."]}),
    ({"text": "hi", "parent": 1.5}, {"parent": ["A valid integer is required."]}),
    ({"text": "hi", "parent": 99999}, {"parent": ['Invalid pk "99999" - object does not exist.']}),
    ({"text": "hi", "parent": 0}, {"parent": ['Invalid pk "0" - object does not exist.']}),
    ({"text": "hi", "parent": 10**30}, {"parent": [f'Invalid pk "{10**30}" - object does not exist.']}),
    ({"text": "hi", "media_type": "image"},
     {"media_type": ["Send a media file with media_type, or leave media_type out."]}),
    ({"text": "hi", "media": "http://example.com/x.jpg", "media_type": "image"},
     {"media": ["The submitted data was not a file. Check the encoding type on the form."]}),

]


def test_create_validation(client, app, alice):
    post_id = make_post(client, alice)
    for payload, errors in CREATE_ERRORS:
        response = client.post(url(post_id), json=payload, headers=alice.headers)
        assert (response.status_code, response.json) == (400, errors), payload
    assert count_rows(app, Comment) == 0


def test_text_length_boundary(client, alice):
    post_id = make_post(client, alice)
    assert comment(client, alice, post_id, "x" * 5000)["text"] == "x" * 5000


def test_malformed_json(client, alice):
    post_id = make_post(client, alice)
    response = client.post(url(post_id), data="{nope", content_type="application/json", headers=alice.headers)
    assert response.status_code == 400 and response.json["detail"].startswith("JSON parse error - ")


def test_parent_must_be_on_the_same_post(client, app, alice, bob):
    post_id = make_post(client, alice)
    other_id = make_post(client, bob, "other")
    foreign = comment(client, bob, other_id)
    response = client.post(url(post_id), json={"text": "hi", "parent": foreign["id"]}, headers=alice.headers)
    assert response.status_code == 400
    assert response.json == {"parent": ["The parent comment must belong to the same post."]}
    assert count_rows(app, Comment, Comment.post_id == post_id) == 0


def test_reply_depth_is_capped(client, app, alice):
    post_id = make_post(client, alice)
    with app.app_context():
        parent_id = None
        for _ in range(MAX_REPLY_DEPTH):  # levels 0 .. MAX_REPLY_DEPTH - 1
            node = Comment(post_id=post_id, user_id=alice.id, text="deep", parent_id=parent_id)
            db.session.add(node)
            db.session.flush()
            parent_id = node.id
        db.session.commit()
    deepest = comment(client, alice, post_id, "at the limit", parent=parent_id)  # level MAX_REPLY_DEPTH
    response = client.post(url(post_id), json={"text": "too deep", "parent": deepest["id"]}, headers=alice.headers)
    assert response.status_code == 400
    assert response.json == {"parent": [f"Replies can be nested at most {MAX_REPLY_DEPTH} levels deep."]}
    # The deepest thread allowed lists and deletes cleanly.
    tree = client.get(url(post_id), headers=alice.headers).json
    assert max(level for _, level in walk(tree)) == MAX_REPLY_DEPTH
    root_id = tree[0]["id"]
    assert client.delete(url(post_id, root_id), headers=alice.headers).status_code == 204
    assert count_rows(app, Comment) == 0


# Media

def test_comment_with_media_and_blank_text(client, alice, tmp_path):
    post_id = make_post(client, alice)
    data = image_bytes("PNG")
    response = client.post(url(post_id), data={"text": "", "parent": "null", "media": upload(data, "x.png"),
                                                "media_type": "image"},
                           headers=alice.headers, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["text"] == "" and body["parent"] is None
    assert body["media_type"] == "image" and body["media_status"] == "processing"
    assert body["media"] is None and body["thumbnail"] is None  # in quarantine: no URL yet
    ready = client.get(url(post_id, body["id"]), headers=alice.headers).json
    assert ready["media_status"] == "ready"
    assert re.match(r"^http://localhost/media/comment_media/\d{4}/\d\d/[0-9a-f]{32}\.png$", ready["media"])
    served = client.get(ready["media"].replace("http://localhost", ""))
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/png"
    # Blank text is fine on a comment with media, on edit too.
    edited = client.put(url(post_id, body["id"]), json={"text": ""}, headers=alice.headers)
    assert edited.status_code == 200 and edited.json["text"] == ""


def test_multipart_reply(client, alice):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id)
    response = client.post(url(post_id), data={"text": "form reply", "parent": str(top["id"])},
                           headers=alice.headers, content_type="multipart/form-data")
    assert response.status_code == 201 and response.json["parent"] == top["id"]


def test_media_is_sniffed_and_nothing_is_kept_on_failure(client, app, alice, tmp_path):
    post_id = make_post(client, alice)
    response = client.post(url(post_id), data={"media": upload(MP4_BYTES, "x.jpg"), "media_type": "image"},
                           headers=alice.headers, content_type="multipart/form-data")
    assert response.status_code == 400 and list(response.json) == ["media"]
    response = client.post(url(post_id), data={"media": upload(image_bytes(), "x.jpg")},
                           headers=alice.headers, content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json == {"media_type": ["This field is required when media is sent."]}
    # A file for a reply whose parent is missing is never stored.
    response = client.post(url(post_id), data={"media": upload(image_bytes(), "x.jpg"), "media_type": "image",
                                               "parent": "424242"},
                           headers=alice.headers, content_type="multipart/form-data")
    assert response.status_code == 400 and list(response.json) == ["parent"]
    assert not [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert count_rows(app, Comment) == 0


def test_deleting_a_comment_removes_its_files(client, alice, tmp_path):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id)
    response = client.post(url(post_id), data={"media": upload(image_bytes(), "x.jpg"), "media_type": "image",
                                               "parent": str(top["id"])},
                           headers=alice.headers, content_type="multipart/form-data")
    assert response.status_code == 201
    files = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert files
    assert client.delete(url(post_id, top["id"]), headers=alice.headers).status_code == 204
    assert not any(p.exists() for p in files)


# Update

def test_update_text(client, app, alice, bob):
    post_id = make_post(client, alice)
    top = comment(client, bob, post_id, "first")
    reply = comment(client, alice, post_id, "reply", parent=top["id"])
    response = client.put(url(post_id, top["id"]), json={"text": "edited", "parent": reply["id"]},
                          headers=bob.headers)
    assert response.status_code == 200
    body = response.json
    assert body["text"] == "edited" and body["parent"] is None  # text only: parent ignored
    assert parse(body["updated_at"]) > parse(body["created_at"]) and body["created_at"] == top["created_at"]
    assert ids_of(body["replies"]) == [reply["id"]]  # the comment as the list shows it
    unchanged = client.patch(url(post_id, top["id"]), json={}, headers=bob.headers)
    assert unchanged.status_code == 200 and unchanged.json["updated_at"] == body["updated_at"]
    same_text = client.patch(url(post_id, top["id"]), json={"text": "edited"}, headers=bob.headers)
    assert same_text.json["updated_at"] == body["updated_at"]
    listed = client.get(url(post_id), headers=alice.headers).json
    assert listed[0]["text"] == "edited"


UPDATE_ERRORS = [
    ("put", {}, {"text": ["This field is required."]}),
    ("put", {"text": ""}, {"text": ["This field may not be blank unless the comment has media."]}),
    ("patch", {"text": "  "}, {"text": ["This field may not be blank unless the comment has media."]}),
    ("patch", {"text": LONG}, {"text": ["Ensure this field has no more than 5000 characters."]}),
    ("patch", {"text": 7}, {"text": ["Not a valid string."]}),
]


def test_update_validation(client, alice):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id, "keep me")
    for method, payload, errors in UPDATE_ERRORS:
        response = getattr(client, method)(url(post_id, top["id"]), json=payload, headers=alice.headers)
        assert (response.status_code, response.json) == (400, errors), (method, payload)
    assert client.get(url(post_id), headers=alice.headers).json[0]["text"] == "keep me"


def test_media_cannot_be_changed(client, alice):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id)
    response = client.patch(url(post_id, top["id"]), data={"media": upload(image_bytes(), "x.jpg")},
                            headers=alice.headers, content_type="multipart/form-data")
    assert response.status_code == 400 and response.json == {"media": ["Media cannot be changed once posted."]}


def test_permissions(client, alice, bob, admin, make_user):
    carol = make_user("carol@example.com")
    post_id = make_post(client, alice)  # alice owns the post
    bobs = comment(client, bob, post_id, "bob's")
    for actor in (alice, carol):  # the post's author has no rights over others' comments
        response = client.patch(url(post_id, bobs["id"]), json={"text": "hijack"}, headers=actor.headers)
        assert response.status_code == 403 and response.json == FORBIDDEN
        response = client.delete(url(post_id, bobs["id"]), headers=actor.headers)
        assert response.status_code == 403 and response.json == FORBIDDEN
    assert client.get(url(post_id), headers=bob.headers).json[0]["text"] == "bob's"

    response = client.put(url(post_id, bobs["id"]), json={"text": "moderated"}, headers=admin.headers)
    assert response.status_code == 200 and response.json["text"] == "moderated"
    assert response.json["user"]["id"] == bob.id
    assert client.delete(url(post_id, bobs["id"]), headers=admin.headers).status_code == 204
    own = comment(client, bob, post_id)
    response = client.delete(url(post_id, own["id"]), headers=bob.headers)
    assert response.status_code == 204 and response.data == b""
    assert client.get(url(post_id), headers=bob.headers).json == []


def test_login_required(client, alice):
    post_id = make_post(client, alice)
    for response in (client.get(url(post_id)), client.post(url(post_id), json={"text": "x"}),
                     client.delete(url(post_id, 1))):
        assert response.status_code == 401
        assert response.json == {"detail": "Authentication credentials were not provided."}


def test_not_found(client, alice, bob):
    post_id = make_post(client, alice)
    other_id = make_post(client, bob, "other")
    mine = comment(client, alice, post_id)
    huge = 10**30
    # A comment addressed through another post is not found, for every method.
    for method in ("get", "put", "patch", "delete"):
        response = getattr(client, method)(url(other_id, mine["id"]), json={"text": "x"}, headers=alice.headers)
        assert response.status_code == 404 and response.json == NOT_FOUND, method
        response = getattr(client, method)(url(post_id, 424242), json={"text": "x"}, headers=alice.headers)
        assert response.status_code == 404 and response.json == NOT_FOUND, method
        response = getattr(client, method)(url(post_id, huge), json={"text": "x"}, headers=alice.headers)
        assert response.status_code == 404, method
    for path in (url(424242), url(huge)):
        assert client.get(path, headers=alice.headers).status_code == 404
        assert client.get(path + "?page=1", headers=alice.headers).status_code == 404
        response = client.post(path, json={"text": "x"}, headers=alice.headers)
        assert response.status_code == 404 and response.json == NOT_FOUND
    assert client.get(url(post_id), headers=alice.headers).json[0]["text"] == mine["text"]
    response = client.put(url(post_id), json={"text": "x"}, headers=alice.headers)
    assert response.status_code == 405 and response.json == {"detail": 'Method "PUT" not allowed.'}


# Counts and cascades

def test_total_comment_counts_replies_after_creates_and_deletes(client, app, alice, bob):
    post_id = make_post(client, alice)
    assert feed_post(client, bob, post_id)["total_comment"] == 0  # caches the feed page
    a = comment(client, bob, post_id, "a")
    a1 = comment(client, alice, post_id, "a1", parent=a["id"])
    comment(client, bob, post_id, "a1x", parent=a1["id"])
    comment(client, bob, post_id, "a2", parent=a["id"])
    b = comment(client, alice, post_id, "b")
    assert post_detail(client, bob, post_id)["total_comment"] == 5
    assert feed_post(client, bob, post_id)["total_comment"] == 5  # the cached page was invalidated

    assert client.delete(url(post_id, a1["id"]), headers=alice.headers).status_code == 204  # a1 and a1x
    assert post_detail(client, bob, post_id)["total_comment"] == 3
    assert feed_post(client, bob, post_id)["total_comment"] == 3
    assert client.delete(url(post_id, a["id"]), headers=bob.headers).status_code == 204  # a and a2
    assert client.delete(url(post_id, b["id"]), headers=alice.headers).status_code == 204
    assert post_detail(client, bob, post_id)["total_comment"] == 0
    with app.app_context():
        assert db.session.get(Post, post_id).comment_count == count_rows(app, Comment, Comment.post_id == post_id)


def react(app, user_id, content_type, object_id, kind="👍"):
    with app.app_context():
        db.session.add(Reaction(user_id=user_id, content_type=content_type, object_id=object_id, reaction_type=kind))
        db.session.commit()


def test_deleting_a_subtree_leaves_no_orphans(client, app, alice, bob):
    post_id = make_post(client, alice)
    keep = comment(client, alice, post_id, "keep")
    keep_reply = comment(client, bob, post_id, "keep reply", parent=keep["id"])
    doomed = comment(client, bob, post_id, "doomed")
    d1 = comment(client, alice, post_id, "d1", parent=doomed["id"])
    d2 = comment(client, bob, post_id, "d2", parent=doomed["id"])
    d1a = comment(client, bob, post_id, "d1a", parent=d1["id"])
    for node in (doomed, d1, d2, d1a):
        react(app, alice.id, "ventcomment", node["id"], "❤️")
        react(app, bob.id, "ventcomment", node["id"], "😂")
    for node in (keep, keep_reply):
        react(app, bob.id, "ventcomment", node["id"])
    react(app, bob.id, "ventpost", post_id)
    assert count_rows(app, Reaction) == 11

    assert client.delete(url(post_id, doomed["id"]), headers=bob.headers).status_code == 204
    with app.app_context():
        assert sorted(db.session.scalars(select(Comment.id))) == sorted([keep["id"], keep_reply["id"]])
        remaining = sorted(db.session.execute(select(Reaction.content_type, Reaction.object_id)).all())
    assert remaining == sorted([("ventcomment", keep["id"]), ("ventcomment", keep_reply["id"]),
                                ("ventpost", post_id)])
    assert post_detail(client, alice, post_id)["total_comment"] == 2
    assert client.delete(url(post_id, d1["id"]), headers=alice.headers).status_code == 404


def test_deleting_a_post_leaves_no_orphans(client, app, alice, bob):
    post_id = make_post(client, alice)
    other_id = make_post(client, bob, "other")
    top = comment(client, bob, post_id)
    reply = comment(client, alice, post_id, "r", parent=top["id"])
    survivor = comment(client, alice, other_id, "survivor")
    for node in (top, reply, survivor):
        react(app, alice.id, "ventcomment", node["id"])
    react(app, bob.id, "ventpost", post_id)
    react(app, alice.id, "ventpost", other_id)

    assert client.delete(f"/ventroom/posts/{post_id}/", headers=alice.headers).status_code == 204
    with app.app_context():
        assert list(db.session.scalars(select(Comment.id))) == [survivor["id"]]
        remaining = sorted(db.session.execute(select(Reaction.content_type, Reaction.object_id)).all())
    assert remaining == sorted([("ventcomment", survivor["id"]), ("ventpost", other_id)])
    assert client.get(url(post_id), headers=alice.headers).status_code == 404


# Reactions in the tree

def test_reactions_in_the_tree_per_viewer(client, app, alice, bob, admin):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id)
    reply = comment(client, bob, post_id, "r", parent=top["id"])
    react(app, alice.id, "ventcomment", reply["id"], "😢")
    react(app, bob.id, "ventcomment", reply["id"], "👍")
    react(app, admin.id, "ventcomment", reply["id"], "😢")
    react(app, bob.id, "ventcomment", top["id"], "❤️")
    react(app, bob.id, "ventpost", post_id, "😂")  # a post reaction with the same id space: not a comment's
    expected = {top["id"]: [{"reaction_type": "❤️", "count": 1}],
                reply["id"]: [{"reaction_type": "😢", "count": 2}, {"reaction_type": "👍", "count": 1}]}
    mine = {alice: {top["id"]: None, reply["id"]: "😢"},
            bob: {top["id"]: "❤️", reply["id"]: "👍"}}
    for viewer, expected_mine in mine.items():
        for body in (client.get(url(post_id), headers=viewer.headers).json,
                     client.get(url(post_id) + "?page=1", headers=viewer.headers).json["results"],
                     [client.get(url(post_id, top["id"]), headers=viewer.headers).json]):
            nodes = {node["id"]: node for node, _ in walk(body)}
            assert {key: node["reaction_summary"] for key, node in nodes.items()} == expected
            assert {key: node["user_reaction"] for key, node in nodes.items()} == expected_mine


# Statement counts

def build_tree(app, post_id, user_ids, level_sizes):
    """Comments on ``post_id``: ``level_sizes[k]`` at level k, parents spread round-robin,
    with a reaction on every third one. Returns the number created."""
    now = utcnow()
    with app.app_context():
        previous = []
        made = 0
        for level, size in enumerate(level_sizes):
            current = []
            for i in range(size):
                parent_id = previous[i % len(previous)] if previous else None
                node = Comment(post_id=post_id, parent_id=parent_id, user_id=user_ids[i % len(user_ids)],
                               text=f"L{level}#{i}", created_at=now + timedelta(seconds=made), updated_at=now)
                db.session.add(node)
                current.append(node)
                made += 1
            db.session.flush()
            previous = [node.id for node in current]
            for i, node in enumerate(current):
                if i % 3 == 0:
                    db.session.add(Reaction(user_id=user_ids[i % len(user_ids)], content_type="ventcomment",
                                            object_id=node.id, reaction_type="😂"))
        db.session.execute(Post.__table__.update().where(Post.id == post_id).values(comment_count=made))
        db.session.commit()
    return made


def test_comment_list_uses_a_fixed_number_of_statements(client, app, alice, bob, admin, count_queries):
    users = [alice.id, bob.id, admin.id]
    small = make_post(client, alice, "small")
    large = make_post(client, alice, "large")
    assert build_tree(app, small, users, [3]) == 3
    assert build_tree(app, large, users, [10, 20, 40, 80, 150]) == 300

    counts = {}
    for name, post_id, expected_nodes, expected_depth in (("small", small, 3, 0), ("large", large, 300, 4)):
        count_queries.reset()
        response = client.get(url(post_id), headers=bob.headers)
        counts[name] = count_queries.count
        assert response.status_code == 200
        levels = [level for _, level in walk(response.json)]
        assert len(levels) == expected_nodes and max(levels) == expected_depth
        assert any(node["reaction_summary"] for node, _ in walk(response.json))
    # The user, the post, the comments (authors joined), reaction summaries, the viewer's reactions.
    assert counts["small"] == counts["large"] <= 4, counts

    paged = {}
    for post_id in (small, large):
        count_queries.reset()
        response = client.get(url(post_id) + "?page_size=2", headers=bob.headers)
        paged[post_id] = count_queries.count
        assert response.status_code == 200 and len(response.json["results"]) == 2
    # The same plus one count of top-level comments.
    assert paged[small] == paged[large] <= 5, paged


# Real-time events

def test_events(client, app, alice, bob, events):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id, "mine")
    assert events[-1][0] == "new_ventroom_comment"
    assert events[-1][1] == top
    assert events[-1][2] == [f"vent_post_{post_id}", f"user_{alice.id}"]  # her own post: no 'on your post'

    events.clear()
    reply = comment(client, bob, post_id, "reply", parent=top["id"])
    assert [(kind, groups) for kind, _, groups in events] == [
        ("new_ventroom_comment", [f"vent_post_{post_id}", f"user_{bob.id}"]),
        ("new_reply_on_user_comment", [f"user_{alice.id}"]),
    ]
    assert all(data == reply for _, data, _ in events)

    react(app, bob.id, "ventcomment", reply["id"], "👍")
    events.clear()
    edited = client.patch(url(post_id, top["id"]), json={"text": "edited"}, headers=bob.headers)
    assert edited.status_code == 403 and events == []
    client.patch(url(post_id, reply["id"]), json={"text": "edited"}, headers=bob.headers)
    (kind, data, groups), = events
    assert (kind, groups) == ("ventroom_comment_updated", [f"vent_post_{post_id}"])
    assert data["text"] == "edited" and data["user_reaction"] is None  # a broadcast, not bob's view
    assert data["reaction_summary"] == [{"reaction_type": "👍", "count": 1}]

    events.clear()
    client.patch(url(post_id, top["id"]), json={"text": "new"}, headers=alice.headers)
    (_, data, _), = events
    assert data["replies"][0]["user_reaction"] is None  # nulled at every level

    events.clear()
    assert client.delete(url(post_id, top["id"]), headers=alice.headers).status_code == 204
    assert events == [("ventroom_comment_deleted", {"comment_id": top["id"], "post_id": post_id},
                       [f"vent_post_{post_id}"])]
