"""Posts: the feed, detail with view counting, create, update, delete."""
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app import jobs, realtime
from app.errors import NotFound, field_error
from app.extensions import db
from app.models.base import utcnow
from app.models.comments import Comment
from app.models.posts import Post
from app.models.reactions import VENTCOMMENT, VENTPOST
from app.pagination import check_page
from app.schemas.posts import PostSchema
from app.services import feed, media, reactions
from app.services.ids import ensure_id, in_range
from app.services.permissions import ensure_can_modify

_schema = PostSchema()


def broadcast_data(post):
    """The REST object of ``post`` as every viewer sees it (no ``user_reaction``)."""
    data = _schema.dump(post)
    data["user_reaction"] = None
    return data


def _with_user():
    return select(Post).options(joinedload(Post.user))


def load_post(post_id, viewer_id=None):
    """A post with its author and reactions: three queries, or NotFound."""
    ensure_id(post_id)
    post = db.session.scalar(_with_user().where(Post.id == post_id))
    if post is None:
        raise NotFound()
    reactions.annotate([post], VENTPOST, viewer_id)
    return post


def list_posts(viewer_id, page, page_size):
    """One page of the feed, newest first: ``(posts, count)`` in four queries."""
    count = db.session.scalar(select(func.count()).select_from(Post))
    check_page(page, page_size, count)
    posts = db.session.scalars(
        _with_user().order_by(Post.created_at.desc(), Post.id.desc())
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    reactions.annotate(posts, VENTPOST, viewer_id)
    return posts, count


def feed_page(viewer_id, page, page_size):
    """``(results, count)``: one serialized page of the feed, through the feed cache."""
    def build():  # the page as everybody sees it
        items, count = list_posts(None, page, page_size)
        return _schema.dump(items, many=True), count

    def personalize(results):  # plus this viewer's own reactions: one query
        mine = reactions.viewer_reactions(VENTPOST, [item["id"] for item in results], viewer_id)
        return [{**item, "user_reaction": mine.get(item["id"])} for item in results]

    return feed.cached_page(viewer_id, page, page_size, build, personalize)


def view_post(post_id, viewer_id):
    """Detail: adds exactly one view, atomically in SQL, and shows the count this view made."""
    ensure_id(post_id)
    views = db.session.scalar(
        update(Post).where(Post.id == post_id).values(views=Post.views + 1).returning(Post.views))
    if views is None:
        db.session.rollback()
        raise NotFound()
    db.session.commit()
    post = load_post(post_id, viewer_id)
    set_committed_value(post, "views", views)  # this view's count, not a change to save
    return post


def create_post(author, *, title, content="", media_file=None, media_type=None):
    stored = None
    if media_file is not None:
        stored = media.store_upload(media_file, media_type)
    with media.removed_unless_committed(stored and stored.path):
        now = utcnow()
        post = Post(user_id=author.id, title=title, content=content or "", created_at=now, updated_at=now)
        if stored is not None:
            post.media, post.media_type, post.media_status = stored.path, stored.media_type, "processing"
        db.session.add(post)
        db.session.commit()
    feed.invalidate()
    post = load_post(post.id, author.id)
    realtime.post_created(broadcast_data(post), author.id)
    if stored is not None:
        jobs.enqueue(jobs.PROCESS_MEDIA, "post", post.id)  # after the commit: the worker must see the row
    return post


def update_post(actor, post_id, changes):
    ensure_id(post_id)
    post = db.session.get(Post, post_id)
    if post is None:
        raise NotFound()
    ensure_can_modify(actor, post.user_id)
    if "content" in changes and not changes["content"] and not post.media:
        raise field_error("content", "This field may not be blank unless the post has media.")
    edited = False
    for field in ("title", "content"):
        if field in changes and getattr(post, field) != changes[field]:
            setattr(post, field, changes[field])
            edited = True
    if not edited:  # nothing changed: nothing to save, invalidate or announce
        db.session.rollback()
        return load_post(post_id, actor.id)
    post.updated_at = utcnow()
    db.session.commit()
    feed.invalidate()
    post = load_post(post_id, actor.id)
    realtime.post_updated(broadcast_data(post))
    return post


def delete_post(actor, post_id):
    """Delete a post (its author or an admin), its comments and every reaction on any of them."""
    ensure_id(post_id)
    # Lock the post first: comment creates (which update its counter) and reactions on it
    # (which take a key-share lock on it) wait for this transaction.
    post = db.session.scalar(select(Post).where(Post.id == post_id).with_for_update())
    if post is None:
        raise NotFound()
    ensure_can_modify(actor, post.user_id)
    files = [post.media, post.thumbnail]
    # Lock its comments too (no new one can appear while the post is locked): a reaction
    # being added to one holds a share lock on it, so this waits for it to commit, and the
    # reaction DELETE below sees it. The comments go by ON DELETE CASCADE with the post.
    comments = db.session.execute(select(Comment.id, Comment.media, Comment.thumbnail)
                                  .where(Comment.post_id == post_id).with_for_update()).all()
    db.session.execute(delete(Post).where(Post.id == post_id))
    reactions.delete_for(VENTPOST, [post_id])
    reactions.delete_for(VENTCOMMENT, [row.id for row in comments])
    db.session.commit()
    feed.invalidate()
    media.delete_files(*files, *(path for row in comments for path in (row.media, row.thumbnail)))
    realtime.post_deleted(post_id)


def post_exists(post_id):
    if not in_range(post_id):
        return False
    try:
        return db.session.scalar(select(Post.id).where(Post.id == post_id)) is not None
    finally:
        db.session.rollback()  # long-lived socket sessions must not hold a connection
