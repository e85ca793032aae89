"""The one module that names events and groups, builds envelopes and emits.

Services call the functions below after their transaction commits. Each builds one
envelope ``{"type", "data", "timestamp", "event_id"}`` and publishes it, once, to the
union of its groups through the deployment's event log (``app.adapters.eventlog``):
the log gives it its ordered id (``"<ms>-<seq>"``), keeps it in each group's backlog for
resuming clients, and every web process delivers it to its raw ``/ws/`` and Socket.IO
subscribers in id order (``app.sockets.hub``). Every copy of an event carries the same id.

``users`` names whose blocks and mutes hide an event (its author, the owners of what it
is in: the post, the comments above it); anonymous content never names its author, so no
filter can reveal who wrote it. Personal events (``new_*_on_user_*``) across a block or
from a muted user are not sent at all.
Replies to a client's own messages are not events: their ``event_id`` is ``r-<hex>``,
not a position to resume from.
"""
import logging
import uuid
from datetime import UTC, datetime

from flask import current_app

from app import metrics
from app.adapters.eventlog.memory import MemoryEventLog
from app.adapters.eventlog.redis_log import RedisEventLog

log = logging.getLogger(__name__)

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
EVENT_TYPES = (NEW_POST, POST_UPDATED, POST_DELETED, NEW_COMMENT, COMMENT_ON_USER_POST, REPLY_ON_USER_COMMENT,
               COMMENT_UPDATED, COMMENT_DELETED, REACTION_UPDATED, *REACTION_ON_USER_CONTENT.values())

# Replies to a client's own messages.
JOINED = "ventroom_joined"
LEFT = "ventroom_left"
POST_JOINED = "ventroom_post_joined"
POST_LEFT = "ventroom_post_left"
RESUMED = "ventroom_resumed"
PONG = "pong"
ERROR = "error"
REPLY_TYPES = (JOINED, LEFT, POST_JOINED, POST_LEFT, RESUMED, PONG, ERROR)

# Control messages (ordered with the events, never sent to clients).
FILTER, CLOSE_USER = "filter", "close_user"


def init_app(app):
    """The event log of this deployment: Redis when configured, else this process."""
    config = app.config
    limits = {"window_seconds": config["REALTIME_RESUME_SECONDS"], "backlog": config["REALTIME_BACKLOG_EVENTS"],
              "replay_max": config["REALTIME_REPLAY_MAX"]}
    if config["REDIS_URL"]:
        app.extensions["event_log"] = RedisEventLog(config["REDIS_URL"], channel=config["SOCKETIO_CHANNEL"],
                                                    **limits)
    else:
        app.extensions["event_log"] = MemoryEventLog(**limits)


def event_log():
    return current_app.extensions["event_log"]


def newest_event_id():
    """The newest id the deployment has issued (``0-0`` before the first), or None when
    the log cannot be reached."""
    try:
        return event_log().newest_id()
    except Exception:
        log.warning("event log unreachable: no Last-Event-ID", exc_info=True)
        return None


def post_group(post_id):
    return f"vent_post_{post_id}"


def user_group(user_id):
    return f"user_{user_id}"


def timestamp():
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def envelope(event_type, data):
    """A reply's envelope (an event's id comes from the log when it is published)."""
    return {"type": event_type, "data": data, "timestamp": timestamp(), "event_id": f"r-{uuid.uuid4().hex}"}


def emit(event_type, data, groups, users=()):
    """Publish one event to the union of ``groups``; returns its id, or None if the log
    could not be reached (the write it announces has committed: logged, not raised)."""
    message = {"type": event_type, "data": data, "timestamp": timestamp()}
    try:
        event_id = event_log().publish(message, list(dict.fromkeys(groups)), [user for user in users if user])
        metrics.EVENTS_PUBLISHED.inc()
        return event_id
    except Exception:
        log.error("event %s to %s could not be published", event_type, groups, exc_info=True)
        return None


def _control(message):
    try:
        event_log().control(message)
    except Exception:
        log.error("control message %s could not be published", message.get("op"), exc_info=True)


def filters_changed(hidden_by_user):
    """``{user_id: [user ids hidden from them]}``: every process updates those users'
    connections before it delivers the next event."""
    _control({"op": FILTER, "users": {user: sorted(hidden) for user, hidden in hidden_by_user.items()}})


def close_user(user_id, code, reason):
    """Close every connection of ``user_id``, on every process."""
    _control({"op": CLOSE_USER, "user": user_id, "code": code, "reason": reason})


def _named(author_id, anonymous):
    """Who an event names for the filters: nobody for anonymous content (anonymity wins
    over blocks: a dropped event would tell who wrote it)."""
    return [] if anonymous else [author_id]


def post_created(post, author_id, anonymous=False):
    emit(NEW_POST, post, [FEED, user_group(author_id)], _named(author_id, anonymous))


def post_restored(post, author_id, anonymous=False):
    """A post a moderator restored comes back as it first came: ``new_ventroom_post``."""
    emit(NEW_POST, post, [FEED, post_group(post["id"]), user_group(author_id)], _named(author_id, anonymous))


def post_updated(post, author_id, anonymous=False):
    emit(POST_UPDATED, post, [post_group(post["id"]), FEED], _named(author_id, anonymous))


def post_deleted(post_id):
    """Also when a moderator hides it: it disappears for everyone."""
    emit(POST_DELETED, {"post_id": post_id}, [post_group(post_id), FEED])


def comment_created(comment, author_id, post_owner_id, parent_owner_id=None, *, hide_with=(), anonymous=False,
                    quiet=()):
    """The general event, then the personal ones; never to the author as 'on your ...'.

    ``hide_with``: users whose filters hide it besides its author (the named authors of
    the post and of the comments it replies to: a hidden comment hides its replies).
    ``quiet``: owners who must not hear of it personally (a block either way, or they
    muted its author): their ``new_*_on_user_*`` is not sent at all, even for an
    anonymous comment, whose event names nobody a filter could match."""
    users = [*_named(author_id, anonymous), *hide_with]
    emit(NEW_COMMENT, comment, [post_group(comment["post"]), user_group(author_id)], users)
    replied_to = parent_owner_id if parent_owner_id not in (None, author_id) else None
    if replied_to and replied_to not in quiet:
        emit(REPLY_ON_USER_COMMENT, comment, [user_group(replied_to)], users)
    # The post's owner hears of every comment on it, once: not twice when the
    # reply was to their own comment.
    if post_owner_id not in (author_id, replied_to) and post_owner_id not in quiet:
        emit(COMMENT_ON_USER_POST, comment, [user_group(post_owner_id)], users)


def comment_restored(comment, author_id, *, hide_with=(), anonymous=False):
    """A comment a moderator restored comes back, with its replies, as ``new_ventroom_comment``
    (``hide_with`` names the repliers too: it carries their replies)."""
    emit(NEW_COMMENT, comment, [post_group(comment["post"])], [*_named(author_id, anonymous), *hide_with])


def comment_updated(comment, author_id, *, hide_with=(), anonymous=False):
    """``hide_with``: the named authors above it and of the replies it carries."""
    emit(COMMENT_UPDATED, comment, [post_group(comment["post"])], [*_named(author_id, anonymous), *hide_with])


def comment_deleted(comment_id, post_id):
    """Also when a moderator hides it: it disappears, with its replies, for everyone."""
    emit(COMMENT_DELETED, {"comment_id": comment_id, "post_id": post_id}, [post_group(post_id)])


def reaction_updated(reaction, post_id, reactor_id, owner_id, *, added, hide_with=(), notify_owner=True):
    """``reaction`` is ``{content_type, object_id, reaction_summary, user_reaction, user_id}``.

    ``hide_with``: the named authors of what it is on (the object, its post, the comments
    above it); ``notify_owner`` False when the owner must not hear from the reactor."""
    users = [reactor_id, *hide_with]
    emit(REACTION_UPDATED, reaction, [post_group(post_id), user_group(reactor_id)], users)
    if added and notify_owner and owner_id != reactor_id:
        emit(REACTION_ON_USER_CONTENT[reaction["content_type"]], reaction, [user_group(owner_id)], users)
