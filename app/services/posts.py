"""Posts: the feed, detail with view counting, create, update, delete.

Who sees what: a post hidden by a moderator is in no feed, and only its author and admins
can read it (``hidden: true``); a post whose author is hidden from the viewer (a block
either way, a mute) is left out of the viewer's feed, and a block makes it unreadable for
the other one too. Anonymous posts are never left out for who wrote them (that would
name the author) and show the anonymous author object to all but the author and admins.
"""
from collections import namedtuple

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import joinedload

from app import jobs, realtime
from app.errors import NotFound, field_error
from app.extensions import db
from app.models.base import utcnow
from app.models.comments import Comment
from app.models.posts import Post
from app.models.reactions import VENTCOMMENT, VENTPOST
from app.models.users import User
from app.pagination import check_page
from app.schemas.posts import PostSchema
from app.schemas.users import AuthorSchema, anonymized
from app.services import feed, media, reactions, relationships
from app.services.ids import ensure_id, in_range
from app.services.permissions import ensure_can_modify
from app.services.sql import commit_keeping_loaded

_schema = PostSchema()
# Who reads, as plain values: a User's attributes expire at every commit (reading them
# again would cost a query).
Viewer = namedtuple("Viewer", "id is_admin")


def viewer_of(user):
    return Viewer(user.id, user.is_admin) if user is not None else None
_author = AuthorSchema()
EDITABLE = ("title", "content", "content_warning")


def reveal(objects, viewer):
    """Let ``viewer`` see who wrote the anonymous ones they wrote (every one, for an admin)."""
    for obj in objects:
        obj.reveal_author = viewer is not None and (viewer.is_admin or obj.user_id == viewer.id)
    return objects


def broadcast_data(post):
    """The REST object of ``post`` as every viewer sees it (no ``user_reaction``, no
    anonymous author)."""
    data = anonymized(_schema.dump(post))
    data["user_reaction"] = None
    return data


def listed(viewer_id):
    """SQL criteria of the posts a feed shows ``viewer_id`` (None: everybody's page)."""
    criteria = [Post.hidden_at.is_(None)]
    if viewer_id is not None:
        criteria.append(or_(Post.anonymous, ~relationships.hides(viewer_id, Post.user_id)))
    return criteria


def readable(viewer_id, is_admin, blocks=True):
    """SQL criteria of a post ``viewer_id`` may open: not hidden by a moderator (unless
    theirs, or they are an admin), and (``blocks``) no block between them and its named
    author."""
    criteria = [or_(Post.anonymous, ~relationships.blocks(viewer_id, Post.user_id))] if blocks else []
    if not is_admin:
        criteria.append(or_(Post.hidden_at.is_(None), Post.user_id == viewer_id))
    return criteria


def _with_user():
    return select(Post).options(joinedload(Post.user))


def load_post(post_id, viewer=None):
    """A post with its author and reactions as ``viewer`` sees it: three queries, or NotFound."""
    ensure_id(post_id)
    post = db.session.scalar(_with_user().where(Post.id == post_id))
    if post is None:
        raise NotFound()
    reactions.annotate([post], VENTPOST, viewer.id if viewer else None)
    reveal([post], viewer)
    return post


def list_posts(viewer, page, page_size, filtered=False):
    """One page of the feed, newest first: ``(posts, count)`` in four queries; ``filtered``
    leaves out the authors hidden from ``viewer`` (in SQL: the page is never short)."""
    criteria = listed(viewer.id if viewer is not None and filtered else None)
    count = db.session.scalar(select(func.count()).select_from(Post).where(*criteria))
    check_page(page, page_size, count)
    posts = db.session.scalars(
        _with_user().where(*criteria).order_by(Post.created_at.desc(), Post.id.desc())
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    reactions.annotate(posts, VENTPOST, viewer.id if viewer is not None else None)
    return reveal(posts, viewer), count


def feed_page(viewer, page, page_size):
    """``(results, count)``: one serialized page of the feed for ``viewer``, through the
    feed cache (shared when nobody is hidden from them, their own otherwise)."""
    if viewer.filter_token is not None:
        def build_private():
            items, count = list_posts(viewer, page, page_size, filtered=True)
            return _schema.dump(items, many=True), count
        return feed.private_page(viewer.id, viewer.filter_token, page, page_size, build_private)

    def build():  # the page as everybody sees it, and (server-side only) who wrote the anonymous ones
        items, count = list_posts(None, page, page_size)
        return {"results": [anonymized(item) for item in _schema.dump(items, many=True)], "count": count,
                "authors": {item.id: _author.dump(item.user) for item in items if item.anonymous}}

    def personalize(shared):  # plus this viewer's own reactions (one query) and authors
        results = shared["results"]
        mine = reactions.viewer_reactions(VENTPOST, [item["id"] for item in results], viewer.id)
        authors = shared.get("authors") or {}
        personal = []
        for shared_item in results:
            item = {**shared_item, "user_reaction": mine.get(shared_item["id"])}
            author = authors.get(item["id"])
            if author is not None and (viewer.is_admin or author["id"] == viewer.id):
                item["user"] = author
            personal.append(item)
        return personal

    return feed.cached_page(viewer.id, page, page_size, build, personalize)


def view_post(post_id, viewer):
    """Detail: adds exactly one view, atomically in SQL, and shows the count this view
    made; a post ``viewer`` may not open is NotFound (and counts no view)."""
    ensure_id(post_id)
    viewer = viewer_of(viewer)
    counted = db.session.scalar(
        update(Post).where(Post.id == post_id, *readable(viewer.id, viewer.is_admin))
        .values(views=Post.views + 1).returning(Post.id))
    if counted is None:
        db.session.rollback()
        raise NotFound()
    post = load_post(post_id, viewer)  # in the same transaction: it shows this view
    commit_keeping_loaded()
    return post


def readable_post(post_id, viewer, blocks=True):
    """The post, if ``viewer`` may open it (no view counted); else NotFound. Without
    ``blocks``, a block does not hide it (the caller answers 403 for it)."""
    ensure_id(post_id)
    post = db.session.scalar(select(Post).where(Post.id == post_id, *readable(viewer.id, viewer.is_admin, blocks)))
    if post is None:
        raise NotFound()
    return post


def announce_created(post):
    realtime.post_created(broadcast_data(post), post.user_id, post.anonymous)


def announce_updated(post):
    """A hidden post's changes go nowhere: only its author and admins can see it."""
    if post.hidden_at is None:
        realtime.post_updated(broadcast_data(post), post.user_id, post.anonymous)


def create_post(author, *, title, content="", media_file=None, media_type=None, anonymous=False,
                content_warning=None):
    viewer = viewer_of(author)
    stored = None
    if media_file is not None:
        stored = media.store_upload(media_file, media_type)
    with media.removed_unless_committed(stored and stored.path):
        now = utcnow()
        post = Post(user_id=author.id, title=title, content=content or "", created_at=now, updated_at=now,
                    anonymous=bool(anonymous), content_warning=content_warning)
        if stored is not None:
            post.media, post.media_type, post.media_status = stored.path, stored.media_type, "processing"
        db.session.add(post)
        db.session.commit()
    feed.invalidate()
    post = load_post(post.id, viewer)
    announce_created(post)
    if stored is not None:
        jobs.enqueue(jobs.PROCESS_MEDIA, "post", post.id)  # after the commit: the worker must see the row
    return post


def update_post(actor, post_id, changes):
    ensure_id(post_id)
    viewer = viewer_of(actor)
    post = db.session.get(Post, post_id)
    if post is None:
        raise NotFound()
    ensure_can_modify(actor, post.user_id)
    if "content" in changes and not changes["content"] and not post.media:
        raise field_error("content", "This field may not be blank unless the post has media.")
    edited = warned = False
    for field in EDITABLE:
        if field in changes and getattr(post, field) != changes[field]:
            setattr(post, field, changes[field])
            edited, warned = edited or field != "content_warning", warned or field == "content_warning"
    if not (edited or warned):  # nothing changed: nothing to save, invalidate or announce
        db.session.rollback()
        return load_post(post_id, viewer)
    if edited:  # updated_at moves with the title or content only
        post.updated_at = utcnow()
    db.session.commit()
    feed.invalidate()
    post = load_post(post_id, viewer)
    announce_updated(post)
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


def joinable(post_id, user_id):
    """Whether ``user_id`` may follow a post's group: it exists and they may open it."""
    if not in_range(post_id):
        return False
    is_admin = exists().where(User.id == user_id, User.is_admin)
    try:
        return db.session.scalar(select(Post.id).where(
            Post.id == post_id, or_(Post.anonymous, ~relationships.blocks(user_id, Post.user_id)),
            or_(Post.hidden_at.is_(None), Post.user_id == user_id, is_admin))) is not None
    finally:
        db.session.rollback()  # long-lived socket sessions must not hold a connection

