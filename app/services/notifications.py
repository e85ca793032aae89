"""Notifications: stored per recipient in the caller's transaction, pushed after commit.

The comment and reaction services call ``record_comment`` / ``record_reaction``
*inside* their transaction, before commit, so the notification rows commit or roll
back with the comment or reaction that caused them. After the commit they call
``enqueue_pushes(ids)``; if that enqueue is lost (broker down, process killed), the
periodic sweep in ``app.tasks.push`` finds the rows still pending and sends them. A
recipient without a registered device gets the row already ``no_device``, and no task.

Wording is the original document's: "{User} replied to your comment.", "{User}
commented on your post.", and "New Reaction" / "{User} reacted to your {post/comment}.".
The document gives no title for the comment kinds; they are "New Comment" and
"New Reply", after "New Reaction". An anonymous comment is "Someone commented on your
post." / "Someone replied to your comment." and its row has no actor at all.

Nobody hears from someone they blocked, who blocked them or whom they muted: such a
notification is not stored (nor pushed), even for anonymous content; a list leaves out
what came from someone hidden from its reader since, and what was about content a
moderator hid.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, exists, func, or_, select, text, update
from sqlalchemy.orm import joinedload

from app import jobs
from app.errors import NotFound
from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.comments import Comment
from app.models.notifications import (COMMENT, PUSH_NO_DEVICE, PUSH_PENDING, REACTION, REPLY, Notification,
                                      NotificationPreference)
from app.models.posts import Post
from app.models.reactions import VENTPOST
from app.models.users import User
from app.pagination import check_page
from app.services import relationships
from app.services.ids import ensure_id
from app.services.sql import insert_on_conflict

TITLES = {COMMENT: "New Comment", REPLY: "New Reply", REACTION: "New Reaction"}
SOMEONE = "Someone"
# The preference column that switches each kind on or off.
PREFERENCE_OF_KIND = {COMMENT: "comments", REPLY: "replies", REACTION: "reactions"}
PREFERENCE_FIELDS = tuple(PREFERENCE_OF_KIND.values())


def _actor_name(actor_id):
    return db.session.get(User, actor_id).display_name


def _insert_statement(preference):
    """``INSERT ... SELECT ... WHERE`` the recipient has not switched ``preference`` off
    ``ON CONFLICT (dedupe_key) DO NOTHING RETURNING id``: one round trip, the same text on
    PostgreSQL and SQLite, and (unlike the dialects' upsert constructs) compiled once.
    A recipient without a device gets the row already ``no_device``: nothing to push, no
    task enqueued."""
    return text(f"""
        INSERT INTO notifications (recipient_id, actor_id, kind, post_id, comment_id, title, message,
                                   dedupe_key, read, push_state, push_attempts, push_next_at, created_at)
        SELECT :recipient_id, :actor_id, :kind, :post_id, :comment_id, :title, :message, :dedupe_key, false,
               CASE WHEN has_device THEN :pending ELSE :no_device END, 0,
               CASE WHEN has_device THEN :push_next_at END, :created_at
        FROM (SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = :recipient_id) AS has_device) AS recipient
        WHERE NOT EXISTS (SELECT 1 FROM notification_preferences
                          WHERE user_id = :recipient_id AND NOT {preference})
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id, push_state""").bindparams(bindparam("push_next_at", type_=UTCDateTime()),
                                                bindparam("created_at", type_=UTCDateTime()))


_INSERT_OF_KIND = {kind: _insert_statement(preference) for kind, preference in PREFERENCE_OF_KIND.items()}


def _add(*, recipient_id, actor_id, kind, message, dedupe_key, post_id, comment_id, anonymous=False):
    """Insert one notification unless its kind is switched off or ``dedupe_key`` exists
    (an ``anonymous`` actor is not stored).

    Two racing transactions cannot both store one, and neither fails. Returns the new id
    when it is to be pushed, else None.
    """
    if recipient_id == actor_id:
        return None
    now = utcnow()
    sweep_after = timedelta(seconds=current_app.config["PUSH_SWEEP_AFTER_SECONDS"])
    row = db.session.execute(_INSERT_OF_KIND[kind], {
        "recipient_id": recipient_id, "actor_id": None if anonymous else actor_id, "kind": kind,
        "post_id": post_id, "comment_id": comment_id, "title": TITLES[kind], "message": message,
        "dedupe_key": dedupe_key, "pending": PUSH_PENDING, "no_device": PUSH_NO_DEVICE,
        "push_next_at": now + sweep_after, "created_at": now}).first()
    return row.id if row is not None and row.push_state == PUSH_PENDING else None


def record_comment(comment, post, parent=None, quiet=None):
    """Notifications for a new comment or reply; call inside the transaction, before commit.

    The parent comment's owner gets "replied to your comment"; the post's owner gets
    "commented on your post" unless they wrote the comment or the reply was to their
    own comment (one notification per person per comment, as the real-time events do).
    ``quiet``: the owners who must not hear from the commenter (computed when None).
    Returns the ids of the rows to push, for ``enqueue_pushes`` after the commit.
    """
    if comment.id is None:
        db.session.flush()
    actor_id, anonymous = comment.user_id, bool(comment.anonymous)
    replied_to = parent.user_id if parent is not None and parent.user_id != actor_id else None
    if quiet is None:
        quiet = relationships.standing(actor_id, [replied_to, post.user_id])
    name = SOMEONE if anonymous else _actor_name(actor_id)
    created = []
    if replied_to is not None and replied_to not in quiet:
        created.append(_add(recipient_id=replied_to, actor_id=actor_id, kind=REPLY, anonymous=anonymous,
                            message=f"{name} replied to your comment.",
                            dedupe_key=f"reply:{comment.id}", post_id=post.id, comment_id=comment.id))
    if post.user_id not in (actor_id, replied_to) and post.user_id not in quiet:
        created.append(_add(recipient_id=post.user_id, actor_id=actor_id, kind=COMMENT, anonymous=anonymous,
                            message=f"{name} commented on your post.",
                            dedupe_key=f"comment:{comment.id}", post_id=post.id, comment_id=comment.id))
    return [notification_id for notification_id in created if notification_id is not None]


def record_reaction(actor, content_type, target, owner_id, quiet=None):
    """The owner's "New Reaction" notification; call inside the transaction, before commit.

    ``target`` is the Post or Comment reacted to. One notification per reactor per
    object, ever: changing (or removing and re-adding) a reaction stores nothing new.
    Nothing when the owner must not hear from the reactor (``quiet``, computed when None).
    Returns the ids of the rows to push (zero or one).
    """
    actor_id = actor.id
    if quiet is None:
        quiet = relationships.standing(actor_id, [owner_id])
    if owner_id in quiet:
        return []
    is_post = content_type == VENTPOST
    name = actor.display_name
    notification_id = _add(
        recipient_id=owner_id, actor_id=actor_id, kind=REACTION,
        message=f"{name} reacted to your {'post' if is_post else 'comment'}.",
        dedupe_key=f"reaction:{content_type}:{target.id}:{actor_id}",
        post_id=target.id if is_post else target.post_id, comment_id=None if is_post else target.id)
    return [notification_id] if notification_id is not None else []


def enqueue_pushes(notification_ids):
    """After commit: one push task per new notification (a lost one is sent by the sweep)."""
    for notification_id in notification_ids or ():
        jobs.enqueue(jobs.SEND_PUSH, notification_id)


def _listed(user_id):
    """SQL criteria of the notifications ``user_id``'s list shows: theirs, not from someone
    hidden from them, not about a comment or (someone else's) post a moderator hid."""
    hidden_comment = exists().where(Comment.id == Notification.comment_id, Comment.hidden_at.is_not(None))
    hidden_post = exists().where(Post.id == Notification.post_id, Post.hidden_at.is_not(None),
                                 Post.user_id != user_id)
    return (Notification.recipient_id == user_id,
            or_(Notification.actor_id.is_(None), ~relationships.hides(user_id, Notification.actor_id)),
            or_(Notification.kind == REACTION, ~hidden_comment), ~hidden_post)


def list_notifications(user_id, page, page_size):
    """``(notifications, count)``: one page, newest first, actors joined in (two queries)."""
    count = db.session.scalar(select(func.count()).select_from(Notification).where(*_listed(user_id)))
    check_page(page, page_size, count)
    items = db.session.scalars(
        select(Notification).options(joinedload(Notification.actor))
        .where(*_listed(user_id))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    return items, count


def unread_count(user_id):
    return db.session.scalar(
        select(func.count()).select_from(Notification).where(*_listed(user_id), Notification.read.is_(False)))


def mark_read(user_id, notification_id):
    """Mark one of the caller's notifications read; someone else's is Not found."""
    ensure_id(notification_id)
    result = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.recipient_id == user_id)
        .values(read=True))
    if result.rowcount == 0:
        db.session.rollback()
        raise NotFound()
    db.session.commit()
    return db.session.scalar(
        select(Notification).options(joinedload(Notification.actor)).where(Notification.id == notification_id))


def mark_all_read(user_id):
    """Mark every unread notification of the caller read; returns how many changed."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.recipient_id == user_id, Notification.read.is_(False))
        .values(read=True))
    db.session.commit()
    return result.rowcount


def get_preferences(user_id):
    """The caller's switches: a row when they changed any, else all on."""
    preference = db.session.get(NotificationPreference, user_id)
    if preference is None:
        return {field: True for field in PREFERENCE_FIELDS}
    return {field: getattr(preference, field) for field in PREFERENCE_FIELDS}


def update_preferences(user_id, changes):
    """Upsert the caller's switches (only the fields given change); returns all of them."""
    changes = {field: bool(changes[field]) for field in PREFERENCE_FIELDS if field in changes}
    if changes:
        insert = insert_on_conflict()
        values = {field: True for field in PREFERENCE_FIELDS} | changes
        db.session.execute(
            insert(NotificationPreference).values(user_id=user_id, **values)
            .on_conflict_do_update(index_elements=["user_id"], set_=changes))
        db.session.commit()
    return get_preferences(user_id)
