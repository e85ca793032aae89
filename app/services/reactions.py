"""Reactions: one per user per object, and the summaries shown with posts and comments.

Writes rely on the database, not on Python checks: the unique constraint on
``(user_id, content_type, object_id)`` plus ``INSERT ... ON CONFLICT DO UPDATE`` means
parallel requests by one user can never leave two rows, and changing the type updates
the one row in place.

Nobody may react to the content of someone they block or who blocks them (403), unless it
is anonymous; an object a moderator hid (or one inside a hidden post or under a hidden
comment) does not exist for anyone but its authors and admins, and nothing done to it is
announced. An owner who must not hear from the reactor gets no notification or event.
"""
from dataclasses import dataclass

from sqlalchemy import bindparam, case, delete, func, literal, select, text
from sqlalchemy.sql import ClauseElement

from app import realtime
from app.errors import field_error
from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.comments import Comment
from app.models.posts import Post
from app.models.reactions import REACTION_TYPES, VENTPOST, Reaction
from app.schemas.reactions import ReactionEventSchema
from app.services import feed, notifications, relationships, threads
from app.services.ids import in_range

_TIE_ORDER = {kind: index for index, kind in enumerate(REACTION_TYPES)}
OBJECT_MISSING = "Object does not exist."

_event_schema = ReactionEventSchema()

# One row per user and object; a new type updates it in place, the same type again changes
# nothing (and returns no row). The same text on PostgreSQL and SQLite, compiled once (the
# dialects' upsert constructs are compiled on every call).
_UPSERT = text("""
    INSERT INTO reactions (user_id, content_type, object_id, reaction_type, created_at, updated_at)
    VALUES (:user_id, :content_type, :object_id, :reaction_type, :now, :now)
    ON CONFLICT (user_id, content_type, object_id) DO UPDATE
    SET reaction_type = excluded.reaction_type, updated_at = excluded.updated_at
    WHERE reactions.reaction_type != excluded.reaction_type
    RETURNING id""").bindparams(bindparam("now", type_=UTCDateTime()))


@dataclass
class ReactionState:
    """The caller's reaction on one object (``reaction_type`` None once removed) and the
    object's summary; what the REST response and the real-time event are made from."""

    content_type: str
    object_id: int
    user_id: str
    reaction_type: str | None
    reaction_summary: list


def _is_query(object_ids):
    return isinstance(object_ids, ClauseElement)


def _grouped(content_type, object_ids, viewer_id=None):
    """``({object_id: [(reaction_type, count), ...]}, {object_id: viewer's reaction_type})``
    in one grouped query: the viewer's reaction is the group their row is counted in.

    ``object_ids`` is a list of ids, or a SQL select of them (for a set too large to send
    as parameters, such as a post's whole comment tree). Highest count first; ties in the
    order 👍 ❤️ 😂 😢.
    """
    counts = {} if _is_query(object_ids) else {object_id: [] for object_id in object_ids}
    mine = {}
    if not _is_query(object_ids) and not object_ids:
        return counts, mine
    viewer_in_group = func.max(case((Reaction.user_id == viewer_id, 1), else_=0)) if viewer_id else literal(0)
    rows = db.session.execute(
        select(Reaction.object_id, Reaction.reaction_type, func.count(), viewer_in_group)
        .where(Reaction.content_type == content_type, Reaction.object_id.in_(object_ids))
        .group_by(Reaction.object_id, Reaction.reaction_type)
    )
    for object_id, kind, count, viewer_reacted in rows:
        counts.setdefault(object_id, []).append((kind, count))
        if viewer_reacted:
            mine[object_id] = kind
    for entries in counts.values():
        entries.sort(key=lambda entry: (-entry[1], _TIE_ORDER.get(entry[0], len(_TIE_ORDER))))
    return counts, mine


def summaries(content_type, object_ids):
    """``{object_id: [(reaction_type, count), ...]}`` for many objects in one grouped query."""
    return _grouped(content_type, object_ids)[0]


def viewer_reactions(content_type, object_ids, user_id):
    """``{object_id: reaction_type}`` of one user's reactions, in one query."""
    if user_id is None or (not _is_query(object_ids) and not object_ids):
        return {}
    rows = db.session.execute(
        select(Reaction.object_id, Reaction.reaction_type)
        .where(Reaction.content_type == content_type, Reaction.object_id.in_(object_ids),
               Reaction.user_id == user_id)
    )
    return dict(rows.all())


def annotate(objects, content_type, viewer_id, ids=None):
    """Set ``reaction_summary`` and ``user_reaction`` on each object: one query in all.

    ``ids``: a SQL select of the objects' ids to use in place of the list of them.
    """
    if ids is None:
        ids = [obj.id for obj in objects]
    counts, mine = _grouped(content_type, ids, viewer_id)
    for obj in objects:
        obj.reaction_summary = counts.get(obj.id, [])
        obj.user_reaction = mine.get(obj.id)
    return objects


def delete_for(content_type, object_ids, batch=500):
    """Delete every reaction on the given objects, in batches of ids (no caller commit)."""
    object_ids = list(object_ids)
    for start in range(0, len(object_ids), batch):
        db.session.execute(delete(Reaction).where(
            Reaction.content_type == content_type, Reaction.object_id.in_(object_ids[start:start + batch])))


def _target(content_type, object_id, lock):
    """The Post or Comment reacted to, or None.

    ``lock`` takes ``FOR KEY SHARE`` on PostgreSQL (nothing on SQLite, where writers are
    serialized anyway): until this transaction ends the row cannot be deleted, so a
    reaction is never stored on an object that a concurrent delete has just removed,
    while counter updates on the same row (views, comments) are not blocked.
    """
    if not in_range(object_id):
        return None
    model = Post if content_type == VENTPOST else Comment
    query = select(model).where(model.id == object_id)
    if lock:
        query = query.with_for_update(read=True, key_share=True)
    return db.session.scalar(query)


def _owner_and_post(content_type, target):
    """``(owner_id, post_id)``: whose content it is, and the post whose group hears of it."""
    if content_type == VENTPOST:
        return target.user_id, target.id
    return target.user_id, target.post_id


def _thread(content_type, target):
    """The Thread of the object: the post alone, or the comment's chain up to its post."""
    if content_type == VENTPOST:
        return threads.Thread(target, [])
    return threads.thread_of(target.id)


def _state(actor_id, content_type, object_id, reaction_type):
    summary = summaries(content_type, [object_id])[object_id]
    return ReactionState(content_type, object_id, actor_id, reaction_type, summary)


def add_reaction(actor, *, content_type, object_id, reaction_type):
    """Add the caller's reaction, or change its type: always exactly one row.

    Returns a ReactionState. An unknown object is a 400 on ``object_id``.
    """
    actor_id = actor.id
    target = _target(content_type, object_id, lock=True)
    thread = _thread(content_type, target) if target is not None else None
    if thread is None or thread.post is None or threads.hidden_from(thread, actor):
        db.session.rollback()
        raise field_error("object_id", OBJECT_MISSING)
    owner_id, post_id = _owner_and_post(content_type, target)
    quiet = relationships.standing(actor_id, [owner_id])
    relationships.ensure_can_interact(actor_id, [(owner_id, target.anonymous)], quiet)
    now = utcnow()
    changed = db.session.execute(_UPSERT, {
        "user_id": actor_id, "content_type": content_type, "object_id": object_id,
        "reaction_type": reaction_type, "now": now}).scalar() is not None
    announce = changed and not thread.hidden
    notified = (notifications.record_reaction(actor, content_type, target, owner_id, quiet) if announce
                else [])
    hide_with = thread.named_authors()  # read before the commit expires what it reads
    db.session.commit()

    # Committed: refresh caches and tell clients. The summary is read now, so that of two
    # overlapping reactions the later event counts both. A repeated identical reaction
    # changed nothing, so it is not announced again.
    state = _state(actor_id, content_type, object_id, reaction_type)
    if changed and content_type == VENTPOST:
        feed.invalidate()  # a post's summary shows in the feed; a comment's does not
    if announce:
        realtime.reaction_updated(_event_schema.dump(state), post_id, actor_id, owner_id, added=True,
                                  hide_with=hide_with, notify_owner=owner_id not in quiet)
    notifications.enqueue_pushes(notified)
    return state


def remove_reaction(actor, *, content_type, object_id):
    """Remove the caller's reaction on an object, if there is one (the API answers 204 either way)."""
    actor_id = actor.id
    target = _target(content_type, object_id, lock=False)
    owner_id, post_id = _owner_and_post(content_type, target) if target is not None else (None, None)
    thread = _thread(content_type, target) if target is not None else None
    removed = 0
    if in_range(object_id):
        removed = db.session.execute(delete(Reaction).where(
            Reaction.user_id == actor_id, Reaction.content_type == content_type,
            Reaction.object_id == object_id)).rowcount
    # Else nothing changed that anyone can see (or only its authors and admins can).
    announce = bool(removed) and thread is not None and thread.post is not None and not thread.hidden
    db.session.commit()

    # Committed: refresh caches and tell clients.
    if not announce:
        return
    if content_type == VENTPOST:
        feed.invalidate()
    state = _state(actor_id, content_type, object_id, None)
    realtime.reaction_updated(_event_schema.dump(state), post_id, actor_id, owner_id, added=False,
                              hide_with=thread.named_authors())
