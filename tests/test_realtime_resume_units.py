"""The resume machinery in one process, each race made deterministic: the Redis event log
on this run's Redis database (its own key prefix and channel), the memory log, the hub
with a listener that lags behind the log, a raw connection whose socket takes little."""
import contextlib
import json
import types
import uuid

import pytest

from app.adapters.eventlog import EVENT, Event, Replay, parse_id
from app.adapters.eventlog.memory import MemoryEventLog
from app.adapters.eventlog.redis_log import RedisEventLog
from app.sockets.hub import Hub
from app.sockets.subscriber import Subscriber
from app.sockets.raw_connection import RawConnection


def _envelope(index):
    return {"type": "new_ventroom_comment", "data": {"text": f"comment {index}"}, "timestamp": "2026-01-01T00:00:00Z"}


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def event_log(request):
    limits = {"window_seconds": 900, "backlog": 4, "replay_max": 10}
    if request.param == "memory":
        yield MemoryEventLog(**limits)
        return
    slot = request.getfixturevalue("redis_slot")
    prefix = f"resume-units-{uuid.uuid4().hex[:8]}:"
    log = RedisEventLog(slot.url, channel=prefix + "channel", prefix=prefix, **limits)
    yield log
    keys = list(log.redis.scan_iter(prefix + "*"))
    if keys:
        log.redis.delete(*keys)


def test_both_logs_keep_exactly_the_backlog_and_refuse_an_id_before_it(event_log):
    """Backlog 4: from the id of the newest event no longer kept, all 4 come back; from
    any older id the answer is not recovered (MAXLEN trimming alone left no trace)."""
    ids = [event_log.publish(_envelope(index), ["g"]) for index in range(7)]
    assert [parse_id(i) for i in ids] == sorted(parse_id(i) for i in ids)
    replay = event_log.replay("g", ids[2])
    assert replay.recovered and [event.id for event in replay.events] == ids[3:]
    assert [json.loads(event.frame)["data"]["text"] for event in replay.events] == [
        f"comment {index}" for index in range(3, 7)]
    for older in ids[:2]:
        replay = event_log.replay("g", older)
        assert (replay.recovered, replay.events) == (False, []), older
    assert event_log.replay("g", ids[-1]).recovered  # nothing after the newest


class FakeLog:
    """A log whose replay answers what the test says and whose listener the test drives."""

    delivers_in_process = False

    def __init__(self):
        self.answer = None

    def replay(self, group, last_id):
        return self.answer


class Sink(Subscriber):
    __slots__ = ("frames", "sid")
    kind = "raw"

    def __init__(self):
        super().__init__("u1")
        self.frames = []

    def send_frame(self, frame, wire=None):
        self.frames.append(json.loads(frame)["event_id"])

    def send_events(self, events):
        for event in events:
            self.send_frame(event.frame)


def _event(event_id, groups=("g",)):
    return Event(event_id, list(groups), frozenset(), json.dumps({"type": "t", "data": {}, "timestamp": "",
                                                                 "event_id": event_id}))


def test_an_event_the_replay_held_is_not_sent_again_when_the_listener_delivers_it_late():
    """The listener reads the channel behind Redis: events 2 and 3 are in the replay (the
    log's snapshot is 3) but reach the hub only after the replay was sent."""
    log = FakeLog()
    hub = Hub(log, frame_encoder=lambda frame: frame.encode())
    sub = Sink()
    hub.add(sub)
    hub.deliver(EVENT, _event("1-0"))  # the listener is at 1
    assert hub.join(sub, "g", resume=True)
    log.answer = Replay(True, "3-0", [_event("2-0"), _event("3-0")])
    outcome, events, newest = hub.resume(sub, "g", "1-0")
    sub.send_events(events)
    hub.finish_resume(sub, "g", newest)
    assert (outcome.recovered, outcome.replayed, sub.frames) == (True, 2, ["2-0", "3-0"])
    for late in ("2-0", "3-0", "4-0", "5-0"):
        hub.deliver(EVENT, _event(late))
    assert sub.frames == ["2-0", "3-0", "4-0", "5-0"]  # none twice, none missing
    assert sub.floors is None  # passed: live as before
    # An event that reaches it through another (live) group as well is sent as usual.
    hub.join(sub, "h")
    assert hub.join(sub, "g", resume=True)
    log.answer = Replay(True, "8-0", [_event("7-0")])
    outcome, events, newest = hub.resume(sub, "g", "5-0")
    sub.send_events(events)
    hub.finish_resume(sub, "g", newest)
    hub.deliver(EVENT, _event("7-0"))  # late, only in g: already replayed
    hub.deliver(EVENT, _event("8-0", ("g", "h")))  # late, also in h: h gets it
    assert sub.frames[-2:] == ["7-0", "8-0"]


def test_a_replay_is_one_write_however_little_the_socket_takes():
    """A replay longer than WS_SEND_QUEUE_SIZE does not drop a slow reader: the socket
    takes 10 bytes at a time and the queue holds 2 frames."""
    written = []
    poller = types.SimpleNamespace(write=lambda fd, data: written.append(bytes(data[:10])) or min(10, len(data)),
                                   add_writer=lambda fd, callback: None, remove_writer=lambda fd: None)
    transport = types.SimpleNamespace(app=None, lock=contextlib.nullcontext(), poller=poller,
                                      queue_size=2, rate=0, burst=1)
    conn = RawConnection(transport, 99, "u1", None)
    conn.send_events([_event(f"{index}-0") for index in range(20)])
    assert not conn.closed and conn.pending_frames == 1
    conn.send_frame(_event("21-0").frame)
    assert not conn.closed and conn.pending_frames == 2  # the replay and one live frame: within the cap
