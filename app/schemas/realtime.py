"""The ``data`` of real-time frames that are not REST objects: the events' own data, the
replies, and what clients send.

Documentation only: ``app.asyncapi`` turns these into the schemas of ``GET /asyncapi.json``
(the frames themselves are built by ``app.realtime`` and ``app.sockets``; the test of the
document checks frames captured from a live server against them). The REST objects
(posts, comments, reactions) are described by their own schemas.
"""
from marshmallow import EXCLUDE, Schema, fields, validate

EVENT_ID_PATTERN = r"^[0-9]+-[0-9]+$"
EVENT_ID = ('An event\'s `event_id` ("<milliseconds>-<sequence>", ordered numerically by both parts). '
            "A malformed one (a bare number included), one from the future or one past the window is "
            "answered `recovered: false`.")


# Data of events ---------------------------------------------------------------------------


class PostDeletedDataSchema(Schema):
    post_id = fields.Integer(required=True)


class CommentDeletedDataSchema(Schema):
    comment_id = fields.Integer(required=True)
    post_id = fields.Integer(required=True)


# Data of replies --------------------------------------------------------------------------


class ResumeOutcomeMixin:
    """Present when the join carried ``last_event_id``."""

    recovered = fields.Boolean(metadata={"description": (
        "Only when the join carried `last_event_id`. true: every event of the group after that id "
        "follows this reply (`replayed` of them, oldest first), then live ones. false: nothing is "
        "replayed (the group is joined all the same); refetch over REST.")})
    replayed = fields.Integer(validate=validate.Range(min=0), metadata={"description": (
        "Only when the join carried `last_event_id`: how many missed events follow this reply.")})


class JoinedDataSchema(ResumeOutcomeMixin, Schema):
    message = fields.String(required=True, metadata={"examples": ["Successfully joined Ventroom"]})
    user_id = fields.String(required=True)


class LeftDataSchema(Schema):
    message = fields.String(required=True, metadata={"examples": ["Successfully left Ventroom"]})
    user_id = fields.String(required=True)


class PostJoinedDataSchema(ResumeOutcomeMixin, Schema):
    post_id = fields.Integer(required=True)
    message = fields.String(required=True, metadata={"examples": ["Successfully joined Ventroom post"]})


class PostLeftDataSchema(Schema):
    post_id = fields.Integer(required=True)
    message = fields.String(required=True, metadata={"examples": ["Successfully left Ventroom post"]})


class ResumedDataSchema(Schema):
    recovered = fields.Boolean(required=True, metadata={"description": (
        "true: every event of the personal group after `last_event_id` follows (`replayed` of them, "
        "oldest first), then live ones; false: nothing is replayed, refetch over REST.")})
    replayed = fields.Integer(required=True, validate=validate.Range(min=0))


class PongDataSchema(Schema):
    """Always ``{}``."""


class ErrorDataSchema(Schema):
    message = fields.String(required=True, metadata={"examples": ["Post 12 does not exist."]})


# Data of client messages ---------------------------------------------------------------------
# The server ignores keys it does not know (EXCLUDE: no additionalProperties: false).


class ResumeFromMixin:
    last_event_id = fields.String(metadata={"pattern": EVENT_ID_PATTERN, "description": (
        "Resume the group: replay what it had after this id (the last event id the client saw, from "
        "any group, or a REST read's `Last-Event-ID`). Without it the join behaves as it always did: "
        f"no `recovered`, no `replayed`, no replay. {EVENT_ID}")})


class JoinVentroomDataSchema(ResumeFromMixin, Schema):
    class Meta:
        unknown = EXCLUDE


class PostIdDataSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    post_id = fields.Raw(required=True, metadata={
        "type": ["integer", "string"], "pattern": r"^\s*[-+]?[0-9]+\s*$",
        "description": "A post's id: a number, or a numeric string."})


class JoinVentroomPostDataSchema(ResumeFromMixin, PostIdDataSchema):
    class Meta:
        unknown = EXCLUDE


class NoDataSchema(Schema):
    """Messages that take no data: whatever is sent is ignored."""

    class Meta:
        unknown = EXCLUDE
