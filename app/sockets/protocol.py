"""The client-message protocol shared by raw ``/ws/`` and Socket.IO connections.

A session is a ``subscriber.Subscriber`` with ``join(group, resume)``, ``leave(group)``,
``reply(type, data)`` and ``send_events(events)``. ``handle`` applies one client message
and sends its answer; a join that carries ``last_event_id`` resumes the group: the reply
gains ``recovered`` and ``replayed``, then come the missed events, then live ones.
"""
import json

from flask import current_app

from app import realtime
from app.services import posts

POST_GROUP_PREFIX = realtime.post_group("")
MAX_CHECKED = 1000  # posts a connection remembers having checked
TOO_MANY_MESSAGES = "Too many messages: slow down."  # the warning of both transports' message rate


class ProtocolError(Exception):
    """Answered with an ``error`` frame; the connection stays open."""


def _post_id(data):
    post_id = data.get("post_id") if isinstance(data, dict) else None
    if isinstance(post_id, bool) or not isinstance(post_id, (int, str)):
        raise ProtocolError("post_id is required and must be an integer.")
    try:
        return int(post_id)
    except ValueError:
        raise ProtocolError("post_id is required and must be an integer.") from None


def _resume_from(data):
    """The ``last_event_id`` a join carries: None when absent; anything else present is
    taken as given (a malformed one is answered ``recovered: false``)."""
    if not isinstance(data, dict) or "last_event_id" not in data:
        return None
    value = data["last_event_id"]
    return value if isinstance(value, str) else ""


def join_group(session, group, reply_type, reply, last_event_id):
    """Join, answer, and replay what ``last_event_id`` missed (see the module docstring)."""
    if last_event_id is None:
        session.join(group)
        session.reply(reply_type, reply)
        return
    hub = current_app.extensions["realtime_hub"]
    if not session.join(group, resume=True):
        return
    outcome, events, newest = hub.resume(session, group, last_event_id)
    session.reply(reply_type, {**reply, "recovered": outcome.recovered, "replayed": outcome.replayed})
    session.send_events(events)
    hub.finish_resume(session, group, newest)


def join_ventroom(session, data):
    reply = {"message": "Successfully joined Ventroom", "user_id": session.user_id}
    join_group(session, realtime.FEED, realtime.JOINED, reply, _resume_from(data))


def leave_ventroom(session, data):
    session.leave(realtime.FEED)
    session.reply(realtime.LEFT, {"message": "Successfully left Ventroom", "user_id": session.user_id})


def _check_post(session, post_id):
    """The post exists and the user may open it: not hidden by a moderator unless theirs
    or they are an admin, no block with its named author (asked of the database once per
    connection and post)."""
    if post_id in session.checked_posts:
        return
    if not posts.joinable(post_id, session.user_id):
        raise ProtocolError(f"Post {post_id} does not exist.")
    if len(session.checked_posts) >= MAX_CHECKED:
        session.checked_posts.clear()
    session.checked_posts.add(post_id)


def join_ventroom_post(session, data):
    post_id = _post_id(data)
    group = realtime.post_group(post_id)
    if group not in session.groups:
        cap = current_app.config["MAX_GROUPS_PER_CONNECTION"]
        if sum(1 for joined in session.groups if joined.startswith(POST_GROUP_PREFIX)) >= cap:
            raise ProtocolError(f"A connection can join at most {cap} posts; leave one first.")
    _check_post(session, post_id)
    reply = {"post_id": post_id, "message": "Successfully joined Ventroom post"}
    join_group(session, group, realtime.POST_JOINED, reply, _resume_from(data))


def leave_ventroom_post(session, data):
    post_id = _post_id(data)
    session.leave(realtime.post_group(post_id))
    session.reply(realtime.POST_LEFT, {"post_id": post_id, "message": "Successfully left Ventroom post"})


def ping(session, data):
    session.reply(realtime.PONG, {})


HANDLERS = {
    "join_ventroom": join_ventroom,
    "leave_ventroom": leave_ventroom,
    "join_ventroom_post": join_ventroom_post,
    "leave_ventroom_post": leave_ventroom_post,
    "ping": ping,
}


def resume_own_group(session, last_event_id):
    """At connect: replay the personal group after ``last_event_id`` behind a
    ``ventroom_resumed`` frame. The session joined its group with ``resume=True``."""
    hub = current_app.extensions["realtime_hub"]
    group = realtime.user_group(session.user_id)
    outcome, events, newest = hub.resume(session, group, last_event_id)
    session.reply(realtime.RESUMED, {"recovered": outcome.recovered, "replayed": outcome.replayed})
    session.send_events(events)
    hub.finish_resume(session, group, newest)


def handle(session, message_type, data):
    """Apply one client message; a ProtocolError is answered with an ``error`` frame."""
    try:
        handler = HANDLERS.get(message_type)
        if handler is None:
            raise ProtocolError(f"Unknown message type: {message_type!r}.")
        handler(session, data or {})
    except ProtocolError as err:
        session.reply(realtime.ERROR, {"message": str(err)})


def handle_frame(session, raw):
    """One raw ``/ws/`` text frame: a JSON object with a string ``type``."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError, RecursionError):
        session.reply(realtime.ERROR, {"message": "Invalid JSON."})
        return
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        session.reply(realtime.ERROR, {"message": "A message is a JSON object with a string 'type'."})
        return
    handle(session, message["type"], message.get("data"))
