"""This process's subscribers (raw ``/ws/`` connections and Socket.IO sessions) and the
delivery of the event log's messages to them.

The event log's listener calls ``deliver`` for every message, one at a time and in id
order. An event goes to every local subscriber in any of its groups, once, unless that
subscriber's filter hides it (the users it blocked, who blocked it or it muted, against
the users the event names) or the group is being resumed for it: then the event waits
in that group's buffer until the replay has been sent (``finish_resume``), which drops
what the replay already held (also what this process's listener, behind Redis, delivers
after the replay up to the replay's snapshot). Raw connections get the frame as
serialized once per event; Socket.IO sessions get one ``emit`` to the groups that skips
the others.

Control messages travel the same ordered path: a filter change applies before the next
event, on every process; a suspension closes the user's subscribers everywhere.
"""
import json
import logging
import threading
from dataclasses import dataclass

from app import metrics
from app.adapters.eventlog import CONTROL, EVENT, Event, parse_id

log = logging.getLogger(__name__)

FILTER, CLOSE_USER = "filter", "close_user"
RESTART = 1012  # "service restart": the client should reconnect (and resume)


@dataclass
class Resume:
    recovered: bool
    replayed: int


class Hub:
    def __init__(self, event_log, socketio_emit=None, frame_encoder=None):
        self.log = event_log
        self._emit = socketio_emit  # emit(type, envelope, groups, skip_sids)
        self._encode = frame_encoder  # serialized envelope -> bytes for raw sockets
        self._lock = threading.RLock()
        self._groups = {}  # group -> set of subscribers
        self._users = {}  # user id -> set of subscribers
        self.subscribers = set()
        self.last_id = None  # of the last event delivered
        self.filter_changes = 0  # control messages that changed filters, so far
        self._floor = None  # after a resync: events up to here were delivered by it
        self._listening = False

    # Membership ---------------------------------------------------------------

    def add(self, sub):
        with self._lock:
            self.subscribers.add(sub)
            self._users.setdefault(sub.user_id, set()).add(sub)
        metrics.CONNECTIONS.labels(sub.kind).inc()

    def load_filter(self, sub, hidden_for):
        """Set ``sub``'s filter from ``hidden_for(user_id)`` (a database read) once it is
        registered: a change that arrives while the read runs is read again, never lost."""
        while True:
            seen = self.filter_changes
            hidden = frozenset(hidden_for(sub.user_id))
            with self._lock:
                if self.filter_changes == seen:
                    sub.hidden = hidden
                    return

    def remove(self, sub):
        with self._lock:
            if sub not in self.subscribers:
                sub.closed = True
                return
            metrics.CONNECTIONS.labels(sub.kind).dec()
            sub.closed = True
            for group in list(sub.groups):
                self._leave(sub, group)
            self.subscribers.discard(sub)
            mine = self._users.get(sub.user_id)
            if mine is not None:
                mine.discard(sub)
                if not mine:
                    del self._users[sub.user_id]

    def _leave(self, sub, group):
        members = self._groups.get(group)
        if members is not None:
            members.discard(sub)
            if not members:
                del self._groups[group]
        sub.groups.discard(group)
        if sub.buffers:
            sub.buffers.pop(group, None)
        if sub.floors:
            sub.floors.pop(group, None)

    def join(self, sub, group, resume=False):
        """Add ``sub`` to ``group``; with ``resume`` its live events wait in a buffer until
        ``finish_resume``. Returns False if the subscriber is already closed."""
        with self._lock:
            if sub.closed:
                return False
            self._groups.setdefault(group, set()).add(sub)
            sub.groups.add(group)
            if resume:
                if sub.buffers is None:
                    sub.buffers = {}
                sub.buffers[group] = []
            return True

    def leave(self, sub, group):
        with self._lock:
            self._leave(sub, group)

    def resume(self, sub, group, last_event_id):
        """Replay ``group`` after ``last_event_id`` for ``sub`` (already joined with
        ``resume=True``): ``(Resume, events)``; send the reply, then the events, then
        call ``finish_resume``."""
        if parse_id(last_event_id) is None:
            replay = None
        else:
            try:
                replay = self.log.replay(group, last_event_id)
            except Exception:  # the log is unreachable: the client must refetch
                log.warning("replay of %s failed", group, exc_info=True)
                replay = None
        if replay is None:
            return Resume(False, 0), [], None
        events = [event for event in replay.events if not sub.hides(event)] if replay.recovered else []
        return Resume(replay.recovered, len(events)), events, replay.newest

    def finish_resume(self, sub, group, newest):
        """Send what arrived live while ``group`` was resumed and came after the replay's
        snapshot (``newest``), then deliver live. If this process's listener has not yet
        delivered everything up to the snapshot (it reads the channel behind Redis), what
        of ``group`` it still delivers up to there was in the replay: it is skipped."""
        horizon = parse_id(newest) if newest else None
        with self._lock:
            waiting = (sub.buffers or {}).pop(group, [])
            if sub.buffers == {}:
                sub.buffers = None
            for event in waiting:
                if horizon is None or parse_id(event.id) > horizon:
                    sub.send_frame(event.frame)
            if horizon is not None and group in sub.groups and (
                    self.last_id is None or parse_id(self.last_id) < horizon):
                if sub.floors is None:
                    sub.floors = {}
                sub.floors[group] = horizon

    # Delivery -----------------------------------------------------------------

    def deliver(self, kind, payload):
        try:
            if kind == EVENT:
                self._deliver_event(payload)
            elif kind == CONTROL:
                self._control(payload)
        except Exception:  # one bad message must not stop the listener
            log.exception("delivery of a %s message failed", kind)

    def _deliver_event(self, event):
        position = parse_id(event.id)
        with self._lock:
            if self._floor is not None and position <= self._floor:
                return
            self.last_id = event.id
            targets = set()
            for group in event.groups:
                targets.update(self._groups.get(group, ()))
            if not targets:
                return
            wire = None
            skipped, raw, sio = [], 0, 0
            for sub in targets:
                if sub.hides(event) or self._held(sub, event) or self._replayed(sub, event, position):
                    if sub.kind == "sio":
                        skipped.append(sub.sid)
                    continue
                if sub.kind == "raw":
                    if wire is None:
                        wire = self._encode(event.frame)
                    sub.send_frame(event.frame, wire)
                    raw += 1
                else:
                    sio += 1
            if sio and self._emit is not None:
                envelope = json.loads(event.frame)
                self._emit(envelope["type"], envelope, event.groups, skipped)
        metrics.EVENTS_DELIVERED.labels("raw").inc(raw)
        metrics.EVENTS_DELIVERED.labels("socketio").inc(sio)

    @staticmethod
    def _held(sub, event):
        """Whether every group ``event`` reaches ``sub`` through is being resumed: then it
        waits in those buffers instead of going out now."""
        if not sub.buffers:
            return False
        through = [group for group in event.groups if group in sub.groups]
        if not all(group in sub.buffers for group in through):
            return False
        for group in through:
            sub.buffers[group].append(event)
        return True

    @staticmethod
    def _replayed(sub, event, position):
        """Whether every group ``event`` reaches ``sub`` through was already replayed past
        it (see ``finish_resume``); a floor the listener has passed is dropped."""
        if not sub.floors:
            return False
        covered = True
        for group in event.groups:
            if group not in sub.groups:
                continue
            floor = sub.floors.get(group)
            if floor is None or position > floor:
                covered = False
                if floor is not None:
                    del sub.floors[group]
        if not sub.floors:
            sub.floors = None
        return covered

    def _control(self, message):
        op = message.get("op")
        if op == FILTER:  # {"users": {user_id: [hidden ids]}}
            with self._lock:
                self.filter_changes += 1
                for user_id, hidden in message["users"].items():
                    for sub in self._users.get(user_id, ()):
                        sub.hidden = frozenset(hidden)
        elif op == CLOSE_USER:  # {"user": id, "code": 4403, "reason": "..."}
            with self._lock:
                subs = list(self._users.get(message["user"], ()))
            for sub in subs:
                sub.close(message.get("code", 4403), message.get("reason", ""))

    def connected(self):
        """The listener (re)subscribed. After a reconnect, what this process missed
        meanwhile is delivered from the backlogs, in id order, before anything live;
        subscribers of a group whose backlog cannot tell are closed, so that their
        clients resume themselves (raw close code 1012)."""
        if not self._listening:
            self._listening = True
            return
        last = self.last_id
        if last is None:
            return
        missed, lost, floor = {}, [], parse_id(last)
        for group in self.groups_here():
            try:
                replay = self.log.replay(group, last)
            except Exception:
                replay = None
            if replay is None or not replay.recovered:
                lost.append(group)
                continue
            floor = max(floor, parse_id(replay.newest))
            for event in replay.events:
                missed.setdefault(event.id, Event(event.id, [], event.users, event.frame)).groups.append(group)
        for event in sorted(missed.values(), key=lambda event: parse_id(event.id)):
            self._deliver_event(event)
        with self._lock:
            self._floor = floor
            doomed = {sub for group in lost for sub in self._groups.get(group, ())}
        for sub in doomed:
            sub.close(RESTART, "Missed events: reconnect and resume")
        log.warning("event log listener reconnected: %d events caught up, %d subscribers asked to resume",
                    len(missed), len(doomed))

    def stats(self):
        with self._lock:
            raw = sum(1 for sub in self.subscribers if sub.kind == "raw")
            return {"connections": raw, "groups": len(self._groups),
                    "socketio": len(self.subscribers) - raw}

    def groups_here(self):
        with self._lock:
            return list(self._groups)
