"""Blocks and mutes: who is hidden from whom, and who may interact with whom.

``A`` blocks ``B``: neither sees the other's content (feeds, comment lists, real-time
events, notifications) and neither may comment on, reply to or react to the other's
content. ``A`` mutes ``B``: ``A`` does not see ``B``'s content nor hear from ``B``.
Anonymous content is exempt from hiding and from the interaction rule: hiding it, or
refusing it, would tell who wrote it; notifications across a block are dropped instead.

A change is two short transactions. The first locks both users' rows (the first write,
as the comments service does with a post's row), writes the relationship and gives both
users a new ``filter_token`` (the key of their cached feed pages). The second takes the
same locks again, reads who is now hidden from each of them, clears the token of a user
with nobody hidden (they read the shared feed again) and publishes the new sets to every
process (``realtime.filters_changed``) before it commits: changes for one user are
published in the order they took the lock, each reading everything committed before it,
so the last set any process applies is the current one.
"""
import secrets

from sqlalchemy import and_, delete, exists, func, or_, select, union, update

from app import realtime
from app.errors import APIError, NotFound, PermissionDenied
from app.extensions import db
from app.models.base import utcnow
from app.models.relationships import BLOCK, MUTE, Relationship
from app.models.users import User
from app.pagination import check_page
from app.services.sql import insert_on_conflict

CANNOT_INTERACT = "You cannot interact with this user."
R = Relationship


def hidden_from(user_id):
    """The ids of the users whose content ``user_id`` does not see: those they blocked or
    muted, and those who blocked them (one query)."""
    mine = select(R.target_id).where(R.user_id == user_id)
    theirs = select(R.user_id).where(R.target_id == user_id, R.kind == BLOCK)
    return frozenset(db.session.scalars(union(mine, theirs)))


def hidden_for_connection(user_id):
    """``hidden_from`` for a real-time connection, read once at connect; the connection
    is handed back at once (a socket's context may last for hours)."""
    try:
        return hidden_from(user_id)
    finally:
        db.session.rollback()


def hides(viewer_id, author):
    """SQL: ``viewer_id`` does not see content by the user in the column ``author``."""
    return exists().where(or_(and_(R.user_id == viewer_id, R.target_id == author),
                              and_(R.kind == BLOCK, R.user_id == author, R.target_id == viewer_id)))


def blocks(viewer_id, author):
    """SQL: a block between ``viewer_id`` and the user in the column ``author``, either way."""
    return exists().where(R.kind == BLOCK, or_(and_(R.user_id == viewer_id, R.target_id == author),
                                               and_(R.user_id == author, R.target_id == viewer_id)))


def blocked_among(user_id, others):
    """Of ``others``, those with a block between them and ``user_id``, either way (one query)."""
    return standing(user_id, others).blocked


def ensure_can_interact(actor_id, owners, quiet=None):
    """403 when ``actor_id`` and the author of any of ``owners`` (``(user_id, anonymous)``
    pairs: the content acted on) block each other. Anonymous content is never refused.
    ``quiet``: a ``standing`` already read for these owners."""
    standing_of = quiet if quiet is not None else standing(actor_id, [owner for owner, _ in owners])
    if any(owner in standing_of.blocked for owner, anonymous in owners if not anonymous):
        raise PermissionDenied({"detail": CANNOT_INTERACT})


class Standing(set):
    """The users of a ``standing`` who must not hear from the actor (a block either way,
    or they muted the actor): their notifications and personal events are dropped;
    ``blocked``: those with a block either way."""

    def __init__(self, quiet=(), blocked=()):
        super().__init__(quiet)
        self.blocked = set(blocked)


def standing(actor_id, others):
    """How ``actor_id`` stands with each of ``others``, in one query: a ``Standing``."""
    others = {other for other in others if other and other != actor_id}
    if not others or actor_id is None:
        return Standing()
    rows = db.session.execute(select(R.user_id, R.target_id, R.kind).where(or_(
        and_(R.user_id == actor_id, R.target_id.in_(others)),
        and_(R.target_id == actor_id, R.user_id.in_(others))))).all()
    blocked = {row.target_id if row.user_id == actor_id else row.user_id for row in rows if row.kind == BLOCK}
    muted_actor = {row.user_id for row in rows if row.target_id == actor_id and row.kind == MUTE}
    return Standing(blocked | muted_actor, blocked)


# Changes -------------------------------------------------------------------------

def _lock(user_ids, token_for):
    """Lock the users' rows, in id order (the first write of the transaction); returns
    how many exist."""
    found = 0
    for user_id in sorted(user_ids):
        found += db.session.execute(update(User).where(User.id == user_id)
                                    .values(filter_token=token_for(user_id))
                                    .execution_options(synchronize_session=False)).rowcount
    return found


def _change(actor, target_id, kind, present):
    if target_id == actor.id:
        raise APIError({"detail": f"You cannot {kind} yourself."})
    pair = (actor.id, target_id)
    if _lock(pair, lambda _user: secrets.token_hex(8)) != 2:
        db.session.rollback()
        raise NotFound()
    if present:
        changed = db.session.execute(
            insert_on_conflict()(R).values(user_id=actor.id, target_id=target_id, kind=kind, created_at=utcnow())
            .on_conflict_do_nothing().returning(R.kind)).first() is not None
    else:
        changed = db.session.execute(delete(R).where(R.user_id == actor.id, R.target_id == target_id,
                                                     R.kind == kind)).rowcount > 0
    if not changed:  # already so: nothing to save or announce
        db.session.rollback()
        return
    db.session.commit()
    publish_filters(pair)


def publish_filters(user_ids):
    """Tell every process who is now hidden from each of ``user_ids`` (see the module
    docstring for why this happens under the users' locks)."""
    _lock(user_ids, lambda _user: User.filter_token)
    hidden = {user_id: hidden_from(user_id) for user_id in user_ids}
    for user_id, ids in hidden.items():
        if not ids:
            db.session.execute(update(User).where(User.id == user_id).values(filter_token=None)
                               .execution_options(synchronize_session=False))
    realtime.filters_changed(hidden)
    db.session.commit()


def block(actor, target_id):
    _change(actor, target_id, BLOCK, True)


def unblock(actor, target_id):
    _change(actor, target_id, BLOCK, False)


def mute(actor, target_id):
    _change(actor, target_id, MUTE, True)


def unmute(actor, target_id):
    _change(actor, target_id, MUTE, False)


def list_targets(user_id, kind, page, page_size):
    """``(users, count)``: the users ``user_id`` blocked (or muted), most recent first."""
    mine = (R.user_id == user_id, R.kind == kind)
    count = db.session.scalar(select(func.count()).select_from(R).where(*mine))
    check_page(page, page_size, count)
    users = db.session.scalars(
        select(User).join(R, R.target_id == User.id).where(*mine)
        .order_by(R.created_at.desc(), User.id).limit(page_size).offset((page - 1) * page_size)).all()
    return users, count


KINDS = {"block": BLOCK, "mute": MUTE}
