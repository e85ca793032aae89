"""SQL that differs by database dialect, and transaction helpers."""
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


def insert_on_conflict():
    """The bound dialect's ``insert``, which has ``on_conflict_do_update``/``_do_nothing``."""
    name = db.session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"INSERT ... ON CONFLICT is needed, which {name} lacks here")


def commit_keeping_loaded():
    """Commit without expiring what the session loaded: for a read that ends with its
    write (a post's view count) and answers with what it read in that transaction. The
    objects hold the state this transaction committed; nothing is read again to dump them."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
