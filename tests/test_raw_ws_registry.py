"""The raw-connection registry and its bounded per-connection queues, without a network."""
import json
import socket
import threading
import time

from wsproto.events import Ping

from app.sockets import raw_ws


class FakeWS:
    """Enough of simple_websocket.Server for RawConnection: a socket pair to write to, and
    a wsproto connection that frames what is sent."""

    def __init__(self):
        self.sock, self.peer = socket.socketpair()
        self.connected = True
        self.pong_received = True
        self.ws = Framer()


class Framer:
    """Frames the two kinds of event the writer sends (short ones), as wsproto would."""

    def send(self, event):
        if isinstance(event, Ping):
            return b"\x89\x00"
        payload = event.data.encode()
        return b"\x81" + bytes([len(payload)]) + payload


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


def test_the_writer_pings_and_drops_a_client_that_does_not_answer():
    registry = raw_ws.RawRegistry()
    answering, silent = connection(registry), connection(registry)
    for conn in (answering, silent):
        conn.ping_interval = 0.05
        conn.join("ventroom_feed")
        conn.start()
    received = []

    def answer_pings():  # as a browser does: every ping gets its pong
        answering.ws.peer.settimeout(1)
        while not answering.closed:
            try:
                frame = answering.ws.peer.recv(64)
            except OSError:
                return
            received.append(frame)
            answering.ws.pong_received = True

    threading.Thread(target=answer_pings, daemon=True).start()
    time.sleep(0.5)
    assert silent.closed and not answering.closed
    assert sum(frame.startswith(b"\x89") for frame in received) >= 3
    assert registry.stats() == {"connections": 1, "groups": 1}
    registry.deliver({"type": "x", "event_id": "still-here"}, "ventroom_feed")
    time.sleep(0.1)
    answering.finish()
    assert any(b"still-here" in frame for frame in received)
