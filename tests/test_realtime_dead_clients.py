"""Raw connections that vanish, or stop answering pings, leave no trace in the registry."""
import socket
import time

import pytest
import requests

from tests.support.wire import handshake, masked_text, read_text_frames, read_upgrade

CLIENTS = 1000


@pytest.fixture
def deployed(module_stack):
    """One embedded web process for the module's tests, pinging every 3 seconds (a silent
    client is dropped within two intervals, after the 1,000 have joined even on a loaded
    machine), with room for 1,000 connections of one user; the clients a test opens are
    closed after it."""
    stack = module_stack(WS_PING_INTERVAL=3, MAX_CONNECTIONS_PER_USER=CLIENTS + 10)
    yield stack
    stack.close_clients()


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


def test_a_thousand_vanishing_clients_leave_the_registry_empty(deployed):
    """Half drop their TCP connection without a close frame; half stay connected but never
    answer a ping (WS_PING_INTERVAL=3 here). Every one of them joined the feed and a post."""
    user, token = deployed.user()
    post = deployed.api("POST", "/ventroom/posts/", token, json={"title": "t", "content": "c"}).json()
    socks = [handshake(deployed.server, token) for _ in range(CLIENTS)]
    join_feed = masked_text('{"type":"join_ventroom"}')
    join_post = masked_text('{"type":"join_ventroom_post","data":{"post_id":%d}}' % post["id"])
    for sock in socks:
        read_upgrade(sock)
        sock.sendall(join_feed + join_post)
    for sock in socks:  # every connection is answered (none starves, e.g. for a DB connection)
        replies = read_text_frames(sock, 2)
        assert [reply["type"] for reply in replies] == ["ventroom_joined", "ventroom_post_joined"]
    # Every connection is registered, in its user group, the feed and the post group.
    assert wait_for(lambda: stats(deployed.server)["connections"] == CLIENTS, 30), stats(deployed.server)
    assert stats(deployed.server)["groups"] == 3

    vanished, silent = socks[: CLIENTS // 2], socks[CLIENTS // 2:]
    for sock in vanished:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # an RST, no close frame
    # The silent half never reads, so never answers the server's pings.
    assert wait_for(lambda: stats(deployed.server) == {"connections": 0, "socketio": 0, "groups": 0}, 30), \
        stats(deployed.server)
    for sock in silent:
        sock.close()
    # The server still serves new clients afterwards.
    client = deployed.raw(token)
    assert client.request("join_ventroom", reply="ventroom_joined")["data"]["user_id"] == user["id"]


def test_a_client_that_answers_pings_stays(deployed):
    _, token = deployed.user()
    client = deployed.raw(token)  # websocket-client answers pings by itself
    client.request("join_ventroom", reply="ventroom_joined")
    time.sleep(7)  # more than two ping intervals
    assert client.request("ping", reply="pong")
