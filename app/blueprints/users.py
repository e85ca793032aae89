"""Blocks and mutes: shut out someone who harms you (a block works both ways; a mute
hides their content from you alone)."""
from flask import Blueprint, request
from flask_jwt_extended import current_user

from app.blueprints import Dumped, endpoint, login_required
from app.pagination import PAGE_QUERY, page_args, page_body
from app.schemas.common import page_of
from app.schemas.users import UserSchema
from app.services import relationships

bp = login_required(Blueprint("users", __name__, url_prefix="/users"))
_users = UserSchema(many=True)
SELF = "You cannot {kind} yourself: 400 `{{\"detail\": \"You cannot {kind} yourself.\"}}`."


def _listing(kind):
    page, page_size = page_args(request.args)
    users, count = relationships.list_targets(current_user.id, kind, page, page_size)
    return Dumped(page_body(_users.dump(users), count, page, page_size))


@bp.post("/<user_id>/block")
@endpoint("Block a user", status=204, errors=(400, 404), description=(
    "Idempotent. Neither of you sees the other's content (feeds, comment lists, live events, notifications) "
    "nor may comment on, reply to or react to it; open connections are filtered at once. " + SELF.format(kind="block")))
def block(user_id):
    relationships.block(current_user, user_id)


@bp.delete("/<user_id>/block")
@endpoint("Unblock a user", status=204, errors=(400, 404), description="Idempotent.")
def unblock(user_id):
    relationships.unblock(current_user, user_id)


@bp.post("/<user_id>/mute")
@endpoint("Mute a user", status=204, errors=(400, 404), description=(
    "Idempotent. Their content is hidden from you (feeds, comment lists, live events) and they no longer "
    "notify you; they notice nothing. " + SELF.format(kind="mute")))
def mute(user_id):
    relationships.mute(current_user, user_id)


@bp.delete("/<user_id>/mute")
@endpoint("Unmute a user", status=204, errors=(400, 404), description="Idempotent.")
def unmute(user_id):
    relationships.unmute(current_user, user_id)


@bp.get("/blocked")
@endpoint("The users the caller blocked, most recent first", query=PAGE_QUERY, response=page_of(UserSchema),
          errors=(400, 404))
def blocked():
    return _listing(relationships.KINDS["block"])


@bp.get("/muted")
@endpoint("The users the caller muted, most recent first", query=PAGE_QUERY, response=page_of(UserSchema),
          errors=(400, 404))
def muted():
    return _listing(relationships.KINDS["mute"])
