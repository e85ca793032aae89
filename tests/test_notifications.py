"""Notifications through the API: who gets what, in exactly the document's words, and
the notification, preference and device endpoints."""
from urllib.parse import quote

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Comment, Device, Notification
from app.services import comments as comment_service


@pytest.fixture
def carol(make_user):
    return make_user("carol@example.com", display_name="Carol")


def make_post(client, user, title="A post"):
    response = client.post("/ventroom/posts/", headers=user.headers, json={"title": title, "content": "text"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def comment(client, user, post_id, text="A comment", parent=None):
    body = {"text": text} if parent is None else {"text": text, "parent": parent}
    response = client.post(f"/ventroom/posts/{post_id}/comments/", headers=user.headers, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def react(client, user, content_type, object_id, reaction_type="👍"):
    response = client.post("/ventroom/reactions/", headers=user.headers, json={
        "content_type": content_type, "object_id": object_id, "reaction_type": reaction_type})
    assert response.status_code == 201, response.get_json()


def inbox(client, user, **query):
    response = client.get("/notifications/", headers=user.headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def summary(client, user):
    """What ``user`` was told, oldest first: ``[(kind, title, message, post_id, comment_id)]``."""
    return [(n["kind"], n["title"], n["message"], n["post_id"], n["comment_id"])
            for n in reversed(inbox(client, user, page_size=100)["results"])]


# Who is told what --------------------------------------------------------------------

def test_a_comment_tells_the_post_owner(client, alice, bob):
    post_id = make_post(client, alice)
    comment_id = comment(client, bob, post_id)
    assert summary(client, alice) == [("comment", "New Comment", "Bob commented on your post.", post_id, comment_id)]
    assert summary(client, bob) == []
    [item] = inbox(client, alice)["results"]
    assert item["actor"] == {"id": bob.id, "display_name": "Bob", "profile_photo": None}
    assert item["read"] is False and item["created_at"].endswith("Z")


def test_a_reply_tells_the_parent_owner_and_the_post_owner_once_each(client, alice, bob, carol):
    post_id = make_post(client, carol)
    top = comment(client, alice, post_id)
    reply = comment(client, bob, post_id, "A reply", parent=top)
    assert summary(client, alice) == [("reply", "New Reply", "Bob replied to your comment.", post_id, reply)]
    assert summary(client, carol) == [
        ("comment", "New Comment", "Alice commented on your post.", post_id, top),
        ("comment", "New Comment", "Bob commented on your post.", post_id, reply),
    ]
    assert summary(client, bob) == []


def test_a_reply_to_the_post_owners_comment_tells_them_once(client, alice, bob):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id)
    reply = comment(client, bob, post_id, parent=top)
    assert summary(client, alice) == [("reply", "New Reply", "Bob replied to your comment.", post_id, reply)]


def test_replying_to_yourself_tells_only_the_post_owner(client, alice, bob):
    post_id = make_post(client, alice)
    top = comment(client, bob, post_id)
    reply = comment(client, bob, post_id, parent=top)
    assert [entry[4] for entry in summary(client, alice)] == [top, reply]
    assert summary(client, bob) == []


def test_no_notification_for_your_own_actions(client, app, alice):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id)
    comment(client, alice, post_id, parent=top)
    react(client, alice, "ventpost", post_id)
    react(client, alice, "ventcomment", top, "❤️")
    assert inbox(client, alice)["count"] == 0
    with app.app_context():
        assert db.session.scalars(select(Notification)).all() == []


def test_reactions_on_a_post_and_on_a_comment(client, alice, bob):
    post_id = make_post(client, alice)
    top = comment(client, alice, post_id)
    react(client, bob, "ventpost", post_id)
    react(client, bob, "ventcomment", top, "love")
    assert summary(client, alice) == [
        ("reaction", "New Reaction", "Bob reacted to your post.", post_id, None),
        ("reaction", "New Reaction", "Bob reacted to your comment.", post_id, top),
    ]


def test_a_changed_or_repeated_reaction_does_not_notify_twice(client, alice, bob):
    post_id = make_post(client, alice)
    react(client, bob, "ventpost", post_id, "👍")
    react(client, bob, "ventpost", post_id, "👍")
    react(client, bob, "ventpost", post_id, "😂")
    assert client.delete("/ventroom/reactions/", headers=bob.headers,
                         query_string={"content_type": "ventpost", "object_id": post_id}).status_code == 204
    react(client, bob, "ventpost", post_id, "😢")
    assert [entry[0] for entry in summary(client, alice)] == ["reaction"]


def test_each_reactor_notifies_once(client, alice, bob, carol):
    post_id = make_post(client, alice)
    react(client, bob, "ventpost", post_id)
    react(client, carol, "ventpost", post_id, "❤️")
    assert [entry[2] for entry in summary(client, alice)] == ["Bob reacted to your post.",
                                                              "Carol reacted to your post."]


def test_the_notification_commits_with_the_comment(client, app, alice, bob, monkeypatch):
    """A failure after the rows are written and before the commit leaves neither."""
    post_id = make_post(client, alice)
    real_record = comment_service.notifications.record_comment

    def record_then_fail(*args):
        real_record(*args)
        raise RuntimeError("crash before commit")

    monkeypatch.setattr(comment_service.notifications, "record_comment", record_then_fail)
    response = client.post(f"/ventroom/posts/{post_id}/comments/", headers=bob.headers, json={"text": "x"})
    assert response.status_code == 500
    with app.app_context():
        assert db.session.scalars(select(Comment)).all() == []
        assert db.session.scalars(select(Notification)).all() == []


def test_deleting_the_post_deletes_its_notifications(client, app, alice, bob):
    post_id = make_post(client, alice)
    comment(client, bob, post_id)
    react(client, bob, "ventpost", post_id)
    assert client.delete(f"/ventroom/posts/{post_id}/", headers=alice.headers).status_code == 204
    assert inbox(client, alice)["count"] == 0


# Preferences ------------------------------------------------------------------------

def test_preferences_default_on_and_patch_changes_only_what_is_sent(client, alice):
    assert client.get("/notifications/preferences", headers=alice.headers).get_json() == {
        "comments": True, "replies": True, "reactions": True}
    response = client.patch("/notifications/preferences/", headers=alice.headers, json={"reactions": False})
    assert response.status_code == 200
    assert response.get_json() == {"comments": True, "replies": True, "reactions": False}
    response = client.patch("/notifications/preferences", headers=alice.headers,
                            json={"comments": False, "unknown": 1})
    assert response.get_json() == {"comments": False, "replies": True, "reactions": False}
    assert client.get("/notifications/preferences/", headers=alice.headers).get_json() == {
        "comments": False, "replies": True, "reactions": False}


def test_preferences_validation(client, alice):
    for body, errors in [({"comments": "maybe"}, {"comments": ["Not a valid boolean."]}),
                         ({"replies": None}, {"replies": ["Field may not be null."]})]:
        response = client.patch("/notifications/preferences", headers=alice.headers, json=body)
        assert response.status_code == 400 and response.get_json() == errors
    response = client.patch("/notifications/preferences", headers=alice.headers, data="{",
                            content_type="application/json")
    assert response.status_code == 400 and response.get_json()["detail"].startswith("JSON parse error")
    assert client.put("/notifications/preferences", headers=alice.headers, json={}).get_json() == {
        "detail": 'Method "PUT" not allowed.'}


@pytest.mark.parametrize("switch,expected", [
    ("comments", ["reply", "reaction"]),
    ("replies", ["comment", "reaction"]),
    ("reactions", ["comment", "reply"]),
])
def test_a_disabled_kind_is_not_stored(client, alice, bob, switch, expected):
    client.patch("/notifications/preferences", headers=alice.headers, json={switch: False})
    own_post = make_post(client, alice)
    comment(client, bob, own_post)  # comment
    other_post = make_post(client, bob)
    top = comment(client, alice, other_post)
    comment(client, bob, other_post, parent=top)  # reply
    react(client, bob, "ventpost", own_post)  # reaction
    assert [entry[0] for entry in summary(client, alice)] == expected


# The list and read flags ------------------------------------------------------------

def test_list_is_paginated_newest_first(client, alice, bob):
    post_id = make_post(client, alice)
    ids = [comment(client, bob, post_id, f"c{index}") for index in range(5)]
    page = inbox(client, alice, page_size=2)
    assert page["count"] == 5 and page["unread_count"] == 5
    assert [n["comment_id"] for n in page["results"]] == ids[::-1][:2]
    assert page["previous"] is None and page["next"].startswith("http://localhost/notifications/?")
    last = inbox(client, alice, page_size=2, page=3)
    assert [n["comment_id"] for n in last["results"]] == [ids[0]] and last["next"] is None
    assert client.get("/notifications/?page=4&page_size=2", headers=alice.headers).get_json() == {
        "detail": "Invalid page."}
    assert client.get("/notifications?page=abc", headers=alice.headers).status_code == 404
    assert client.get("/notifications/?page_size=x", headers=alice.headers).get_json() == {
        "page_size": ["A valid integer is required."]}
    assert inbox(client, bob) == {"count": 0, "next": None, "previous": None, "results": [], "unread_count": 0}


def test_mark_one_read_and_all_read(client, alice, bob):
    post_id = make_post(client, alice)
    for index in range(3):
        comment(client, bob, post_id, f"c{index}")
    first, second, third = [n["id"] for n in inbox(client, alice)["results"]]
    response = client.post(f"/notifications/{second}/read", headers=alice.headers)
    assert response.status_code == 200 and response.get_json()["id"] == second
    assert response.get_json()["read"] is True
    assert client.post(f"/notifications/{second}/read/", headers=alice.headers).status_code == 200  # again
    assert [n["read"] for n in inbox(client, alice)["results"]] == [False, True, False]
    assert inbox(client, alice)["unread_count"] == 2

    assert client.post("/notifications/read-all", headers=alice.headers).get_json() == {"marked_read": 2}
    assert client.post("/notifications/read-all/", headers=alice.headers).get_json() == {"marked_read": 0}
    assert all(n["read"] for n in inbox(client, alice)["results"])
    assert first != third


def test_someone_elses_notification_is_not_found(client, alice, bob):
    post_id = make_post(client, alice)
    comment(client, bob, post_id)
    [item] = inbox(client, alice)["results"]
    response = client.post(f"/notifications/{item['id']}/read", headers=bob.headers)
    assert response.status_code == 404 and response.get_json() == {"detail": "Not found."}
    assert client.post("/notifications/999999/read", headers=alice.headers).status_code == 404
    assert client.post("/notifications/read-all", headers=bob.headers).get_json() == {"marked_read": 0}
    assert inbox(client, alice)["results"][0]["read"] is False


def test_every_endpoint_needs_login(client):
    for method, path in [("get", "/notifications/"), ("post", "/notifications/1/read"),
                         ("post", "/notifications/read-all"), ("get", "/notifications/preferences"),
                         ("patch", "/notifications/preferences"), ("post", "/devices/"),
                         ("delete", "/devices/abc"), ("delete", "/devices/?token=abc"),
                         ("get", "/devices/webpush-key")]:
        response = getattr(client, method)(path)
        assert response.status_code == 401, path
        assert response.get_json() == {"detail": "Authentication credentials were not provided."}
    response = client.get("/notifications/", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401 and response.get_json()["detail"] == "Given token not valid for any token type"


def test_wrong_methods_are_json_405(client, alice):
    response = client.delete("/notifications/", headers=alice.headers)
    assert response.status_code == 405 and response.get_json() == {"detail": 'Method "DELETE" not allowed.'}
    assert client.get("/notifications/1/read", headers=alice.headers).status_code == 405


# Devices ------------------------------------------------------------------------------

def devices_of(app, user):
    with app.app_context():
        return [(d.platform, d.token) for d in db.session.scalars(
            select(Device).where(Device.user_id == user.id).order_by(Device.id))]


def test_register_and_move_a_device(client, app, alice, bob):
    response = client.post("/devices/", headers=alice.headers, json={"token": " fcm-token-1 ", "platform": "fcm"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["platform"] == "fcm" and body["token"] == "fcm-token-1" and body["created_at"].endswith("Z")
    again = client.post("/devices", headers=alice.headers, json={"token": "fcm-token-1", "platform": "fcm"})
    assert again.status_code == 201 and again.get_json()["id"] == body["id"]  # idempotent
    assert devices_of(app, alice) == [("fcm", "fcm-token-1")]

    # The phone changes hands: the token now belongs to Bob alone.
    client.post("/devices/", headers=bob.headers, json={"token": "fcm-token-1", "platform": "fcm"})
    assert devices_of(app, alice) == [] and devices_of(app, bob) == [("fcm", "fcm-token-1")]


def test_register_validation(client, alice):
    cases = [
        ({}, {"token": ["Missing data for required field."], "platform": ["Missing data for required field."]}),
        ({"token": "t", "platform": "apns"}, {"platform": ['"apns" is not a valid choice.']}),
        ({"token": "  ", "platform": "fcm"}, {"token": ["This field may not be blank."]}),
        ({"token": "a b", "platform": "fcm"}, {"token": ["Not a valid FCM registration token."]}),
        ({"token": "x" * 5000, "platform": "fcm"}, {"token": ["Not a valid FCM registration token."]}),
        ({"token": {"a": 1}, "platform": "fcm"}, {"token": ["This field may not be blank."]}),
        ({"token": None, "platform": "fcm"}, {"token": ["Field may not be null."]}),
    ]
    for body, errors in cases:
        response = client.post("/devices/", headers=alice.headers, json=body)
        assert response.status_code == 400 and response.get_json() == errors, body


def test_delete_a_device(client, app, alice, bob):
    for token in ("fcm:token-a", "fcm:token-b"):
        client.post("/devices/", headers=alice.headers, json={"token": token, "platform": "fcm"})
    # Someone else's token: nothing happens, and nothing is revealed.
    assert client.delete("/devices/fcm:token-a", headers=bob.headers).status_code == 204
    assert len(devices_of(app, alice)) == 2
    assert client.delete("/devices/" + quote("fcm:token-a", safe=""), headers=alice.headers).status_code == 204
    assert client.delete("/devices/?token=fcm:token-b", headers=alice.headers).status_code == 204
    assert devices_of(app, alice) == []
    assert client.delete("/devices/fcm:token-a/", headers=alice.headers).status_code == 204  # gone already
    response = client.delete("/devices/", headers=alice.headers)
    assert response.status_code == 400 and response.get_json() == {"token": ["This field is required."]}


def test_devices_per_user_are_capped_oldest_out(client, app, alice):
    app.config["PUSH_MAX_DEVICES_PER_USER"] = 3
    for index in range(5):
        client.post("/devices/", headers=alice.headers, json={"token": f"token-{index}", "platform": "fcm"})
    assert [token for _, token in devices_of(app, alice)] == ["token-2", "token-3", "token-4"]


def test_reading_an_id_out_of_range_is_404(client, alice):
    response = client.post(f"/notifications/{10**30}/read", headers=alice.headers)
    assert response.status_code == 404 and response.json == {"detail": "Not found."}
