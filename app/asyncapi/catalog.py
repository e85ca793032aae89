"""What the real-time API says: every event (its groups and data), reply, client message
and raw close code, with the words the AsyncAPI document gives them (``app.asyncapi``)."""
from dataclasses import dataclass

from app import realtime
from app.schemas import realtime as data
from app.schemas.comments import CommentSchema
from app.schemas.posts import PostSchema
from app.schemas.reactions import ReactionEventSchema

ASYNCAPI_VERSION = "3.0.0"
TITLE = "Vent Room real-time API"
REPLY_ID_PATTERN = r"^r-[0-9a-f]{32}$"
TRANSPORTS = ("raw", "socketio")


def schema_ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def user_group(who):
    """The personal group of the user a placeholder names."""
    return realtime.user_group(f"{{{who}}}")


POST_GROUP = realtime.post_group("{post_id}")
PLACEHOLDERS = {
    "post_id": "the post concerned (of a comment or a reaction on a comment: its post)",
    "author_id": "who wrote the post or comment",
    "post_owner_id": "the owner of the post commented on",
    "parent_owner_id": "the owner of the comment replied to",
    "reactor_id": "who reacted",
    "owner_id": "the owner of the post or comment reacted to",
}


@dataclass(frozen=True)
class Event:
    summary: str
    data: object  # a Schema class
    groups: tuple
    description: str = ""


@dataclass(frozen=True)
class Reply:
    summary: str
    data: object
    description: str = ""


@dataclass(frozen=True)
class ClientMessage:
    summary: str
    data: object
    data_required: bool
    replies: tuple
    description: str = ""


BROADCAST = ("`data` is the REST object as every viewer sees it: `user_reaction` is null (a comment's "
             "replies are nested as the REST tree nests them).")
REACTION = "`data` carries the reactor's `user_reaction` (null once removed) and `user_id`."
EVENTS = {
    realtime.NEW_POST: Event("A post was created.", PostSchema, (realtime.FEED, user_group("author_id")), BROADCAST),
    realtime.POST_UPDATED: Event("A post was edited, or its media finished processing.", PostSchema,
                                 (POST_GROUP, realtime.FEED), BROADCAST),
    realtime.POST_DELETED: Event("A post was deleted (with its comments).", data.PostDeletedDataSchema,
                                 (POST_GROUP, realtime.FEED)),
    realtime.NEW_COMMENT: Event("A comment or a reply was created.", CommentSchema,
                                (POST_GROUP, user_group("author_id")), BROADCAST),
    realtime.COMMENT_ON_USER_POST: Event(
        "Someone else commented on (or replied under) the receiver's post.", CommentSchema,
        (user_group("post_owner_id"),),
        "Sent once per comment: not to its author, and not to the post's owner when they own the comment "
        f"replied to (they get `{realtime.REPLY_ON_USER_COMMENT}`). " + BROADCAST),
    realtime.REPLY_ON_USER_COMMENT: Event(
        "Someone else replied to the receiver's comment.", CommentSchema, (user_group("parent_owner_id"),),
        "Not sent when the reply's author owns the comment replied to. " + BROADCAST),
    realtime.COMMENT_UPDATED: Event("A comment was edited, or its media finished processing.", CommentSchema,
                                    (POST_GROUP,), BROADCAST),
    realtime.COMMENT_DELETED: Event("A comment was deleted (with every reply under it).",
                                    data.CommentDeletedDataSchema, (POST_GROUP,)),
    realtime.REACTION_UPDATED: Event("A reaction was added, changed or removed.", ReactionEventSchema,
                                     (POST_GROUP, user_group("reactor_id")), REACTION),
    realtime.REACTION_ON_USER_CONTENT["ventpost"]: Event(
        "Someone else added or changed a reaction on the receiver's post.", ReactionEventSchema,
        (user_group("owner_id"),), "Not sent when a reaction is removed. " + REACTION),
    realtime.REACTION_ON_USER_CONTENT["ventcomment"]: Event(
        "Someone else added or changed a reaction on the receiver's comment.", ReactionEventSchema,
        (user_group("owner_id"),), "Not sent when a reaction is removed. " + REACTION),
}

RESUME_REPLY = ("With `last_event_id` in the join, `data` also carries `recovered` and `replayed`, and the "
                "`replayed` missed events of the group follow this reply, oldest first, each as it was first "
                "sent; then live events.")
REPLIES = {
    realtime.JOINED: Reply("Answer to `join_ventroom`.", data.JoinedDataSchema, RESUME_REPLY),
    realtime.LEFT: Reply("Answer to `leave_ventroom`.", data.LeftDataSchema),
    realtime.POST_JOINED: Reply("Answer to `join_ventroom_post`.", data.PostJoinedDataSchema, RESUME_REPLY),
    realtime.POST_LEFT: Reply("Answer to `leave_ventroom_post`.", data.PostLeftDataSchema),
    realtime.RESUMED: Reply(
        "Right after a connection that carried `last_event_id`: the outcome of resuming the personal group.",
        data.ResumedDataSchema,
        f"The first frame of such a connection; the `replayed` missed events of `{user_group('user_id')}` follow "
        "it, oldest first, then live events. A connection without `last_event_id` gets no such frame."),
    realtime.PONG: Reply("Answer to `ping`.", data.PongDataSchema),
    realtime.ERROR: Reply(
        "A client message the server could not apply; the connection stays open.", data.ErrorDataSchema,
        "Sent for a post that does not exist, a missing or non-numeric `post_id`, one post group too many "
        "(`MAX_GROUPS_PER_CONNECTION`), the first message over the rate limit and an internal error; on the raw "
        "transport also for an unknown `type` and a frame that is not a JSON object with a string `type` (or "
        "is binary). Socket.IO ignores events it has no handler for."),
}

CLIENT_MESSAGES = {
    "join_ventroom": ClientMessage(
        f"Join the feed group `{realtime.FEED}`; with `last_event_id`, resume it.",
        data.JoinVentroomDataSchema, False, (realtime.JOINED,)),
    "leave_ventroom": ClientMessage(f"Leave `{realtime.FEED}`.", data.NoDataSchema, False, (realtime.LEFT,)),
    "join_ventroom_post": ClientMessage(
        f"Join a post's group `{POST_GROUP}`; with `last_event_id`, resume it.",
        data.JoinVentroomPostDataSchema, True, (realtime.POST_JOINED, realtime.ERROR),
        "The post must exist; a connection joins at most `MAX_GROUPS_PER_CONNECTION` posts."),
    "leave_ventroom_post": ClientMessage(f"Leave `{POST_GROUP}`.", data.PostIdDataSchema, True,
                                         (realtime.POST_LEFT, realtime.ERROR)),
    "ping": ClientMessage("Ask for a `pong` (an application-level keepalive).", data.NoDataSchema, False,
                          (realtime.PONG,)),
}
CLIENT_EXAMPLES = {
    "join_ventroom": [{}, {"last_event_id": "1764630000000-3"}],
    "join_ventroom_post": [{"post_id": 12}, {"post_id": 12, "last_event_id": "1764630000000-3"}],
    "leave_ventroom_post": [{"post_id": 12}],
}

# Raw close codes (``app.sockets.frames`` and ``app.sockets.hub`` name them).
CLOSE_CODES = [
    (1000, "", "The answer to the client's own close."),
    (1008, "Protocol error / Too many messages",
     "An invalid WebSocket frame; or still sending after the rate limit's `error` (a bucket of "
     "`WS_MESSAGE_BURST` refilled at `WS_MESSAGES_PER_SECOND`)."),
    (1009, "Message too big", "A message over `WS_MAX_MESSAGE_BYTES` (64 KiB)."),
    (1011, "Internal server error", "The server failed reading the connection."),
    (1012, "Missed events: reconnect and resume",
     "The web process lost the event log and cannot tell what the connection missed: reconnect with "
     "`last_event_id` and rejoin with it."),
    (4401, "Authentication failed / Token expired",
     "At connect: no token, a bad one, a refresh token, or a deleted user (the upgrade is answered, then "
     "closed: the connection joins nothing). Later: the access token expired; reconnect with a fresh one."),
    (4403, "(the server's reason)", "The server closed every connection of the user (a suspension)."),
    (4429, "Too many connections",
     "The user already has `MAX_CONNECTIONS_PER_USER` connections open (raw and Socket.IO, every process)."),
]
