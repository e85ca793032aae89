"""Reading comments: a post's trees of replies (or a page of them), one comment with its
replies, and the thread a comment sits in.

Reads are built for a fixed number of queries whatever the size or depth of a tree:
the comments (authors joined) in one query, their reaction summaries in one grouped
query and the viewer's reactions in one more; the tree is assembled in memory.

What a viewer's lists leave out is decided in SQL, in the same queries: a recursive CTE
walks down from the top-level comments and does not descend into a comment hidden by a
moderator or written (under their name) by someone hidden from the viewer (a block
either way, a mute), so such a comment disappears with every reply beneath it.
"""
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from app.errors import NotFound
from app.extensions import db
from app.models.comments import Comment
from app.models.reactions import VENTCOMMENT
from app.pagination import check_page
from app.services import posts, reactions, relationships
from app.services.ids import ensure_id
from app.services.threads import MAX_REPLY_DEPTH, Thread, may_see, thread_of

__all__ = ["MAX_REPLY_DEPTH", "Thread", "thread_of"]

NEWEST_FIRST = (Comment.created_at.desc(), Comment.id.desc())


def shown(viewer_id):
    """SQL: the comment row itself is one ``viewer_id``'s lists show (None: anyone's)."""
    criteria = [Comment.hidden_at.is_(None)]
    if viewer_id is not None:
        criteria.append(or_(Comment.anonymous, ~relationships.hides(viewer_id, Comment.user_id)))
    return and_(*criteria)


def visible_ids(anchor, viewer_id, anchor_shown=True):
    """A select of the ids of the comments matching ``anchor`` and of every reply beneath
    them that the viewer's lists show, down to any depth: one recursive CTE. A reply under
    a comment that is not shown is not shown either."""
    start = and_(anchor, shown(viewer_id)) if anchor_shown else anchor
    tree = select(Comment.id).where(start).cte("visible", recursive=True)
    tree = tree.union_all(select(Comment.id).where(Comment.parent_id == tree.c.id, shown(viewer_id)))
    return select(tree.c.id)


def forest(criterion, ids, viewer):
    """The comments matching ``criterion`` as trees: the roots, newest first, each with
    ``replies`` (newest first) down to the leaves. Three queries, whatever the size.

    ``ids`` is a select of the same comments' ids, for the reaction queries. A comment
    whose parent is not among them is a root.
    """
    comments = db.session.scalars(
        select(Comment).options(joinedload(Comment.user)).where(criterion).order_by(*NEWEST_FIRST)
    ).all()
    reactions.annotate(comments, VENTCOMMENT, viewer.id if viewer else None, ids=ids)
    posts.reveal(comments, viewer)
    by_id = {comment.id: comment for comment in comments}
    roots = []
    for comment in comments:
        comment.replies = []
    for comment in comments:  # newest first, so every list of siblings is too
        parent = by_id.get(comment.parent_id)
        (parent.replies if parent is not None else roots).append(comment)
    return roots


def _top_level(post_id, viewer_id):
    return and_(Comment.post_id == post_id, Comment.parent_id.is_(None), shown(viewer_id))


def list_comments(post_id, viewer):
    """Every comment of a post the viewer's lists show, as trees of replies, newest first."""
    posts.readable_post(post_id, viewer)
    ids = visible_ids(and_(Comment.post_id == post_id, Comment.parent_id.is_(None)), viewer.id)
    return forest(Comment.id.in_(ids), ids, viewer)


def list_comment_page(post_id, viewer, page, page_size):
    """``(roots, count)``: one page of the post's top-level comments, each with its
    whole reply tree; ``count`` is the number of top-level comments shown."""
    posts.readable_post(post_id, viewer)
    count = db.session.scalar(select(func.count()).select_from(Comment).where(_top_level(post_id, viewer.id)))
    check_page(page, page_size, count)
    page_ids = (select(Comment.id).where(_top_level(post_id, viewer.id)).order_by(*NEWEST_FIRST)
                .limit(page_size).offset((page - 1) * page_size))
    ids = visible_ids(Comment.id.in_(page_ids), viewer.id)
    return forest(Comment.id.in_(ids), ids, viewer), count


def get_comment(post_id, comment_id, viewer=None):
    """One comment with the replies the viewer's lists show, or NotFound if it is not on
    that post or the viewer may not open it (``viewer`` None: the broadcast view)."""
    ensure_id(post_id)
    ensure_id(comment_id)
    thread = thread_of(comment_id)
    if thread is None or thread.post is None or thread.post.id != post_id:
        raise NotFound()
    if viewer is not None and not may_see(thread, viewer):
        raise NotFound()
    ids = visible_ids(Comment.id == comment_id, viewer.id if viewer else None, anchor_shown=False)
    roots = forest(Comment.id.in_(ids), ids, viewer)
    if not roots:
        raise NotFound()
    return roots[0]


def tree_authors(root):
    """The named authors of ``root`` and every reply it carries."""
    named, pending = [], [root]
    while pending:
        node = pending.pop()
        if not node.anonymous:
            named.append(node.user_id)
        pending.extend(node.replies)
    return list(dict.fromkeys(named))
