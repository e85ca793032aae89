from app.errors import PermissionDenied


def ensure_can_modify(actor, owner_id):
    """Writes to a post or comment: its author or an admin."""
    if not (actor.is_admin or actor.id == owner_id):
        raise PermissionDenied()
