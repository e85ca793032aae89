"""Moderation by admins (``actor`` None: the command line): hide and restore posts and
comments, dismiss reports, suspend and unsuspend users; every change is logged.

Hiding takes a post or comment (a comment with its replies) out of every feed, list and
group at once: the change commits, the feed cache turns over, and the delete event goes
to its groups, so connected clients drop it; only its author and admins can still read
it (``hidden: true``). Hiding resolves the object's open reports. Restoring announces it
again as new. A suspension revokes the user's tokens (``app.services.suspensions``) and
closes their sockets on every process with 4403. An action that changes nothing is not
logged again.
"""
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from app import realtime
from app.errors import APIError, NotFound, field_error
from app.extensions import db
from app.models.base import utcnow
from app.models.comments import Comment
from app.models.moderation import DISMISSED, OPEN, RESOLVED, USER, ModerationAction, Report
from app.models.posts import Post
from app.models.reactions import VENTCOMMENT, VENTPOST
from app.models.users import User
from app.pagination import check_page
from app.schemas.comments import dump_tree
from app.services import comment_trees, comments, feed, posts, suspensions, threads
from app.services.ids import ensure_id
from app.services.posts import Viewer

SUSPENDED_CLOSE = 4403
# What the command line sees as: everything, as an admin does.
CONSOLE = Viewer(None, True)
# The column of a report that names its object, by content type.
OBJECT_COLUMNS = {VENTPOST: Report.post_id, VENTCOMMENT: Report.comment_id, USER: Report.target_user_id}


def _log(actor, action, content_type, object_id, reason):
    db.session.add(ModerationAction(actor_id=actor.id if actor else None, action=action, content_type=content_type,
                                    object_id=str(object_id), reason=reason, created_at=utcnow()))


def _resolve(column, object_id, now):
    db.session.execute(update(Report).where(column == object_id, Report.status == OPEN)
                       .values(status=RESOLVED, open_key=None, resolved_at=now)
                       .execution_options(synchronize_session=False))


def _viewer(actor):
    return posts.viewer_of(actor) if actor is not None else CONSOLE


def _locked(model, object_id):
    ensure_id(object_id)
    obj = db.session.scalar(select(model).where(model.id == object_id).with_for_update())
    if obj is None:
        raise NotFound()
    return obj


def set_post_hidden(actor, post_id, hidden, reason=None):
    """Hide or restore a post; returns it as an admin sees it."""
    viewer = _viewer(actor)
    post = _locked(Post, post_id)
    if (post.hidden_at is not None) == hidden:
        db.session.rollback()
        return posts.load_post(post_id, viewer)
    now = utcnow()
    post.hidden_at = now if hidden else None
    if hidden:
        _resolve(Report.post_id, post_id, now)
    _log(actor, "hide_post" if hidden else "restore_post", VENTPOST, post_id, reason)
    db.session.commit()
    feed.invalidate()
    post = posts.load_post(post_id, viewer)
    if hidden:
        realtime.post_deleted(post_id)
    else:
        realtime.post_restored(posts.broadcast_data(post), post.user_id, post.anonymous)
    return post


def set_comment_hidden(actor, comment_id, hidden, reason=None):
    """Hide or restore a comment (its replies go and come with it); returns it, with its
    replies, as an admin sees it."""
    viewer = _viewer(actor)
    comment = _locked(Comment, comment_id)
    post_id = comment.post_id
    if (comment.hidden_at is not None) != hidden:
        now = utcnow()
        comment.hidden_at = now if hidden else None
        if hidden:
            _resolve(Report.comment_id, comment_id, now)
        _log(actor, "hide_comment" if hidden else "restore_comment", VENTCOMMENT, comment_id, reason)
        db.session.commit()
        _announce_comment(post_id, comment_id, hidden)
    else:
        db.session.rollback()
    return comments.get_comment(post_id, comment_id, viewer)


def _announce_comment(post_id, comment_id, hidden):
    if hidden:
        realtime.comment_deleted(comment_id, post_id)
        return
    thread = threads.thread_of(comment_id)
    if thread is None or thread.hidden:  # still inside something hidden: nobody else sees it
        return
    root = comments.get_comment(post_id, comment_id, None)
    realtime.comment_restored(dump_tree([root], broadcast=True)[0], root.user_id, anonymous=root.anonymous,
                              hide_with=[*thread.named_authors(), *comment_trees.tree_authors(root)])


def dismiss_report(actor, report_id, reason=None):
    """Dismiss a report, and with it every open report on the same object (the queue's
    entry); returns the report."""
    report = _locked(Report, report_id)
    if report.status == OPEN:
        column = OBJECT_COLUMNS[report.content_type]
        db.session.execute(
            update(Report).where(Report.content_type == report.content_type, column == report.object_id,
                                 Report.status == OPEN)
            .values(status=DISMISSED, open_key=None, resolved_at=utcnow()).execution_options(synchronize_session=False))
        _log(actor, "dismiss_report", report.content_type, report.object_id, reason)
        db.session.commit()
    else:
        db.session.rollback()
    return db.session.get(Report, report_id)


def _user(user_id):
    user = db.session.get(User, user_id) if isinstance(user_id, str) else None
    if user is None:
        raise NotFound()
    return user


def moderated(user):
    """The user's moderation state (``ModeratedUserSchema``)."""
    suspended = suspensions.is_suspended(user)
    return {"id": user.id, "display_name": user.display_name, "profile_photo": user.profile_photo,
            "suspended": suspended, "suspended_until": user.suspended_until if suspended else None}


def suspend(actor, user_id, until=None, reason=None):
    """Suspend a user until ``until`` (None: for good): their tokens are revoked now and
    their sockets closed on every process."""
    user = _user(user_id)
    if actor is not None and user.id == actor.id:
        raise APIError({"detail": "You cannot suspend yourself."})
    now = utcnow()
    if until is not None and until <= now:
        raise field_error("until", "Must be in the future (or null: for good).")
    user.suspended_at, user.suspended_until, user.tokens_revoked_at = now, until, now
    _log(actor, "suspend_user", USER, user.id, reason)
    db.session.commit()
    suspensions.revoke_tokens(user.id, now)
    realtime.close_user(user.id, SUSPENDED_CLOSE, "Account suspended")
    return moderated(user)


def unsuspend(actor, user_id, reason=None):
    """Lift a suspension: the user may log in again (their old tokens stay revoked)."""
    user = _user(user_id)
    if user.suspended_at is not None:
        user.suspended_at = user.suspended_until = None
        _log(actor, "unsuspend_user", USER, user.id, reason)
        db.session.commit()
    else:
        db.session.rollback()
    return moderated(user)


def moderation_log(page, page_size):
    """``(actions, count)``: the log, newest first."""
    count = db.session.scalar(select(func.count()).select_from(ModerationAction))
    check_page(page, page_size, count)
    actions = db.session.scalars(
        select(ModerationAction).options(joinedload(ModerationAction.actor))
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
        .limit(page_size).offset((page - 1) * page_size)).all()
    return actions, count
