"""Live servers and real clients (raw /ws/ and Socket.IO): anonymity in everything a
second user receives and a block filtering the very next event, embedded and on Redis.
(Two processes on one Redis: test_safety_cluster.py.)"""

from tests.support import safety as s


def test_an_anonymous_author_is_in_no_frame_another_user_receives(deployment):
    writer, reader = s.person(deployment, "quietwriterx9"), s.person(deployment, "readerx9")
    clients = [s.joined(deployment.raw(reader.token)), s.joined(deployment.sio(reader.token))]
    readers_post = deployment.api("POST", "/ventroom/posts/", reader.token, json={"title": "r", "content": "c"}).json()
    created = deployment.api("POST", "/ventroom/posts/", writer.token,
                             json={"title": "t", "content": "c", "anonymous": True}).json()
    for client in clients:
        client.expect("new_ventroom_post")
        client.expect("new_ventroom_post")
        client.request("join_ventroom_post", {"post_id": created["id"]}, reply="ventroom_post_joined")
    deployment.api("PATCH", f"/ventroom/posts/{created['id']}/", writer.token, json={"content_warning": "cw"})
    deployment.api("POST", f"/ventroom/posts/{readers_post['id']}/comments/", writer.token,
                   json={"text": "same", "anonymous": True})
    deployment.api("POST", f"/ventroom/posts/{created['id']}/comments/", writer.token,
                   json={"text": "more", "anonymous": True})
    for client in clients:
        got = s.frames(client)
        types = [item["type"] if isinstance(item, dict) else item[0] for item in got]
        assert {"ventroom_post_updated", "new_comment_on_user_post", "new_ventroom_comment"} <= set(types), types
        assert s.traces(got, writer) == []
    for path in ("/ventroom/posts/", f"/ventroom/posts/{created['id']}/", "/notifications/",
                 f"/ventroom/posts/{created['id']}/comments/"):
        response = deployment.api("GET", path, reader.token)
        assert s.traces({"body": response.json(), "headers": dict(response.headers)}, writer) == []
    assert deployment.api("GET", "/notifications/", reader.token).json()["results"][0]["actor"] is None


def test_a_block_filters_the_very_next_event_on_open_connections(deployment):
    alice, bob, carol = (s.person(deployment, name) for name in ("alicebl", "bobbl", "carolbl"))
    clients = [s.joined(deployment.raw(alice.token)), s.joined(deployment.sio(alice.token))]
    assert deployment.api("POST", f"/users/{bob.id}/block", alice.token).status_code == 204
    deployment.api("POST", "/ventroom/posts/", bob.token, json={"title": "hidden", "content": "c"})
    deployment.api("POST", "/ventroom/posts/", carol.token, json={"title": "shown", "content": "c"})
    for client in clients:
        assert client.expect("new_ventroom_post")["data"]["title"] == "shown"
        client.assert_silent()
    assert deployment.api("DELETE", f"/users/{bob.id}/block", alice.token).status_code == 204
    deployment.api("POST", "/ventroom/posts/", bob.token, json={"title": "again", "content": "c"})
    for client in clients:
        assert client.expect("new_ventroom_post")["data"]["title"] == "again"

