"""Reactions to posts and comments: add or change the caller's reaction, or remove it."""
from flask import Blueprint, request
from flask_jwt_extended import current_user

from app.blueprints import endpoint, login_required, request_data
from app.schemas.reactions import ReactionInputSchema, ReactionSchema, ReactionTargetSchema
from app.services import reactions

bp = login_required(Blueprint("reactions", __name__, url_prefix="/ventroom/reactions"))


@bp.post("/")
@endpoint("Add or change the caller's reaction", body=ReactionInputSchema, response=ReactionSchema, status=201,
          errors=(403,), description="403 `You cannot interact with this user.` when the content's named author "
                                     "and the caller block each other.")
def add_reaction(data):
    return reactions.add_reaction(current_user, **data)


@bp.delete("/")
@endpoint("Remove the caller's reaction", query=ReactionTargetSchema, status=204, errors=(400,),
          description="204 also when there was none. The two fields may come in a JSON body instead.")
def remove_reaction():
    data = ReactionTargetSchema().load({**request_data(), **request.args.to_dict()})  # ids: no text to store
    reactions.remove_reaction(current_user, **data)
