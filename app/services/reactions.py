"""Reactions: one per user per object, and the summaries shown with posts and comments."""
from sqlalchemy import func, select

from app.extensions import db
from app.models.reactions import REACTION_TYPES, Reaction

_TIE_ORDER = {kind: index for index, kind in enumerate(REACTION_TYPES)}


def summaries(content_type, object_ids):
    """``{object_id: [(reaction_type, count), ...]}`` for many objects in one grouped query.

    Highest count first; ties in the order 👍 ❤️ 😂 😢.
    """
    result = {object_id: [] for object_id in object_ids}
    if not object_ids:
        return result
    rows = db.session.execute(
        select(Reaction.object_id, Reaction.reaction_type, func.count())
        .where(Reaction.content_type == content_type, Reaction.object_id.in_(object_ids))
        .group_by(Reaction.object_id, Reaction.reaction_type)
    )
    for object_id, kind, count in rows:
        result[object_id].append((kind, count))
    for entries in result.values():
        entries.sort(key=lambda entry: (-entry[1], _TIE_ORDER.get(entry[0], len(_TIE_ORDER))))
    return result


def viewer_reactions(content_type, object_ids, user_id):
    """``{object_id: reaction_type}`` of one user's reactions, in one query."""
    if not object_ids or user_id is None:
        return {}
    rows = db.session.execute(
        select(Reaction.object_id, Reaction.reaction_type)
        .where(Reaction.content_type == content_type, Reaction.object_id.in_(object_ids),
               Reaction.user_id == user_id)
    )
    return dict(rows.all())


def annotate(objects, content_type, viewer_id):
    """Set ``reaction_summary`` and ``user_reaction`` on each object: two queries in all."""
    ids = [obj.id for obj in objects]
    counts = summaries(content_type, ids)
    mine = viewer_reactions(content_type, ids, viewer_id)
    for obj in objects:
        obj.reaction_summary = counts.get(obj.id, [])
        obj.user_reaction = mine.get(obj.id)
    return objects
