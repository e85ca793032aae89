"""The event log in this process's memory (embedded mode: one web process, no Redis)."""
import threading
import time
from collections import deque

from app.adapters.eventlog import CONTROL, EVENT, Event, Replay, frame_prefix, parse_id


class MemoryEventLog:
    """The same log in this process's memory: embedded mode has one web process."""

    delivers_in_process = True  # publishing calls the listeners

    def __init__(self, *, window_seconds, backlog, replay_max):
        self.window_ms, self.backlog, self.replay_max = window_seconds * 1000, backlog, replay_max
        self._lock = threading.RLock()
        self._last = None  # (ms, seq)
        self._epoch = None  # this process's first id: it knows nothing from before it
        self._groups = {}  # group -> {"events": deque[Event], "trimmed": (ms, seq) | None, "touched": ms}
        self._listeners = []

    @staticmethod
    def _now_ms():
        return int(time.time() * 1000)

    def _next_id(self):
        ms = self._now_ms()
        if self._last is None or ms > self._last[0]:
            self._last = (ms, 0)
        else:
            self._last = (self._last[0], self._last[1] + 1)
        self._epoch = self._epoch or self._last
        return f"{self._last[0]}-{self._last[1]}"

    def _expire(self, now):
        for group in [g for g, state in self._groups.items() if state["touched"] < now - self.window_ms]:
            del self._groups[group]

    def publish(self, envelope, groups, users=()):
        with self._lock:
            event_id = self._next_id()
            event = Event(event_id, list(groups), frozenset(users), frame_prefix(envelope) + event_id + '"}')
            now = self._now_ms()
            self._expire(now)
            for group in groups:
                state = self._groups.setdefault(group, {"events": deque(), "trimmed": None, "touched": now})
                state["events"].append(event)
                state["touched"] = now
                if len(state["events"]) > self.backlog:
                    state["trimmed"] = parse_id(state["events"].popleft().id)
            for deliver in list(self._listeners):
                deliver(EVENT, event)  # under the lock: every listener sees id order
            return event_id

    def control(self, message):
        with self._lock:
            for deliver in list(self._listeners):
                deliver(CONTROL, message)

    def newest_id(self):
        with self._lock:
            return f"{self._last[0]}-{self._last[1]}" if self._last else "0-0"

    def replay(self, group, last_id):
        with self._lock:
            last = parse_id(last_id)
            newest = self._last or (0, 0)
            newest_id = f"{newest[0]}-{newest[1]}"
            if last > newest or (self._epoch and last < self._epoch):
                return Replay(False, newest_id)
            now = self._now_ms()
            self._expire(now)
            in_window = last[0] >= now - self.window_ms
            state = self._groups.get(group)
            if state is None:
                return Replay(in_window or last >= newest, newest_id)
            if state["trimmed"] is not None and last < state["trimmed"]:
                return Replay(False, newest_id)
            after = [event for event in state["events"] if parse_id(event.id) > last]
            if not after:
                return Replay(True, newest_id)
            if len(after) > self.replay_max or not in_window:
                return Replay(False, newest_id)
            return Replay(True, newest_id, [Event(e.id, [group], e.users, e.frame) for e in after])

    def listen(self, deliver, stop, on_connect=None):
        """Register ``deliver`` and return at once: publishing calls it directly."""
        with self._lock:
            self._listeners.append(deliver)
        if on_connect:
            on_connect()
