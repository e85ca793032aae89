"""Raw connections that vanish, or stop answering pings, leave no trace in the registry."""
import json
import socket
import time

import pytest
import requests

from tests.realtime_fixtures import Deployment

CLIENTS = 1000


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    deployment = Deployment("embedded", tmp_path_factory.mktemp("rt-dead"), WS_PING_INTERVAL=1)
    yield deployment
    deployment.stop()


def handshake(server, token):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    sock.sendall((f"GET /ws/?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


def read_upgrade(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "server closed during the handshake"
        data += chunk
    assert data.startswith(b"HTTP/1.1 101"), data[:100]


def read_text_frames(sock, count):
    """The next ``count`` server text frames (payloads under 64 KiB) as parsed JSON."""
    frames, buffer = [], b""
    while len(frames) < count:
        while True:
            if len(buffer) >= 2:
                length, offset = buffer[1] & 0x7F, 2
                if length == 126 and len(buffer) >= 4:
                    length, offset = int.from_bytes(buffer[2:4], "big"), 4
                if length != 126 and len(buffer) >= offset + length:
                    break
            chunk = sock.recv(65536)
            assert chunk, "connection closed"
            buffer += chunk
        if buffer[0] == 0x81:
            frames.append(json.loads(buffer[offset:offset + length]))
        else:  # a ping from the server (not answered: that comes later)
            assert buffer[0] == 0x89, buffer[:2]
        buffer = buffer[offset + length:]
    return frames


def masked_text(text):
    payload = text.encode()
    assert len(payload) < 126
    mask = b"\x11\x22\x33\x44"
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def stats(server):
    return requests.get(f"{server.url}/healthz", timeout=10).json()["websocket"]


def wait_for(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def test_a_thousand_vanishing_clients_leave_the_registry_empty(deployment):
    """Half drop their TCP connection without a close frame; half stay connected but never
    answer a ping (WS_PING_INTERVAL=1 here). Every one of them joined the feed and a post."""
    user, token = deployment.user()
    post = deployment.api("POST", "/ventroom/posts/", token, json={"title": "t", "content": "c"}).json()
    socks = [handshake(deployment.server, token) for _ in range(CLIENTS)]
    join_feed = masked_text('{"type":"join_ventroom"}')
    join_post = masked_text('{"type":"join_ventroom_post","data":{"post_id":%d}}' % post["id"])
    for sock in socks:
        read_upgrade(sock)
        sock.sendall(join_feed + join_post)
    for sock in socks:  # every connection is answered (none starves, e.g. for a DB connection)
        replies = read_text_frames(sock, 2)
        assert [reply["type"] for reply in replies] == ["ventroom_joined", "ventroom_post_joined"]
    # Every connection is registered, in its user group, the feed and the post group.
    assert wait_for(lambda: stats(deployment.server)["connections"] == CLIENTS, 30), stats(deployment.server)
    assert stats(deployment.server)["groups"] == 3

    vanished, silent = socks[: CLIENTS // 2], socks[CLIENTS // 2:]
    for sock in vanished:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # an RST, no close frame
    # The silent half never reads, so never answers the server's pings.
    assert wait_for(lambda: stats(deployment.server) == {"connections": 0, "groups": 0}, 30), \
        stats(deployment.server)
    for sock in silent:
        sock.close()
    # The server still serves new clients afterwards.
    client = deployment.raw(token)
    assert client.request("join_ventroom", reply="ventroom_joined")["data"]["user_id"] == user["id"]


def test_a_client_that_answers_pings_stays(deployment):
    _, token = deployment.user()
    client = deployment.raw(token)  # websocket-client answers pings by itself
    client.request("join_ventroom", reply="ventroom_joined")
    time.sleep(3.5)  # several ping intervals
    assert client.request("ping", reply="pong")
