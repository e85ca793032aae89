"""The raw /ws/ protocol and Socket.IO against a real server process, embedded and on Redis:
authentication, the client messages and their replies, errors, frame limits."""
import json

import pytest
import requests

from tests.support.clients import ENVELOPE_KEYS, RawClient


# Authentication


@pytest.mark.parametrize("query", ["", "?token=", "?token=garbage", "?token=a.b.c"])
def test_bad_or_missing_token_closes_4401(deployment, query):
    client = RawClient(deployment.server, None, path=f"/ws/{query}")
    assert client.wait_closed() == 4401


def test_refresh_token_is_refused(deployment):
    response = requests.post(f"{deployment.server.url}/auth/register", timeout=10, json={
        "email": "refresh-ws@example.com", "password": "long-enough", "display_name": "r"})
    client = RawClient(deployment.server, response.json()["refresh_token"])
    assert client.wait_closed() == 4401


def test_header_auth_and_unslashed_path(deployment):
    user, token = deployment.user()
    for kwargs in ({"header_auth": True}, {"path": "/ws"}):
        client = deployment.raw(token, **kwargs)
        joined = client.request("join_ventroom", reply="ventroom_joined")
        assert joined["data"] == {"message": "Successfully joined Ventroom", "user_id": user["id"]}


# Client messages


def test_join_leave_and_ping_replies(deployment):
    user, token = deployment.user()
    post = deployment.new_post(token)
    client = deployment.raw(token)
    joined = client.request("join_ventroom", reply="ventroom_joined")
    assert set(joined) == ENVELOPE_KEYS
    assert joined["timestamp"].endswith("Z")
    assert client.request("join_ventroom_post", {"post_id": post["id"]}, reply="ventroom_post_joined")["data"] == {
        "post_id": post["id"], "message": "Successfully joined Ventroom post"}
    assert client.request("leave_ventroom_post", {"post_id": post["id"]},
                          reply="ventroom_post_left")["data"]["post_id"] == post["id"]
    assert client.request("leave_ventroom", reply="ventroom_left")["type"] == "ventroom_left"
    assert client.request("ping", reply="pong")["data"] == {}
    # A string id is accepted as the integer it spells.
    assert client.request("join_ventroom_post", {"post_id": str(post["id"])},
                          reply="ventroom_post_joined")["data"]["post_id"] == post["id"]


@pytest.mark.parametrize("frame, message_part", [
    ("this is not json", "Invalid JSON"),
    ('{"type": "shout"}', "Unknown message type"),
    ('{"no_type": 1}', "type"),
    ("[1, 2, 3]", "type"),
    ('{"type": "join_ventroom_post", "data": {"post_id": 987654}}', "does not exist"),
    ('{"type": "join_ventroom_post", "data": {}}', "post_id"),
    ('{"type": "join_ventroom_post", "data": {"post_id": "abc"}}', "post_id"),
])
def test_errors_keep_the_connection_open(deployment, frame, message_part):
    _, token = deployment.user()
    client = deployment.raw(token)
    client.send_raw(frame)
    error = client.expect("error")
    assert set(error) == ENVELOPE_KEYS
    assert message_part in error["data"]["message"]
    assert client.request("ping", reply="pong")


def test_frame_over_64_kib_closes_1009(deployment):
    _, token = deployment.user()
    client = deployment.raw(token)
    client.send_raw(json.dumps({"type": "ping", "data": {"pad": "x" * 64 * 1024}}))
    assert client.wait_closed() == 1009


def test_frame_just_under_the_limit_is_fine(deployment):
    _, token = deployment.user()
    client = deployment.raw(token)
    client.send_raw(json.dumps({"type": "ping", "data": {"pad": "x" * 60 * 1024}}))
    assert client.expect("pong")


def test_leaving_stops_delivery(deployment):
    author, author_token = deployment.user()
    _, token = deployment.user()
    client = deployment.raw(token)
    client.request("join_ventroom", reply="ventroom_joined")
    deployment.new_post(author_token)
    client.expect("new_ventroom_post")
    client.request("leave_ventroom", reply="ventroom_left")
    deployment.new_post(author_token)
    client.assert_silent()


def test_socketio_join_leave_ping_and_auth(deployment):
    import socketio

    user, token = deployment.user()
    post = deployment.new_post(token)
    client = deployment.sio(token)
    joined = client.request("join_ventroom", reply="ventroom_joined")
    assert set(joined) == ENVELOPE_KEYS and joined["data"]["user_id"] == user["id"]
    assert client.request("join_ventroom_post", {"post_id": post["id"]},
                          reply="ventroom_post_joined")["data"]["post_id"] == post["id"]
    assert client.request("join_ventroom_post", {"post_id": 987654}, reply="error")["data"]["message"]
    assert client.request("leave_ventroom_post", {"post_id": post["id"]}, reply="ventroom_post_left")
    assert client.request("leave_ventroom", reply="ventroom_left")
    assert client.request("ping", reply="pong")
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.Client(reconnection=False).connect(deployment.server.url, auth={"token": "bad"},
                                                    transports=["websocket"], wait_timeout=5)
