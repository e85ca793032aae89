"""A post's comments: the tree (or a page of it), create, read one, edit, delete."""
from flask import Blueprint, request
from flask_jwt_extended import current_user

from app.blueprints import login_required, request_data
from app.errors import field_error
from app.pagination import envelope, page_args
from app.schemas.comments import CommentCreateSchema, CommentUpdateSchema, dump_tree
from app.services import comments

bp = login_required(Blueprint("comments", __name__, url_prefix="/ventroom/posts/<int:post_id>/comments"))


@bp.get("/")
def list_comments(post_id):
    """A plain array of top-level comments; the paginated envelope when asked for a page."""
    if "page" in request.args or "page_size" in request.args:
        page, page_size = page_args(request.args)
        roots, count = comments.list_comment_page(post_id, current_user.id, page, page_size)
        return envelope(dump_tree(roots), count, page, page_size)
    return dump_tree(comments.list_comments(post_id, current_user.id))


@bp.post("/")
def create_comment(post_id):
    data = CommentCreateSchema().load(request_data())
    comment = comments.create_comment(current_user, post_id, text=data["text"], parent_id=data["parent"],
                                      media_file=data["media"], media_type=data["media_type"])
    return dump_tree([comment])[0], 201


@bp.get("/<int:comment_id>/")
def get_comment(post_id, comment_id):
    return dump_tree([comments.get_comment(post_id, comment_id, current_user.id)])[0]


@bp.route("/<int:comment_id>/", methods=["PUT", "PATCH"])
def update_comment(post_id, comment_id):
    raw = request_data()
    if raw.get("media") is not None:
        raise field_error("media", "Media cannot be changed once posted.")
    changes = CommentUpdateSchema(partial=request.method == "PATCH").load(raw)
    return dump_tree([comments.update_comment(current_user, post_id, comment_id, changes)])[0]


@bp.delete("/<int:comment_id>/")
def delete_comment(post_id, comment_id):
    comments.delete_comment(current_user, post_id, comment_id)
    return "", 204
