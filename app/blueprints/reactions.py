"""Reactions: add or change the caller's reaction, or remove it."""
from flask import Blueprint, request
from flask_jwt_extended import current_user

from app.blueprints import login_required, request_data
from app.schemas.reactions import ReactionInputSchema, ReactionSchema, ReactionTargetSchema
from app.services import reactions

bp = login_required(Blueprint("reactions", __name__, url_prefix="/ventroom/reactions"))
reaction_schema = ReactionSchema()


@bp.post("/")
def add_reaction():
    data = ReactionInputSchema().load(request_data())
    return reaction_schema.dump(reactions.add_reaction(current_user, **data)), 201


@bp.delete("/")
def remove_reaction():
    """The target comes in the query string (a body, if a client sends one, is read too)."""
    data = ReactionTargetSchema().load({**request_data(), **request.args.to_dict()})
    reactions.remove_reaction(current_user, **data)
    return "", 204
