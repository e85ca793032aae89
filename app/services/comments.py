"""Comments: create (with media, anonymous or not), edit, delete with the whole subtree.
Reading them is ``app.services.comment_trees``.

``Post.comment_count`` (``total_comment``, replies included) only ever changes in SQL,
``UPDATE posts SET comment_count = comment_count + :n``, and that update is the first
write of every comment create and delete. It takes the post row's lock on PostgreSQL
(the database's write lock on SQLite), so the comment writes of one post are
serialized: the subtree a delete counts is exactly the subtree it removes, and a reply
can never be added under a comment that is being deleted.

Blocks: nobody may comment on, or reply to, content its (named) author and they block
each other over (403); anonymous content is never refused. Whoever must not hear from
the commenter (a block either way, a mute) gets neither a notification nor a personal
event. While the post or a comment above is hidden by a moderator, nothing done in it is
announced or notified (only its author and admins can see it).
"""
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app import jobs, realtime
from app.errors import NotFound, field_error
from app.extensions import db
from app.models.base import utcnow
from app.models.comments import Comment
from app.models.posts import Post
from app.models.reactions import VENTCOMMENT
from app.schemas.comments import dump_tree
from app.services import comment_trees, feed, media, notifications, posts, reactions, relationships, threads
from app.services.comment_trees import get_comment, list_comment_page, list_comments
from app.services.threads import MAX_REPLY_DEPTH, Thread
from app.services.ids import ensure_id, in_range
from app.services.permissions import ensure_can_modify

__all__ = ["MAX_REPLY_DEPTH", "create_comment", "delete_comment", "get_comment", "list_comment_page",
           "list_comments", "update_comment"]


def _comment_on_post(post_id, comment_id):
    """The comment, if it is on that post; else NotFound (a missing post included)."""
    ensure_id(post_id)
    ensure_id(comment_id)
    comment = db.session.scalar(select(Comment).where(Comment.id == comment_id, Comment.post_id == post_id))
    if comment is None:
        raise NotFound()
    return comment


def _subtree_ids(root_ids):
    """A select of the ids in ``root_ids`` and of every reply beneath them: one recursive CTE."""
    tree = select(Comment.id).where(Comment.id.in_(root_ids)).cte("subtree", recursive=True)
    tree = tree.union_all(select(Comment.id).where(Comment.parent_id == tree.c.id))
    return select(tree.c.id)


def _parent_missing(parent_id):
    return field_error("parent", f'Invalid pk "{parent_id}" - object does not exist.')


def _check_parent(post, parent_id, actor):
    """The Thread of a new reply's parent: on the same post, not too deep, one the actor
    may see; else 400 on ``parent``."""
    if not in_range(parent_id):
        raise _parent_missing(parent_id)
    thread = threads.thread_of(parent_id, post)
    if thread is None:
        raise _parent_missing(parent_id)
    if thread.chain[0].post_id != post.id:
        raise field_error("parent", "The parent comment must belong to the same post.")
    if threads.hidden_from(thread, actor):
        raise _parent_missing(parent_id)  # hidden by a moderator: not there for them
    if len(thread.chain) > MAX_REPLY_DEPTH:
        raise field_error("parent", f"Replies can be nested at most {MAX_REPLY_DEPTH} levels deep.")
    return thread


def _change_count(post_id, delta):
    """``comment_count += delta`` in SQL; False if the post is gone.

    As the first write of a transaction it also takes the post row's lock (see the
    module docstring); ``delta`` 0 takes the lock alone.
    """
    result = db.session.execute(
        update(Post).where(Post.id == post_id).values(comment_count=Post.comment_count + delta)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _single(comment, viewer, reaction_summary=(), user_reaction=None):
    comment.replies = []
    comment.reaction_summary = list(reaction_summary)
    comment.user_reaction = user_reaction
    posts.reveal([comment], viewer)
    return comment


def create_comment(author, post_id, *, text="", parent_id=None, media_file=None, media_type=None,
                   anonymous=False, content_warning=None):
    """A comment, or a reply when ``parent_id`` names a comment of the same post."""
    author = posts.viewer_of(author)
    author_id = author.id
    post = posts.readable_post(post_id, author, blocks=False)  # a block is a 403, below
    thread = _check_parent(post, parent_id, author) if parent_id is not None else Thread(post, [])
    parent = thread.chain[0] if thread.chain else None
    quiet = relationships.standing(author_id, [post.user_id, parent.user_id if parent else None])
    relationships.ensure_can_interact(author_id, [(post.user_id, post.anonymous)]
                                      + ([(parent.user_id, parent.anonymous)] if parent else []), quiet)
    stored = None
    if media_file is not None:
        stored = media.store_upload(media_file, media_type)
    with media.removed_unless_committed(stored and stored.path):
        if not _change_count(post_id, 1):  # first write: the post's lock
            db.session.rollback()
            raise NotFound()
        now = utcnow()
        comment = Comment(post_id=post_id, parent_id=parent_id, user_id=author_id, text=text, created_at=now,
                          updated_at=now, anonymous=bool(anonymous), content_warning=content_warning)
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
        notified = [] if thread.hidden else notifications.record_comment(comment, post, parent, quiet=quiet)
        db.session.commit()

    # Committed: refresh caches and tell clients.
    feed.invalidate()  # total_comment changed
    comment = _single(db.session.scalar(
        select(Comment).options(joinedload(Comment.user)).where(Comment.id == comment_id)), author)
    if not thread.hidden:
        broadcast = dump_tree([comment], broadcast=True)[0]
        realtime.comment_created(broadcast, author_id, post.user_id, parent.user_id if parent else None,
                                 hide_with=thread.named_authors(), anonymous=comment.anonymous, quiet=quiet)
    notifications.enqueue_pushes(notified)
    if stored is not None:
        jobs.enqueue(jobs.PROCESS_MEDIA, "comment", comment_id)  # after the commit: the worker must see the row
    return comment


def announce_updated(post_id, comment_id):
    """``ventroom_comment_updated`` with the replies everyone's lists show, unless the
    comment is in something hidden by a moderator."""
    thread = threads.thread_of(comment_id)
    if thread is None or thread.hidden:
        return
    root = get_comment(post_id, comment_id, None)
    hide_with = [*thread.named_authors(), *comment_trees.tree_authors(root)]
    realtime.comment_updated(dump_tree([root], broadcast=True)[0], root.user_id, hide_with=hide_with,
                             anonymous=root.anonymous)


def update_comment(actor, post_id, comment_id, changes):
    """Edit ``text`` and ``content_warning`` (the author or an admin). Returns the comment
    with its replies."""
    comment = _comment_on_post(post_id, comment_id)
    ensure_can_modify(actor, comment.user_id)
    actor = posts.viewer_of(actor)
    values = {}
    if "text" in changes:
        text = changes["text"] or ""
        if not text and not comment.media:
            raise field_error("text", "This field may not be blank unless the comment has media.")
        if text != comment.text:
            values.update(text=text, updated_at=utcnow())  # updated_at moves with the text only
    if "content_warning" in changes and changes["content_warning"] != comment.content_warning:
        values["content_warning"] = changes["content_warning"]
    if values:
        result = db.session.execute(
            update(Comment).where(Comment.id == comment_id, Comment.post_id == post_id)
            .values(**values).execution_options(synchronize_session=False))
        if result.rowcount == 0:  # deleted since it was read
            db.session.rollback()
            raise NotFound()
    db.session.commit()

    # Committed. The text shows nowhere in the feed, so its cache stays valid.
    if values:
        announce_updated(post_id, comment_id)
    return get_comment(post_id, comment_id, actor)


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
