"""The one module that names events and groups, builds envelopes and emits.

Services call the functions below after their transaction commits. Each builds one
envelope ``{"type", "data", "timestamp", "event_id"}`` and hands it to a single
``socketio.emit(type, envelope, to=[groups])``: with a Redis message queue that
reaches every web process, where Socket.IO clients get it from Flask-SocketIO and
raw ``/ws/`` clients from the bridge in ``app.sockets``. One emit to several groups
reaches each connection once, so every copy of an event carries the same id.
"""
import uuid
from datetime import UTC, datetime

from app.extensions import socketio

FEED = "ventroom_feed"

# Server -> client event types.
NEW_POST = "new_ventroom_post"
POST_UPDATED = "ventroom_post_updated"
POST_DELETED = "ventroom_post_deleted"
NEW_COMMENT = "new_ventroom_comment"
COMMENT_ON_USER_POST = "new_comment_on_user_post"
REPLY_ON_USER_COMMENT = "new_reply_on_user_comment"
COMMENT_UPDATED = "ventroom_comment_updated"
COMMENT_DELETED = "ventroom_comment_deleted"
REACTION_UPDATED = "ventroom_reaction_updated"
REACTION_ON_USER_CONTENT = {"ventpost": "new_reaction_on_user_post",
                            "ventcomment": "new_reaction_on_user_comment"}

# Replies to a client's own messages.
JOINED = "ventroom_joined"
LEFT = "ventroom_left"
POST_JOINED = "ventroom_post_joined"
POST_LEFT = "ventroom_post_left"
PONG = "pong"
ERROR = "error"


def post_group(post_id):
    return f"vent_post_{post_id}"


def user_group(user_id):
    return f"user_{user_id}"


def timestamp():
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def envelope(event_type, data):
    return {"type": event_type, "data": data, "timestamp": timestamp(), "event_id": str(uuid.uuid4())}


def is_event(namespace, payload):
    """Whether a Socket.IO emit is one of this module's events (what raw clients get)."""
    return namespace in (None, "/") and isinstance(payload, dict) and "event_id" in payload


def emit(event_type, data, groups):
    """Emit one event to the union of ``groups``; returns the envelope sent."""
    message = envelope(event_type, data)
    socketio.emit(event_type, message, to=list(dict.fromkeys(groups)), namespace="/")
    return message


def post_created(post, author_id):
    emit(NEW_POST, post, [FEED, user_group(author_id)])


def post_updated(post):
    emit(POST_UPDATED, post, [post_group(post["id"]), FEED])


def post_deleted(post_id):
    emit(POST_DELETED, {"post_id": post_id}, [post_group(post_id), FEED])


def comment_created(comment, author_id, post_owner_id, parent_owner_id=None):
    """The general event, then the personal ones; never to the author as 'on your ...'."""
    emit(NEW_COMMENT, comment, [post_group(comment["post"]), user_group(author_id)])
    replied_to = parent_owner_id if parent_owner_id not in (None, author_id) else None
    if replied_to:
        emit(REPLY_ON_USER_COMMENT, comment, [user_group(replied_to)])
    # The post's owner hears of every comment on it, once: not twice when the
    # reply was to their own comment.
    if post_owner_id not in (author_id, replied_to):
        emit(COMMENT_ON_USER_POST, comment, [user_group(post_owner_id)])


def comment_updated(comment):
    emit(COMMENT_UPDATED, comment, [post_group(comment["post"])])


def comment_deleted(comment_id, post_id):
    emit(COMMENT_DELETED, {"comment_id": comment_id, "post_id": post_id}, [post_group(post_id)])


def reaction_updated(reaction, post_id, reactor_id, owner_id, added):
    """``reaction`` is ``{content_type, object_id, reaction_summary, user_reaction, user_id}``."""
    emit(REACTION_UPDATED, reaction, [post_group(post_id), user_group(reactor_id)])
    if added and owner_id != reactor_id:
        emit(REACTION_ON_USER_CONTENT[reaction["content_type"]], reaction, [user_group(owner_id)])
