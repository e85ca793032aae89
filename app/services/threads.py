"""The thread a comment sits in: its post and the comments above it, read in one
recursive query. What may be done to a comment (seen, replied to, reacted to, announced)
depends on all of them: a moderator's hiding or a block anywhere above it counts."""
from dataclasses import dataclass

from sqlalchemy import literal, select

from app.extensions import db
from app.models.comments import Comment
from app.models.posts import Post
from app.services import relationships

# Deepest level a reply may sit at (a top-level comment is level 0). Deep enough for any
# conversation, and far inside what JSON encoders and decoders on either end can nest.
MAX_REPLY_DEPTH = 100


@dataclass
class Thread:
    """What a comment sits in: its post and the chain from the comment up to its
    top-level comment (rows of ``id, parent_id, user_id, anonymous, hidden_at, post_id``)."""

    post: Post
    chain: list

    @property
    def hidden(self):
        """Hidden by a moderator, itself or anything above it."""
        return self.post.hidden_at is not None or any(row.hidden_at is not None for row in self.chain)

    def named_authors(self):
        """The authors named on the post and the chain (anonymous ones are not)."""
        named = [] if self.post.anonymous else [self.post.user_id]
        return list(dict.fromkeys(named + [row.user_id for row in self.chain if not row.anonymous]))


def chain(comment_id):
    """The comment and the comments above it, nearest first (one recursive query, bounded
    a level past MAX_REPLY_DEPTH); empty when it is gone."""
    columns = (Comment.id, Comment.parent_id, Comment.user_id, Comment.anonymous, Comment.hidden_at, Comment.post_id)
    up = select(*columns, literal(1).label("level")).where(Comment.id == comment_id).cte("chain", recursive=True)
    up = up.union_all(select(*columns, up.c.level + 1)
                      .where(Comment.id == up.c.parent_id, up.c.level <= MAX_REPLY_DEPTH))
    return db.session.execute(select(up).order_by(up.c.level)).all()


def thread_of(comment_id, post=None):
    """The Thread of a comment, or None when it is gone."""
    rows = chain(comment_id)
    if not rows:
        return None
    if post is None:
        post = db.session.get(Post, rows[0].post_id)
    return Thread(post, rows)


def hidden_from(thread, viewer):
    """Whether a moderator hid what ``thread`` leads to, or something it is in, from
    ``viewer``: a hidden step that is not theirs (admins see everything)."""
    steps = [thread.post, *thread.chain]
    return not viewer.is_admin and any(step.hidden_at is not None and step.user_id != viewer.id for step in steps)


def may_see(thread, viewer):
    """Whether ``viewer`` may open what ``thread`` leads to: nothing of it hidden from
    them, and no block between them and a named author."""
    return not hidden_from(thread, viewer) and not relationships.blocked_among(viewer.id, thread.named_authors())
