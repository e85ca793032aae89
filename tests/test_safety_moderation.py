"""Reports, the moderation queue, hiding and restoring, suspensions, the log, the CLI."""
from datetime import UTC, datetime, timedelta

from flask_jwt_extended import create_access_token

from app.config import DEFAULT_SUPPORT_RESOURCES
from app.services import moderation
from tests.support import safety as s

RESOURCES = [{"name": "Line", "url": "https://line.example", "phone": "0800"}]


def report(client, user, content_type, object_id, reason="spam", **extra):
    return client.post("/reports/", json={"content_type": content_type, "object_id": object_id, "reason": reason,
                                          **extra}, headers=user.headers)


def test_reports(app, client, alice, bob, admin):
    app.config["SUPPORT_RESOURCES"] = RESOURCES
    post_id = s.post(client, bob)["id"]
    first = report(client, alice, "ventpost", post_id, "self_harm", details="  worried  ")
    assert first.status_code == 201
    body = first.json
    assert {k: body[k] for k in ("content_type", "object_id", "reason", "details", "status")} == {
        "content_type": "ventpost", "object_id": post_id, "reason": "self_harm", "details": "worried",
        "status": "open"}
    assert body["support_resources"] == RESOURCES and isinstance(body["id"], int) and body["created_at"]
    again = report(client, alice, "ventpost", str(post_id), "other")
    assert again.status_code == 200 and again.json["id"] == body["id"] and again.json["reason"] == "self_harm"
    user_report = report(client, alice, "user", bob.id, "harassment")
    assert user_report.status_code == 201 and user_report.json["object_id"] == bob.id
    assert user_report.json["details"] is None and "support_resources" not in user_report.json
    comment_id = s.comment(client, bob, post_id)["id"]
    assert report(client, admin, "ventcomment", comment_id, "spam").status_code == 201
    for kind, object_id in (("ventpost", 999), ("ventcomment", 999), ("user", "nobody")):
        missing = report(client, alice, kind, object_id)
        assert (missing.status_code, missing.json) == (400, {"object_id": ["Object does not exist."]})
    assert report(client, alice, "ventpost", "x").status_code == 400
    assert report(client, alice, "thing", 1).status_code == 400
    assert report(client, alice, "ventpost", post_id, "boredom").status_code == 400
    assert app.config["SUPPORT_RESOURCES"] and DEFAULT_SUPPORT_RESOURCES[0]["url"].startswith("https://")


def test_moderation_is_for_admins_only(client, alice, bob):
    post_id = s.post(client, bob)["id"]
    for method, path in (("get", "/moderation/reports/"), ("post", f"/moderation/posts/{post_id}/hide"),
                         ("post", f"/moderation/users/{bob.id}/suspend"), ("get", "/moderation/log/")):
        response = client.open(path, method=method.upper(), headers=alice.headers)
        assert response.status_code == 403 and response.json == {
            "detail": "You do not have permission to perform this action."}


def test_the_queue_groups_by_object_oldest_first(client, make_user, alice, bob, admin):
    carol = make_user("carol@example.com", display_name="Carol")
    anonymous_post = s.post(client, bob, anonymous=True)
    later = s.post(client, carol)
    report(client, alice, "ventpost", anonymous_post["id"], "spam")
    report(client, carol, "ventpost", anonymous_post["id"], "harassment")
    report(client, admin, "ventpost", anonymous_post["id"], "spam")
    report(client, alice, "ventpost", later["id"], "other")
    report(client, alice, "user", carol.id, "other")
    page = client.get("/moderation/reports/?status=open", headers=admin.headers).json
    assert page["count"] == 3
    first = page["results"][0]
    assert (first["content_type"], first["object_id"], first["report_count"], first["reasons"]) == (
        "ventpost", anonymous_post["id"], 3, {"spam": 2, "harassment": 1})
    assert first["content"]["user"]["id"] == bob.id and len(first["report_ids"]) == 3  # admins see the author
    assert [r["object_id"] for r in page["results"][1:]] == [later["id"], carol.id]
    assert page["results"][2]["content"]["suspended"] is False
    dismissed = client.post(f"/moderation/reports/{first['report_ids'][1]}/dismiss", json={"reason": "fine"},
                            headers=admin.headers)
    assert dismissed.status_code == 200 and dismissed.json["status"] == "dismissed"
    assert client.get("/moderation/reports/", headers=admin.headers).json["count"] == 2
    assert client.get("/moderation/reports/?status=dismissed", headers=admin.headers).json["results"][0][
        "report_count"] == 3
    assert client.get("/moderation/reports/?status=nope", headers=admin.headers).status_code == 400
    assert report(client, alice, "ventpost", anonymous_post["id"]).status_code == 201  # a new one may open


def test_a_hidden_post_leaves_every_feed_list_and_group(app, client, alice, bob, admin):
    post = s.post(client, bob, title="to hide")
    comment_id = s.comment(client, alice, post["id"])["id"]
    report(client, alice, "ventpost", post["id"])
    live = s.sio(app, alice)
    live.emit("join_ventroom")
    live.emit("join_ventroom_post", {"post_id": post["id"]})
    s.received(live)
    hidden = client.post(f"/moderation/posts/{post['id']}/hide", json={"reason": "rule 1"}, headers=admin.headers)
    assert hidden.status_code == 200 and hidden.json["hidden"] is True
    (name, event), = s.received(live)
    assert (name, event["data"]) == ("ventroom_post_deleted", {"post_id": post["id"]})
    assert s.feed(client, alice)["count"] == 0 and s.feed(client, bob)["count"] == 0
    for path in (f"/ventroom/posts/{post['id']}/", f"/ventroom/posts/{post['id']}/comments/",
                 f"/ventroom/posts/{post['id']}/comments/{comment_id}/"):
        assert client.get(path, headers=alice.headers).status_code == 404, path
    for user in (bob, admin):
        assert client.get(f"/ventroom/posts/{post['id']}/", headers=user.headers).json["hidden"] is True
    assert s.react(client, alice, "ventpost", post["id"]).status_code == 400
    assert client.get("/moderation/reports/", headers=admin.headers).json["count"] == 0  # resolved
    client.patch(f"/ventroom/posts/{post['id']}/", json={"title": "sneaky"}, headers=bob.headers)
    assert s.received(live) == []  # nothing about it goes out while hidden
    other = s.sio(app, alice)
    other.emit("join_ventroom_post", {"post_id": post["id"]})
    assert s.received(other)[0][0] == "error"

    restored = client.post(f"/moderation/posts/{post['id']}/restore", headers=admin.headers)
    assert restored.status_code == 200 and restored.json["hidden"] is False
    assert [(n, e["data"]["id"]) for n, e in s.received(live)] == [("new_ventroom_post", post["id"])]
    assert s.feed(client, alice)["count"] == 1
    log = client.get("/moderation/log/", headers=admin.headers).json
    assert [(e["action"], e["content_type"], e["object_id"], e["reason"], e["actor"]["id"])
            for e in log["results"]] == [("restore_post", "ventpost", post["id"], None, admin.id),
                                         ("hide_post", "ventpost", post["id"], "rule 1", admin.id)]
    live.disconnect()
    other.disconnect()


def test_a_hidden_comment_goes_with_its_replies(app, client, alice, bob, admin):
    post_id = s.post(client, alice)["id"]
    bobs = s.comment(client, bob, post_id, "bad")
    s.comment(client, alice, post_id, "under it", parent=bobs["id"])
    live = s.sio(app, alice)
    live.emit("join_ventroom_post", {"post_id": post_id})
    s.received(live)
    response = client.post(f"/moderation/comments/{bobs['id']}/hide", headers=admin.headers)
    assert response.status_code == 200 and response.json["hidden"] is True
    (name, event), = s.received(live)
    assert (name, event["data"]) == ("ventroom_comment_deleted", {"comment_id": bobs["id"], "post_id": post_id})
    assert client.get(f"/ventroom/posts/{post_id}/comments/", headers=alice.headers).json == []
    assert client.get(f"/ventroom/posts/{post_id}/comments/{bobs['id']}/", headers=alice.headers).status_code == 404
    assert client.get(f"/ventroom/posts/{post_id}/comments/{bobs['id']}/", headers=bob.headers).json["hidden"]
    assert client.post(f"/ventroom/posts/{post_id}/comments/", json={"text": "x", "parent": bobs["id"]},
                       headers=alice.headers).status_code == 400
    client.post(f"/moderation/comments/{bobs['id']}/restore", headers=admin.headers)
    (name, event), = s.received(live)
    assert name == "new_ventroom_comment" and len(event["data"]["replies"]) == 1
    assert len(client.get(f"/ventroom/posts/{post_id}/comments/", headers=alice.headers).json) == 1
    live.disconnect()


def test_a_suspension_revokes_tokens_refuses_login_and_closes_sockets(app, client, alice, admin):
    live = s.sio(app, alice)
    assert live.is_connected()
    until = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    response = client.post(f"/moderation/users/{alice.id}/suspend", headers=admin.headers,
                           json={"until": until.isoformat(), "reason": "cooling off"})
    assert response.status_code == 200 and response.json["suspended"] is True
    assert not live.is_connected()
    assert client.get("/auth/me", headers=alice.headers).status_code == 401
    assert client.post("/auth/refresh", headers={"Authorization": f"Bearer {alice.refresh}"}).status_code == 401
    login = client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    assert login.status_code == 403 and login.json == {
        "detail": "This account is suspended.", "suspended_until": until.isoformat().replace("+00:00", "Z")}
    assert client.post("/auth/login", json={"email": alice.email, "password": "wrong-one"}).status_code == 401
    with app.app_context():
        fresh = create_access_token(identity=alice.id)  # even a token made now: the user is suspended
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401
    assert not s.sio(app, alice).is_connected()
    assert client.post(f"/moderation/users/{admin.id}/suspend", headers=admin.headers).status_code == 400

    assert client.post(f"/moderation/users/{alice.id}/unsuspend", headers=admin.headers).json["suspended"] is False
    assert client.get("/auth/me", headers=alice.headers).status_code == 401  # old tokens stay revoked
    login = client.post("/auth/login", json={"email": alice.email, "password": alice.password})
    assert login.status_code == 200
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {login.json['access_token']}"}).status_code \
        == 200
    actions = [e["action"] for e in client.get("/moderation/log/", headers=admin.headers).json["results"]]
    assert actions == ["unsuspend_user", "suspend_user"]


def test_the_command_line(app, client, alice, bob):
    post_id = s.post(client, bob)["id"]
    comment_id = s.comment(client, alice, post_id)["id"]
    runner = app.test_cli_runner()
    for args in (["hide-post", str(post_id), "--reason", "cli"], ["restore-post", str(post_id)],
                 ["hide-comment", str(comment_id)], ["restore-comment", str(comment_id)],
                 ["suspend", bob.email, "--until", "2999-01-01T00:00:00"], ["unsuspend", bob.id]):
        result = runner.invoke(args=["moderation", *args])
        assert result.exit_code == 0, result.output
    assert runner.invoke(args=["moderation", "suspend", "ghost@example.com"]).exit_code != 0
    assert runner.invoke(args=["moderation", "hide-post", "999"]).exit_code != 0
    reported = report(client, alice, "ventpost", post_id).json
    assert runner.invoke(args=["moderation", "dismiss-report", str(reported["id"])]).exit_code == 0
    with app.test_request_context():
        actions, count = moderation.moderation_log(1, 20)
        assert count == 7 and all(action.actor_id is None for action in actions)
