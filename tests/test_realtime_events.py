"""Post, comment and reaction events, each to exactly the groups of the event table; a write
that fails or is refused emits nothing."""
import pytest

from app.extensions import db, socketio
from tests.support.clients import ENVELOPE_KEYS


# Posts


def test_post_created_reaches_feed_and_author_only(deployment):
    author, author_token = deployment.user("author")
    _, feed_token = deployment.user("feed")
    _, other_token = deployment.user("other")
    author_conn = deployment.raw(author_token)  # not in the feed: hears it through user_{id}
    feed_raw = deployment.raw(feed_token)
    feed_raw.request("join_ventroom", reply="ventroom_joined")
    feed_sio = deployment.sio(feed_token)
    feed_sio.request("join_ventroom", reply="ventroom_joined")
    outsider = deployment.raw(other_token)
    author_in_feed = deployment.sio(author_token)  # in both groups: still one copy
    author_in_feed.request("join_ventroom", reply="ventroom_joined")

    post = deployment.new_post(author_token, title="Hello")
    copies = [author_conn.expect("new_ventroom_post"), feed_raw.expect("new_ventroom_post"),
              feed_sio.expect("new_ventroom_post"), author_in_feed.expect("new_ventroom_post")]
    for copy in copies:
        assert set(copy) == ENVELOPE_KEYS
        assert copy["data"] == {**post, "user_reaction": None}
    assert len({copy["event_id"] for copy in copies}) == 1
    for client in (author_conn, feed_raw, feed_sio, author_in_feed, outsider):
        client.assert_silent(0.2)
    outsider.assert_silent()


def test_post_updated_and_deleted_reach_post_and_feed_groups(deployment):
    author, author_token = deployment.user("author")
    _, watcher_token = deployment.user("watcher")
    _, feed_token = deployment.user("feed")
    post = deployment.new_post(author_token)
    author_conn = deployment.raw(author_token)  # author, in neither group: hears nothing
    watcher = deployment.raw(watcher_token)
    watcher.request("join_ventroom_post", {"post_id": post["id"]}, reply="ventroom_post_joined")
    watcher_sio = deployment.sio(watcher_token)
    watcher_sio.request("join_ventroom_post", {"post_id": post["id"]}, reply="ventroom_post_joined")
    feed = deployment.raw(feed_token)
    feed.request("join_ventroom", reply="ventroom_joined")

    updated = deployment.api("PATCH", f"/ventroom/posts/{post['id']}/", author_token, json={"title": "New"})
    assert updated.status_code == 200
    events = [watcher.expect("ventroom_post_updated"), watcher_sio.expect("ventroom_post_updated"),
              feed.expect("ventroom_post_updated")]
    assert all(e["data"]["title"] == "New" and e["data"]["user_reaction"] is None for e in events)
    assert len({e["event_id"] for e in events}) == 1

    assert deployment.api("DELETE", f"/ventroom/posts/{post['id']}/", author_token).status_code == 204
    deleted = [watcher.expect("ventroom_post_deleted"), watcher_sio.expect("ventroom_post_deleted"),
               feed.expect("ventroom_post_deleted")]
    assert all(e["data"] == {"post_id": post["id"]} for e in deleted)
    for client in (watcher, watcher_sio, feed):
        client.assert_silent(0.2)
    author_conn.assert_silent()


def test_forbidden_write_emits_nothing(deployment):
    _, author_token = deployment.user()
    _, other_token = deployment.user()
    post = deployment.new_post(author_token)
    watcher = deployment.raw(author_token)
    watcher.request("join_ventroom_post", {"post_id": post["id"]}, reply="ventroom_post_joined")
    watcher.request("join_ventroom", reply="ventroom_joined")
    assert deployment.api("PATCH", f"/ventroom/posts/{post['id']}/", other_token,
                          json={"title": "x"}).status_code == 403
    assert deployment.api("POST", "/ventroom/posts/", author_token, json={"title": ""}).status_code == 400
    watcher.assert_silent()


def test_rolled_back_write_emits_nothing(app, alice, monkeypatch):
    """In-process: a commit that fails produces no event for anyone in the groups."""
    client = socketio.test_client(app, auth={"token": alice.token})
    client.emit("join_ventroom")
    assert [e["name"] for e in client.get_received()] == ["ventroom_joined"]

    def failing_commit():
        raise RuntimeError("commit failed")

    monkeypatch.setattr(db.session, "commit", failing_commit)
    response = app.test_client().post("/ventroom/posts/", json={"title": "t", "content": "c"},
                                      headers=alice.headers)
    assert response.status_code == 500
    assert client.get_received() == []
    monkeypatch.undo()
    app.test_client().post("/ventroom/posts/", json={"title": "t", "content": "c"}, headers=alice.headers)
    assert [e["name"] for e in client.get_received()] == ["new_ventroom_post"]
    client.disconnect()


# Comments and reactions


class Cast:
    """Post owner, commenter, parent-comment owner, a post watcher and an outsider, each connected."""

    def __init__(self, deployment):
        self.d = deployment
        self.owner, self.owner_token = deployment.user("owner")
        self.parent_owner, self.parent_token = deployment.user("parentowner")
        self.commenter, self.commenter_token = deployment.user("commenter")
        _, self.watcher_token = deployment.user("watcher")
        _, outsider_token = deployment.user("outsider")
        self.post = deployment.api("POST", "/ventroom/posts/", self.owner_token,
                                   json={"title": "t", "content": "c"}).json()
        self.parent = deployment.api("POST", f"/ventroom/posts/{self.post['id']}/comments/", self.parent_token,
                                     json={"text": "parent"}).json()
        # Nobody below is in the post group or the feed except the watchers.
        self.owner_conn = deployment.raw(self.owner_token)
        self.parent_conn = deployment.sio(self.parent_token)
        self.commenter_conn = deployment.raw(self.commenter_token)
        self.watcher = deployment.raw(self.watcher_token)
        self.watcher.request("join_ventroom_post", {"post_id": self.post["id"]}, reply="ventroom_post_joined")
        self.watcher_sio = deployment.sio(self.watcher_token)
        self.watcher_sio.request("join_ventroom_post", {"post_id": self.post["id"]}, reply="ventroom_post_joined")
        self.feed_only = deployment.raw(outsider_token)
        self.feed_only.request("join_ventroom", reply="ventroom_joined")
        self.everyone = [self.owner_conn, self.parent_conn, self.commenter_conn, self.watcher,
                         self.watcher_sio, self.feed_only]

    def comments_path(self, *parts):
        return "/".join([f"/ventroom/posts/{self.post['id']}/comments", *map(str, parts)]) + "/"

    def silent_except_checked(self):
        for conn in self.everyone:
            conn.assert_silent(0.15)
        self.feed_only.assert_silent()


@pytest.fixture
def cast(deployment):
    return Cast(deployment)


def test_top_level_comment(cast):
    response = cast.d.api("POST", cast.comments_path(), cast.commenter_token, json={"text": "hello"})
    assert response.status_code == 201
    comment = response.json()
    got = [cast.watcher.expect("new_ventroom_comment"), cast.watcher_sio.expect("new_ventroom_comment"),
           cast.commenter_conn.expect("new_ventroom_comment")]
    assert all(e["data"] == {**comment, "user_reaction": None} for e in got)
    assert len({e["event_id"] for e in got}) == 1
    personal = cast.owner_conn.expect("new_comment_on_user_post")
    assert personal["data"]["id"] == comment["id"]
    cast.silent_except_checked()  # the parent comment's owner hears nothing: not a reply


def test_reply_to_another_users_comment(cast):
    response = cast.d.api("POST", cast.comments_path(), cast.commenter_token,
                          json={"text": "a reply", "parent": cast.parent["id"]})
    reply = response.json()
    assert reply["parent"] == cast.parent["id"]
    cast.watcher.expect("new_ventroom_comment")
    cast.watcher_sio.expect("new_ventroom_comment")
    cast.commenter_conn.expect("new_ventroom_comment")
    assert cast.parent_conn.expect("new_reply_on_user_comment")["data"]["id"] == reply["id"]
    assert cast.owner_conn.expect("new_comment_on_user_post")["data"]["id"] == reply["id"]
    cast.silent_except_checked()


def test_own_comment_on_own_post_has_no_personal_events(cast):
    cast.d.api("POST", cast.comments_path(), cast.owner_token, json={"text": "mine"})
    cast.watcher.expect("new_ventroom_comment")
    cast.watcher_sio.expect("new_ventroom_comment")
    cast.owner_conn.expect("new_ventroom_comment")  # as the comment's author, once
    cast.silent_except_checked()


def test_comment_updated_and_deleted(cast):
    comment = cast.d.api("POST", cast.comments_path(), cast.commenter_token, json={"text": "v1"}).json()
    for conn, event in ((cast.watcher, "new_ventroom_comment"), (cast.watcher_sio, "new_ventroom_comment"),
                        (cast.commenter_conn, "new_ventroom_comment"), (cast.owner_conn, "new_comment_on_user_post")):
        conn.expect(event)
    assert cast.d.api("PATCH", cast.comments_path(comment["id"]), cast.commenter_token,
                      json={"text": "v2"}).status_code == 200
    updates = [cast.watcher.expect("ventroom_comment_updated"), cast.watcher_sio.expect("ventroom_comment_updated")]
    assert all(u["data"]["text"] == "v2" and u["data"]["id"] == comment["id"] for u in updates)
    assert cast.d.api("DELETE", cast.comments_path(comment["id"]), cast.commenter_token).status_code == 204
    deleted = [cast.watcher.expect("ventroom_comment_deleted"), cast.watcher_sio.expect("ventroom_comment_deleted")]
    assert all(d["data"] == {"comment_id": comment["id"], "post_id": cast.post["id"]} for d in deleted)
    cast.silent_except_checked()  # the author is not in the post group: hears neither


def _react(cast, token, content_type, object_id, reaction_type):
    response = cast.d.api("POST", "/ventroom/reactions/", token, json={
        "content_type": content_type, "object_id": object_id, "reaction_type": reaction_type})
    assert response.status_code == 201, response.text
    return response.json()


def test_reaction_on_a_post_added_changed_removed(cast):
    _react(cast, cast.commenter_token, "ventpost", cast.post["id"], "like")
    general = [cast.watcher.expect("ventroom_reaction_updated"), cast.watcher_sio.expect("ventroom_reaction_updated"),
               cast.commenter_conn.expect("ventroom_reaction_updated")]
    assert general[0]["data"] == {"content_type": "ventpost", "object_id": cast.post["id"],
                                  "reaction_summary": [{"reaction_type": "👍", "count": 1}],
                                  "user_reaction": "👍", "user_id": cast.commenter["id"]}
    assert all(e["data"] == general[0]["data"] for e in general)
    owner = cast.owner_conn.expect("new_reaction_on_user_post")
    assert owner["data"] == general[0]["data"]
    cast.silent_except_checked()

    _react(cast, cast.commenter_token, "ventpost", cast.post["id"], "😢")
    changed = cast.watcher.expect("ventroom_reaction_updated")["data"]
    assert changed["reaction_summary"] == [{"reaction_type": "😢", "count": 1}] and changed["user_reaction"] == "😢"
    cast.watcher_sio.expect("ventroom_reaction_updated")
    cast.commenter_conn.expect("ventroom_reaction_updated")
    cast.owner_conn.expect("new_reaction_on_user_post")
    cast.silent_except_checked()

    removed = cast.d.api("DELETE", f"/ventroom/reactions/?content_type=ventpost&object_id={cast.post['id']}",
                         cast.commenter_token)
    assert removed.status_code == 204
    gone = cast.watcher.expect("ventroom_reaction_updated")["data"]
    assert gone["user_reaction"] is None and gone["reaction_summary"] == [] and gone["user_id"] == cast.commenter["id"]
    cast.watcher_sio.expect("ventroom_reaction_updated")
    cast.commenter_conn.expect("ventroom_reaction_updated")
    cast.silent_except_checked()  # a removal is no "new reaction" for the owner


def test_reaction_on_a_comment_goes_to_its_post_group_and_its_owner(cast):
    _react(cast, cast.commenter_token, "ventcomment", cast.parent["id"], "❤️")
    event = cast.watcher.expect("ventroom_reaction_updated")
    assert event["data"]["content_type"] == "ventcomment" and event["data"]["object_id"] == cast.parent["id"]
    cast.watcher_sio.expect("ventroom_reaction_updated")
    cast.commenter_conn.expect("ventroom_reaction_updated")
    assert cast.parent_conn.expect("new_reaction_on_user_comment")["event_id"] != event["event_id"]
    cast.silent_except_checked()  # the post's owner is not the comment's owner


def test_reacting_to_your_own_post_has_no_owner_event(cast):
    _react(cast, cast.owner_token, "ventpost", cast.post["id"], "haha")
    cast.watcher.expect("ventroom_reaction_updated")
    cast.watcher_sio.expect("ventroom_reaction_updated")
    cast.owner_conn.expect("ventroom_reaction_updated")  # as the reactor, once
    cast.silent_except_checked()
