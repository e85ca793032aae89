"""The moderation queue: reports grouped by the object they report, oldest first, with
how many there are, their reasons and the reported content as an admin sees it.

A page costs a fixed number of queries whatever its size: the count of objects, the page
of groups, their reasons and report ids, then the posts, comments and users it names.
"""
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models.comments import Comment
from app.models.moderation import USER, Report
from app.models.posts import Post
from app.models.reactions import VENTCOMMENT, VENTPOST
from app.models.users import User
from app.pagination import check_page
from app.schemas.comments import dump_tree
from app.schemas.moderation import ModeratedUserSchema
from app.schemas.posts import PostSchema
from app.services import moderation, posts, reactions

GROUP = (Report.content_type, Report.post_id, Report.comment_id, Report.target_user_id)
_posts = PostSchema()
_users = ModeratedUserSchema()


def _key(row):
    return (row.content_type, row.post_id, row.comment_id, row.target_user_id)


def _object_id(row):
    return {VENTPOST: row.post_id, VENTCOMMENT: row.comment_id, USER: row.target_user_id}[row.content_type]


def _contents(rows, admin):
    """``{(content_type, object_id): dumped object}`` for the page's objects."""
    post_ids = [row.post_id for row in rows if row.content_type == VENTPOST]
    comment_ids = [row.comment_id for row in rows if row.content_type == VENTCOMMENT]
    user_ids = [row.target_user_id for row in rows if row.content_type == USER]
    found = {}
    if post_ids:
        items = db.session.scalars(select(Post).options(joinedload(Post.user)).where(Post.id.in_(post_ids))).all()
        reactions.annotate(items, VENTPOST, admin.id)
        for item in posts.reveal(items, admin):
            found[(VENTPOST, item.id)] = _posts.dump(item)
    if comment_ids:
        items = db.session.scalars(
            select(Comment).options(joinedload(Comment.user)).where(Comment.id.in_(comment_ids))).all()
        reactions.annotate(items, VENTCOMMENT, admin.id)
        for item in posts.reveal(items, admin):
            item.replies = []
            found[(VENTCOMMENT, item.id)] = dump_tree([item])[0]
    if user_ids:
        for user in db.session.scalars(select(User).where(User.id.in_(user_ids))):
            found[(USER, user.id)] = _users.dump(moderation.moderated(user))
    return found


def queue(admin, status, page, page_size):
    """``(entries, count)``: one page of the reports with ``status``, grouped by object."""
    admin = posts.viewer_of(admin)
    first = func.min(Report.created_at)
    groups = select(*GROUP, func.count().label("report_count"), first.label("first_reported_at")) \
        .where(Report.status == status).group_by(*GROUP)
    count = db.session.scalar(select(func.count()).select_from(groups.subquery()))
    check_page(page, page_size, count)
    rows = db.session.execute(groups.order_by(first, *GROUP).limit(page_size).offset((page - 1) * page_size)).all()
    if not rows:
        return [], count
    mine = (Report.status == status, or_(
        Report.post_id.in_([row.post_id for row in rows if row.post_id is not None]),
        Report.comment_id.in_([row.comment_id for row in rows if row.comment_id is not None]),
        Report.target_user_id.in_([row.target_user_id for row in rows if row.target_user_id is not None])))
    reports = db.session.execute(select(*GROUP, Report.id, Report.reason).where(*mine)
                                 .order_by(Report.created_at, Report.id)).all()
    reasons, ids = {}, {}
    for report in reports:
        tally = reasons.setdefault(_key(report), {})
        tally[report.reason] = tally.get(report.reason, 0) + 1
        ids.setdefault(_key(report), []).append(report.id)
    contents = _contents(rows, admin)
    return [{"content_type": row.content_type, "object_id": _object_id(row), "report_count": row.report_count,
             "reasons": reasons.get(_key(row), {}), "first_reported_at": row.first_reported_at,
             "report_ids": ids.get(_key(row), []), "content": contents.get((row.content_type, _object_id(row)))}
            for row in rows], count
