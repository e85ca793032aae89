"""Ids that name rows: positive and within the database's INTEGER range."""
from app.errors import NotFound

# A larger id names nothing, and must not reach the database, where it would overflow the
# parameter instead of matching no row.
MAX_ID = 2**31 - 1


def in_range(value):
    return 0 < value <= MAX_ID


def ensure_id(value):
    """NotFound for an id no row can have."""
    if not in_range(value):
        raise NotFound()
