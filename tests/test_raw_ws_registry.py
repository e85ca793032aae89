"""The raw-connection registry and its bounded per-connection queues, without a network."""
import json
import socket

from app.sockets import raw_ws


class FakeWS:
    """Enough of simple_websocket.Server for RawConnection: a socket pair to write to."""

    def __init__(self):
        self.sock, self.peer = socket.socketpair()
        self.connected = True


def connection(registry, queue_size=8):
    return raw_ws.RawConnection(FakeWS(), "user-1", registry, queue_size)


def test_one_copy_per_connection_whatever_its_groups():
    registry = raw_ws.RawRegistry()
    both, feed_only, outsider = connection(registry), connection(registry), connection(registry)
    for group in ("ventroom_feed", "user_1"):
        both.join(group)
    feed_only.join("ventroom_feed")
    outsider.join("vent_post_9")
    registry.deliver({"type": "new_ventroom_post", "event_id": "e1"}, ["ventroom_feed", "user_1"])
    assert both.outbox.qsize() == 1 and feed_only.outbox.qsize() == 1 and outsider.outbox.qsize() == 0
    assert json.loads(both.outbox.get_nowait())["event_id"] == "e1"


def test_a_frame_is_serialized_once_per_event(monkeypatch):
    registry = raw_ws.RawRegistry()
    connections = [connection(registry) for _ in range(50)]
    for conn in connections:
        conn.join("ventroom_feed")
    calls = []
    real_dumps = json.dumps
    monkeypatch.setattr(raw_ws.json, "dumps", lambda obj: calls.append(obj) or real_dumps(obj))
    registry.deliver({"type": "x", "event_id": "e"}, "ventroom_feed")
    assert len(calls) == 1
    frames = {conn.outbox.get_nowait() for conn in connections}
    assert len(frames) == 1  # everyone gets the same frame


def test_a_full_queue_drops_only_that_client():
    registry = raw_ws.RawRegistry()
    slow, fast = connection(registry, queue_size=3), connection(registry, queue_size=100)
    for conn in (slow, fast):
        conn.join("ventroom_feed")
        conn.join("vent_post_1")
    for index in range(10):  # no writer runs: the slow client's queue fills after 3
        registry.deliver({"type": "x", "event_id": str(index)}, "ventroom_feed")
        fast.outbox.get_nowait()
    assert slow.closed and slow.groups == set()
    assert registry.stats() == {"connections": 1, "groups": 2}
    assert slow.ws.peer.recv(1) == b""  # its socket was shut down: the reader will clean up
    registry.deliver({"type": "x", "event_id": "after"}, "vent_post_1")
    assert json.loads(fast.outbox.get_nowait())["event_id"] == "after"


def test_leaving_and_finishing_empty_the_registry():
    registry = raw_ws.RawRegistry()
    conn = connection(registry)
    conn.join("ventroom_feed")
    conn.join("vent_post_3")
    conn.leave("vent_post_3")
    assert registry.stats() == {"connections": 1, "groups": 1}
    conn.finish()
    assert registry.stats() == {"connections": 0, "groups": 0}
    conn.join("ventroom_feed")  # a late join after the end registers nothing
    assert registry.stats() == {"connections": 0, "groups": 0}
