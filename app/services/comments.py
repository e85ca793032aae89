"""Comments: a post's comment tree, create (with media), edit, delete with the whole subtree.

Reads are built for a fixed number of queries whatever the size or depth of a tree:
the comments (authors joined) in one query, their reaction summaries in one grouped
query and the viewer's reactions in one more; the tree is assembled in memory.

``Post.comment_count`` (``total_comment``, replies included) only ever changes in SQL,
``UPDATE posts SET comment_count = comment_count + :n``, and that update is the first
write of every comment create and delete. It takes the post row's lock on PostgreSQL
(the database's write lock on SQLite), so the comment writes of one post are
serialized: the subtree a delete counts is exactly the subtree it removes, and a reply
can never be added under a comment that is being deleted.
"""
from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app import jobs, realtime
from app.errors import NotFound, field_error
from app.extensions import db
from app.models.base import utcnow
from app.models.comments import Comment
from app.models.posts import Post
from app.models.reactions import VENTCOMMENT
from app.pagination import check_page
from app.schemas.comments import dump_tree
from app.services import feed, media, notifications, reactions
from app.services.ids import ensure_id, in_range
from app.services.permissions import ensure_can_modify

# Deepest level a reply may sit at (a top-level comment is level 0). Deep enough for any
# conversation, and far inside what JSON encoders and decoders on either end can nest.
MAX_REPLY_DEPTH = 100

NEWEST_FIRST = (Comment.created_at.desc(), Comment.id.desc())


def _ensure_post(post_id):
    ensure_id(post_id)
    if db.session.scalar(select(Post.id).where(Post.id == post_id)) is None:
        raise NotFound()


def _comment_on_post(post_id, comment_id):
    """The comment, if it is on that post; else NotFound (a missing post included)."""
    ensure_id(post_id)
    ensure_id(comment_id)
    comment = db.session.scalar(select(Comment).where(Comment.id == comment_id, Comment.post_id == post_id))
    if comment is None:
        raise NotFound()
    return comment


def _subtree_ids(root_ids):
    """A select of the ids in ``root_ids`` (a list or a select of comment ids) and of every reply
    beneath them, to any depth: one recursive CTE."""
    tree = select(Comment.id).where(Comment.id.in_(root_ids)).cte("subtree", recursive=True)
    tree = tree.union_all(select(Comment.id).where(Comment.parent_id == tree.c.id))
    return select(tree.c.id)


def _forest(criterion, ids, viewer_id):
    """The comments matching ``criterion`` as trees: the roots, newest first, each with
    ``replies`` (newest first) down to the leaves. Three queries, whatever the size.

    ``ids`` is a select of the same comments' ids, for the reaction queries. A comment
    whose parent is not among them is a root.
    """
    comments = db.session.scalars(
        select(Comment).options(joinedload(Comment.user)).where(criterion).order_by(*NEWEST_FIRST)
    ).all()
    reactions.annotate(comments, VENTCOMMENT, viewer_id, ids=ids)
    by_id = {comment.id: comment for comment in comments}
    roots = []
    for comment in comments:
        comment.replies = []
    for comment in comments:  # newest first, so every list of siblings is too
        parent = by_id.get(comment.parent_id)
        (parent.replies if parent is not None else roots).append(comment)
    return roots


def list_comments(post_id, viewer_id):
    """Every comment of a post as trees of replies, newest first at every level."""
    _ensure_post(post_id)
    ids = select(Comment.id).where(Comment.post_id == post_id)
    return _forest(Comment.post_id == post_id, ids, viewer_id)


def list_comment_page(post_id, viewer_id, page, page_size):
    """``(roots, count)``: one page of the post's top-level comments, each with its
    whole reply tree; ``count`` is the number of top-level comments."""
    _ensure_post(post_id)
    top_level = (Comment.post_id == post_id, Comment.parent_id.is_(None))
    count = db.session.scalar(select(func.count()).select_from(Comment).where(*top_level))
    check_page(page, page_size, count)
    page_ids = (select(Comment.id).where(*top_level).order_by(*NEWEST_FIRST)
                .limit(page_size).offset((page - 1) * page_size))
    ids = _subtree_ids(page_ids)
    return _forest(Comment.id.in_(ids), ids, viewer_id), count


def get_comment(post_id, comment_id, viewer_id):
    """One comment with its replies to any depth, or NotFound if it is not on that post."""
    ensure_id(post_id)
    ensure_id(comment_id)
    ids = _subtree_ids(select(Comment.id).where(Comment.id == comment_id, Comment.post_id == post_id))
    roots = _forest(Comment.id.in_(ids), ids, viewer_id)
    if not roots:
        raise NotFound()
    return roots[0]


def _parent_missing(parent_id):
    return field_error("parent", f'Invalid pk "{parent_id}" - object does not exist.')


def _reply_level(parent_id):
    """The level a reply to ``parent_id`` would sit at: the length of the parent's chain
    up to its top-level comment (one recursive query, bounded by MAX_REPLY_DEPTH); None
    if the parent is gone."""
    chain = (select(Comment.id, Comment.parent_id, literal(1).label("level"))
             .where(Comment.id == parent_id).cte("chain", recursive=True))
    chain = chain.union_all(
        select(Comment.id, Comment.parent_id, chain.c.level + 1)
        .where(Comment.id == chain.c.parent_id, chain.c.level <= MAX_REPLY_DEPTH))
    return db.session.scalar(select(func.max(chain.c.level)))


def _check_parent(post_id, parent_id):
    """The parent comment of a new reply: on the same post, not too deep; else 400 on ``parent``."""
    if not in_range(parent_id):
        raise _parent_missing(parent_id)
    parent = db.session.get(Comment, parent_id)
    if parent is None:
        raise _parent_missing(parent_id)
    if parent.post_id != post_id:
        raise field_error("parent", "The parent comment must belong to the same post.")
    level = _reply_level(parent_id)
    if level is None:  # deleted since the line above
        raise _parent_missing(parent_id)
    if level > MAX_REPLY_DEPTH:
        raise field_error("parent", f"Replies can be nested at most {MAX_REPLY_DEPTH} levels deep.")
    return parent


def _change_count(post_id, delta):
    """``comment_count += delta`` in SQL; False if the post is gone.

    As the first write of a transaction it also takes the post row's lock (see the
    module docstring); ``delta`` 0 takes the lock alone.
    """
    result = db.session.execute(
        update(Post).where(Post.id == post_id).values(comment_count=Post.comment_count + delta)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _single(comment, reaction_summary=(), user_reaction=None):
    comment.replies = []
    comment.reaction_summary = list(reaction_summary)
    comment.user_reaction = user_reaction
    return comment


def create_comment(author, post_id, *, text="", parent_id=None, media_file=None, media_type=None):
    """A comment, or a reply when ``parent_id`` names a comment of the same post."""
    author_id = author.id
    ensure_id(post_id)
    post = db.session.get(Post, post_id)
    if post is None:
        raise NotFound()
    post_owner_id = post.user_id
    parent = _check_parent(post_id, parent_id) if parent_id is not None else None
    parent_owner_id = parent.user_id if parent is not None else None
    stored = None
    if media_file is not None:
        stored = media.store_upload(media_file, media_type)
    with media.removed_unless_committed(stored and stored.path):
        if not _change_count(post_id, 1):  # first write: the post's lock
            db.session.rollback()
            raise NotFound()
        now = utcnow()
        comment = Comment(post_id=post_id, parent_id=parent_id, user_id=author_id, text=text,
                          created_at=now, updated_at=now)
        if stored is not None:
            comment.media, comment.media_type, comment.media_status = stored.path, stored.media_type, "processing"
        db.session.add(comment)
        try:
            db.session.flush()
        except IntegrityError:
            # The parent was deleted between the check above and this insert.
            db.session.rollback()
            if parent_id is None:
                raise
            raise _parent_missing(parent_id) from None
        comment_id = comment.id
        notified = notifications.record_comment(comment, post, parent)
        db.session.commit()

    # Committed: refresh caches and tell clients.
    feed.invalidate()  # total_comment changed
    comment = _single(db.session.scalar(
        select(Comment).options(joinedload(Comment.user)).where(Comment.id == comment_id)))
    broadcast = dump_tree([comment], broadcast=True)[0]
    realtime.comment_created(broadcast, author_id, post_owner_id, parent_owner_id)
    notifications.enqueue_pushes(notified)
    if stored is not None:
        jobs.enqueue(jobs.PROCESS_MEDIA, "comment", comment_id)  # after the commit: the worker must see the row
    return comment


def update_comment(actor, post_id, comment_id, changes):
    """Edit ``text`` (the author or an admin). Returns the comment with its replies."""
    comment = _comment_on_post(post_id, comment_id)
    ensure_can_modify(actor, comment.user_id)
    edited = False
    if "text" in changes:
        text = changes["text"] or ""
        if not text and not comment.media:
            raise field_error("text", "This field may not be blank unless the comment has media.")
        if text != comment.text:
            result = db.session.execute(
                update(Comment).where(Comment.id == comment_id, Comment.post_id == post_id)
                .values(text=text, updated_at=utcnow()).execution_options(synchronize_session=False))
            if result.rowcount == 0:  # deleted since it was read
                db.session.rollback()
                raise NotFound()
            edited = True
    db.session.commit()

    # Committed. The text shows nowhere in the feed, so its cache stays valid.
    root = get_comment(post_id, comment_id, actor.id)
    if edited:
        realtime.comment_updated(dump_tree([root], broadcast=True)[0])
    return root


def delete_comment(actor, post_id, comment_id):
    """Delete a comment (the author or an admin), every reply beneath it, and every
    reaction on any of them; ``total_comment`` drops by the number removed."""
    comment = _comment_on_post(post_id, comment_id)
    ensure_can_modify(actor, comment.user_id)
    if not _change_count(post_id, 0):  # first write: the post's lock, then count what goes
        db.session.rollback()
        raise NotFound()
    rows = db.session.execute(
        select(Comment.id, Comment.media, Comment.thumbnail)
        .where(Comment.id.in_(_subtree_ids([comment_id])))).all()
    if not rows:  # deleted by someone else meanwhile
        db.session.rollback()
        raise NotFound()
    ids = [row.id for row in rows]
    # The replies go by ON DELETE CASCADE, in the same statement. Comments first, then their
    # reactions: a reaction being added meanwhile holds a share lock on its comment, so the
    # DELETE waits for it to commit, and the reaction DELETEs below then see it.
    db.session.execute(delete(Comment).where(Comment.id == comment_id))
    reactions.delete_for(VENTCOMMENT, ids)
    _change_count(post_id, -len(ids))
    db.session.commit()

    # Committed: refresh caches, remove the files, tell clients.
    feed.invalidate()  # total_comment changed
    media.delete_files(*(path for row in rows for path in (row.media, row.thumbnail)))
    realtime.comment_deleted(comment_id, post_id)
