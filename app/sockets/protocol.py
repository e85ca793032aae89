"""The client-message protocol shared by raw ``/ws/`` and Socket.IO connections.

A session is anything with ``user_id``, ``join(group)`` and ``leave(group)``.
``handle`` applies one client message and returns the reply ``(type, data)``.
"""
from app import realtime
from app.services import posts


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


def join_ventroom(session, data):
    session.join(realtime.FEED)
    return realtime.JOINED, {"message": "Successfully joined Ventroom", "user_id": session.user_id}


def leave_ventroom(session, data):
    session.leave(realtime.FEED)
    return realtime.LEFT, {"message": "Successfully left Ventroom", "user_id": session.user_id}


def join_ventroom_post(session, data):
    post_id = _post_id(data)
    if not posts.post_exists(post_id):
        raise ProtocolError(f"Post {post_id} does not exist.")
    session.join(realtime.post_group(post_id))
    return realtime.POST_JOINED, {"post_id": post_id, "message": "Successfully joined Ventroom post"}


def leave_ventroom_post(session, data):
    post_id = _post_id(data)
    session.leave(realtime.post_group(post_id))
    return realtime.POST_LEFT, {"post_id": post_id, "message": "Successfully left Ventroom post"}


def ping(session, data):
    return realtime.PONG, {}


HANDLERS = {
    "join_ventroom": join_ventroom,
    "leave_ventroom": leave_ventroom,
    "join_ventroom_post": join_ventroom_post,
    "leave_ventroom_post": leave_ventroom_post,
    "ping": ping,
}


def handle(session, message_type, data):
    handler = HANDLERS.get(message_type)
    if handler is None:
        raise ProtocolError(f"Unknown message type: {message_type!r}.")
    return handler(session, data or {})
