"""The deployment's ordered event log: ids, per-group backlogs, fan-out and replay.

An event gets its id and is published in one atomic step: a Lua script takes the next
id of the deployment's one sequence (``"<ms>-<seq>"``, the form of a Redis stream id),
appends the event to the backlog stream of each of its groups (``MAXLEN`` = the backlog
cap, expiring ``window`` after the group's last event) and PUBLISHes it on the channel
every web process listens to. Redis runs scripts one at a time and delivers a channel's
messages in order, so every process receives events in increasing id order, its own
included, and no event is delivered live that is not already in its backlogs.

``replay(group, last_id)`` answers, atomically, whether everything of ``group`` after
``last_id`` is still known (``recovered``) and returns it; see ``REPLAY`` for the rules.
Control messages (``control``) travel on the same channel, so they are ordered with the
events around them.

Two implementations, one interface: ``redis_log.RedisEventLog`` (every deployment with
Redis) and ``memory.MemoryEventLog``, the same behaviour within one process (embedded
mode). This module holds what both share: ids, events and their wire form.
"""
import json
import re
from dataclasses import dataclass, field

EVENT_ID = re.compile(r"^[0-9]+-[0-9]+$")
EVENT, CONTROL = "E", "C"


def parse_id(event_id):
    """``(ms, seq)`` of a well-formed id, or None."""
    if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
        return None
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


@dataclass
class Event:
    """One event as every process receives it."""

    id: str
    groups: list
    users: frozenset  # whose blocks and mutes hide it
    frame: str  # the envelope, serialized once

    @classmethod
    def from_stored(cls, group, event_id, frame, users):
        return cls(event_id, [group], frozenset(filter(None, (users or "").split(","))), frame)


@dataclass
class Replay:
    recovered: bool
    newest: str  # the deployment's newest id when the backlog was read
    events: list = field(default_factory=list)


def frame_prefix(envelope):
    """The envelope serialized up to the opening quote of its ``event_id`` (last key)."""
    body = json.dumps({**envelope, "event_id": ""}, ensure_ascii=False, separators=(",", ":"))
    return body[:-2]


def channel_header(groups, users):
    """The line between an event's id and its frame on the channel: its groups and users."""
    return json.dumps({"g": groups, "u": sorted(users)}, separators=(",", ":"))


def decode(message):
    """``(EVENT, Event)`` or ``(CONTROL, dict)`` from a channel message."""
    text = message.decode() if isinstance(message, bytes) else message
    if text[0] == CONTROL:
        return CONTROL, json.loads(text[1:])
    event_id, header, frame = text[1:].split("\n", 2)
    header = json.loads(header)
    return EVENT, Event(event_id, header["g"], frozenset(header["u"]), frame)
