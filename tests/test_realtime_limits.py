"""Real-time resource limits on live servers, raw /ws/ and Socket.IO: the message rate (an
error, then close 1008 / disconnect), connections per user across two processes on one Redis
(raw 4429, Socket.IO connect_error; freed when they close), post groups per connection,
Socket.IO's 64 KiB frames, no query for a post a connection already checked, and a token
that expires while its socket is open (closed with 4401 at expiry)."""
import json
import time
from datetime import timedelta

import pytest
import socketio
from flask_jwt_extended import create_access_token

from app.extensions import socketio as flask_socketio
from tests.support.databases import SQLITE_ONLY, make_app

# APP_ENV=testing turns every limit off: these processes say development (with the tests' secrets).
RATE = {"APP_ENV": "development", "RATELIMIT_ENABLED": "1", "RATELIMIT_STANDARD": "100000/minute", "RATELIMIT_CREATE": "100000/minute",
        "WS_MESSAGES_PER_SECOND": "1", "WS_MESSAGE_BURST": "5"}


@pytest.fixture(scope="module")
def limited(module_stack):
    return module_stack(**RATE)


@pytest.fixture
def live(limited):
    yield limited
    limited.close_clients()


def test_raw_message_rate_warns_then_closes_1008(live):
    _, token = live.user()
    client = live.raw(token)
    for _ in range(6):  # the burst, and one more
        client.send("ping")
    # (the refusal is sent at once, so it may overtake replies still being made)
    frames = [client.received.get(timeout=5) for _ in range(6)]
    assert sorted(frame["type"] for frame in frames) == ["error"] + ["pong"] * 5
    assert [f["data"]["message"] for f in frames if f["type"] == "error"] == ["Too many messages: slow down."]
    for _ in range(5):  # dropped unanswered; the fifth is one burst past the warning
        client.send("ping")
    assert client.wait_closed() == 1008
    assert client.received.empty()


def test_socketio_message_rate_warns_then_disconnects(live):
    _, token = live.user()
    client = live.sio(token)
    for _ in range(6):
        client.send("ping")
    assert [client.expect("pong")["type"] for _ in range(5)] == ["pong"] * 5
    assert client.expect("error")["data"]["message"] == "Too many messages: slow down."
    for _ in range(8):
        if client.sio.connected:
            client.send("ping")
    deadline = time.time() + 5
    while client.sio.connected and time.time() < deadline:
        time.sleep(0.1)
    assert not client.sio.connected


def test_post_groups_per_connection_are_capped(module_stack):
    live = module_stack(MAX_GROUPS_PER_CONNECTION=3)
    _, token = live.user()
    posts = [live.new_post(token)["id"] for _ in range(4)]
    for round_, connect in enumerate((live.raw, live.sio)):
        client = connect(token)
        for post_id in posts[:3]:
            client.request("join_ventroom_post", {"post_id": post_id}, reply="ventroom_post_joined")
        refused = client.request("join_ventroom_post", {"post_id": posts[3]}, reply="error")
        assert "at most 3 posts" in refused["data"]["message"]
        client.request("join_ventroom", reply="ventroom_joined")  # the feed does not count
        assert live.api("PATCH", f"/ventroom/posts/{posts[3]}/", token,
                        json={"title": f"edited {round_}"}).status_code == 200
        update = client.expect("ventroom_post_updated")
        assert update["data"]["id"] == posts[3]  # through the feed: once, not through a post group
        client.assert_silent(0.3)
        client.request("leave_ventroom_post", {"post_id": posts[0]}, reply="ventroom_post_left")
        client.request("join_ventroom_post", {"post_id": posts[3]}, reply="ventroom_post_joined")
        client.close()
    live.close_clients()


def test_socketio_frames_over_64_kib_are_refused(live):
    _, token = live.user()
    small = live.sio(token)
    small.send("ping", {"pad": "x" * 60 * 1024})
    assert small.expect("pong")
    big = live.sio(token)
    big.send("ping", {"pad": "x" * 70 * 1024})
    deadline = time.time() + 5
    while big.sio.connected and time.time() < deadline:
        time.sleep(0.1)
    assert not big.sio.connected
    assert big.received.empty() or big.received.get()[0] != "pong"


# Two processes on one Redis ------------------------------------------------------------------

@pytest.mark.redis
def test_connections_per_user_are_capped_across_two_processes(module_stack):
    cluster = module_stack(web=2, redis=True, MAX_CONNECTIONS_PER_USER=3)
    first, second = cluster.servers
    try:
        _, token = cluster.user()
        _, other_token = cluster.user()
        opened = [cluster.raw(token, server=first), cluster.sio(token, server=second), cluster.raw(token, server=second)]
        for client in opened:
            client.request("ping", reply="pong")
        assert cluster.raw(token, server=first).wait_closed() == 4429
        refused, errors = socketio.Client(reconnection=False), []
        refused.on("connect_error", errors.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect(first.url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
        assert errors and "Too many connections" in str(errors[0]), errors
        cluster.raw(other_token, server=first).request("ping", reply="pong")  # another user is not affected
        opened[0].close()
        opened[1].close()
        deadline = time.time() + 5
        while True:  # freed once the servers saw them close
            again = cluster.raw(token, server=first)
            try:
                again.request("ping", reply="pong", timeout=1)
                break
            except AssertionError:
                assert time.time() < deadline, "the cap was not freed"
                time.sleep(0.2)
        cluster.sio(token, server=second).request("ping", reply="pong")
    finally:
        cluster.close_clients()


# Protocol, in-process: statements and token expiry ---------------------------------------------

@SQLITE_ONLY
def test_joining_a_checked_post_again_costs_no_query(app, client, alice, count_queries):
    post = client.post("/ventroom/posts/", headers=alice.headers, json={"title": "t", "content": "c"}).json
    sio = flask_socketio.test_client(app, auth={"token": alice.token})
    count_queries.reset()
    sio.emit("join_ventroom_post", {"post_id": post["id"]})
    first = count_queries.count
    assert first >= 1
    for _ in range(5):
        sio.emit("leave_ventroom_post", {"post_id": post["id"]})
        count_queries.reset()
        sio.emit("join_ventroom_post", {"post_id": post["id"]})
        assert count_queries.count == 0, count_queries.statements
    replies = [item["name"] for item in sio.get_received()]
    assert replies.count("ventroom_post_joined") == 6 and "error" not in replies
    sio.disconnect()


def test_a_token_that_expires_while_its_socket_is_open_closes_it_with_4401(live, tmp_path):
    user, _ = live.user()
    app = make_app(live.database_url, tmp_path)  # the same secrets as the server's
    with app.app_context():
        short = create_access_token(identity=user["id"], expires_delta=timedelta(seconds=3))
    expires = json.loads(__import__("base64").urlsafe_b64decode(short.split(".")[1] + "==="))["exp"]
    raw = live.raw(short)
    sio = live.sio(short)
    raw.request("ping", reply="pong")
    sio.request("ping", reply="pong")
    assert raw.wait_closed(timeout=10) == 4401
    closed_at = time.time()
    assert expires - 0.5 <= closed_at <= expires + 2.5, (expires, closed_at)
    deadline = time.time() + 3
    while sio.sio.connected and time.time() < deadline:
        time.sleep(0.1)
    assert not sio.sio.connected
