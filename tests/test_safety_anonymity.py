"""Anonymous posts and comments: nothing anyone else receives names the author; the
author and admins see it as theirs; anonymity wins over blocks."""
import io

from app.models.notifications import Notification
from tests.support import safety as s
from tests.support.media import image_bytes


def writer_of(make_user):
    return make_user("quiet-writer-q7@example.com", display_name="Quiet Writer Q7")


def test_an_anonymous_authors_trace_is_in_nothing_another_user_receives(app, client, make_user, bob, admin):
    writer = writer_of(make_user)
    live = s.sio(app, bob)
    live.emit("join_ventroom")
    anonymous_post = s.post(client, writer, title="Heavy", content="words", anonymous=True,
                            content_warning="loss")
    live.emit("join_ventroom_post", {"post_id": anonymous_post["id"]})
    bobs_post = s.post(client, bob, title="Bob's")
    client.patch(f"/ventroom/posts/{anonymous_post['id']}/", json={"title": "Heavier"}, headers=writer.headers)
    bobs_comment = s.comment(client, bob, anonymous_post["id"], "I hear you")
    s.comment(client, writer, anonymous_post["id"], "thank you", parent=bobs_comment["id"], anonymous=True)
    s.comment(client, writer, bobs_post["id"], "me too", anonymous=True)
    s.react(client, bob, "ventpost", anonymous_post["id"])  # bob's own reaction on it: its event too

    seen = {"events": s.received(live)}
    assert {"new_ventroom_post", "ventroom_post_updated", "new_ventroom_comment", "new_reply_on_user_comment",
            "new_comment_on_user_post", "ventroom_reaction_updated"} <= set(s.names(seen["events"]))
    for path in ("/ventroom/posts/", f"/ventroom/posts/{anonymous_post['id']}/",
                 f"/ventroom/posts/{anonymous_post['id']}/comments/",
                 f"/ventroom/posts/{anonymous_post['id']}/comments/?page_size=5",
                 f"/ventroom/posts/{bobs_post['id']}/comments/", "/notifications/",
                 f"/ventroom/posts/{anonymous_post['id']}/comments/{bobs_comment['id']}/"):
        response = client.get(path, headers=bob.headers)
        assert response.status_code == 200, (path, response.json)
        seen[path] = {"body": response.json, "headers": dict(response.headers)}
    assert s.traces(seen, writer) == []

    listed = seen["/ventroom/posts/"]["body"]["results"]
    mine = next(item for item in listed if item["id"] == anonymous_post["id"])
    assert mine["user"] == s.ANONYMOUS and mine["anonymous"] is True and mine["content_warning"] == "loss"
    notes = seen["/notifications/"]["body"]["results"]
    assert {(n["message"], n["actor"] is None) for n in notes} == {
        ("Someone replied to your comment.", True), ("Someone commented on your post.", True)}
    with app.app_context():
        stored = Notification.query.filter_by(recipient_id=bob.id).all()
        assert len(stored) == 2 and {n.actor_id for n in stored} == {None}  # stored with no actor at all
        # Bob's comment on the anonymous post still told its author.
        assert [n.message for n in Notification.query.filter_by(recipient_id=writer.id)] == [
            "Bob commented on your post.", "Bob reacted to your post."]
    live.disconnect()


def test_the_author_and_admins_see_it_as_the_authors_the_event_does_not(app, client, make_user, bob, admin):
    writer = writer_of(make_user)
    mine_live = s.sio(app, writer)
    mine_live.emit("join_ventroom")
    created = s.post(client, writer, anonymous=True)
    assert created["user"]["id"] == writer.id and created["anonymous"] is True
    (name, event), = [item for item in s.received(mine_live) if item[0] == "new_ventroom_post"]
    assert event["data"]["user"] == s.ANONYMOUS  # one emit serves all: the anonymous form
    assert s.feed(client, bob)["results"][0]["user"] == s.ANONYMOUS  # the shared page is built first
    assert s.feed(client, writer)["results"][0]["user"]["id"] == writer.id  # personalised from it
    assert s.feed(client, admin)["results"][0]["user"]["id"] == writer.id
    assert client.get(f"/ventroom/posts/{created['id']}/", headers=admin.headers).json["user"]["id"] == writer.id
    assert client.get(f"/ventroom/posts/{created['id']}/", headers=bob.headers).json["user"] == s.ANONYMOUS
    reply = s.comment(client, writer, created["id"], anonymous=True)
    assert reply["user"]["id"] == writer.id
    tree = client.get(f"/ventroom/posts/{created['id']}/comments/", headers=bob.headers).json
    assert tree[0]["user"] == s.ANONYMOUS and tree[0]["anonymous"] is True
    tree = client.get(f"/ventroom/posts/{created['id']}/comments/", headers=writer.headers).json
    assert tree[0]["user"]["id"] == writer.id
    # The author edits and deletes it; others cannot.
    assert client.patch(f"/ventroom/posts/{created['id']}/", json={"title": "x"}, headers=bob.headers).status_code \
        == 403
    assert client.patch(f"/ventroom/posts/{created['id']}/", json={"content_warning": "  "},
                        headers=writer.headers).json["content_warning"] is None
    assert client.delete(f"/ventroom/posts/{created['id']}/", headers=writer.headers).status_code == 204
    mine_live.disconnect()


def test_multipart_anonymous_true_and_sensitive_media(client, alice, bob):
    response = client.post("/ventroom/posts/", headers=alice.headers, content_type="multipart/form-data", data={
        "title": "photo", "anonymous": "true", "content_warning": "blood", "media_type": "image",
        "media": (io.BytesIO(image_bytes()), "x.jpg")})
    assert response.status_code == 201, response.json
    body = client.get(f"/ventroom/posts/{response.json['id']}/", headers=bob.headers).json
    assert body["anonymous"] is True and body["user"] == s.ANONYMOUS
    assert body["sensitive"] is True and body["content_warning"] == "blood"
    plain = s.post(client, alice, content_warning="")
    assert plain["content_warning"] is None and plain["sensitive"] is False and plain["anonymous"] is False
    warned = s.post(client, alice, content_warning="words only")
    assert warned["sensitive"] is False  # no media: nothing to blur
    too_long = client.post("/ventroom/posts/", json={"title": "t", "content": "c", "content_warning": "x" * 101},
                           headers=alice.headers)
    assert too_long.status_code == 400 and "content_warning" in too_long.json


def test_anonymity_wins_over_blocks(app, client, make_user, bob):
    writer = writer_of(make_user)
    anonymous_post = s.post(client, writer, anonymous=True)
    named_post = s.post(client, writer, title="named")
    s.relate(client, writer, bob, "block")
    live = s.sio(app, bob)
    live.emit("join_ventroom_post", {"post_id": anonymous_post["id"]})
    assert s.names(s.received(live)) == ["ventroom_post_joined"]

    page = s.feed(client, bob)
    assert [item["id"] for item in page["results"]] == [anonymous_post["id"]] and page["count"] == 1
    assert client.get(f"/ventroom/posts/{anonymous_post['id']}/", headers=bob.headers).status_code == 200
    assert client.get(f"/ventroom/posts/{named_post['id']}/", headers=bob.headers).status_code == 404
    # Bob may comment on and react to it: a 403 would name its author. Its author hears nothing.
    s.comment(client, bob, anonymous_post["id"], "hello")
    assert s.react(client, bob, "ventpost", anonymous_post["id"]).status_code == 201
    with app.app_context():
        assert Notification.query.count() == 0
    client.patch(f"/ventroom/posts/{anonymous_post['id']}/", json={"title": "edited"}, headers=writer.headers)
    assert "ventroom_post_updated" in s.names(s.received(live))  # not hidden from bob either
    assert client.post(f"/ventroom/posts/{named_post['id']}/comments/", json={"text": "x"},
                       headers=bob.headers).json == {"detail": "You cannot interact with this user."}
    live.disconnect()
