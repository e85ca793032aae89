"""SQL that differs by database dialect."""
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
