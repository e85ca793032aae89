"""A post's comments and their replies: the tree (or a page of it), create, read one,
edit, delete."""
from flask import Blueprint, request
from flask_jwt_extended import current_user

from app.blueprints import Dumped, endpoint, login_required
from app.pagination import PAGE_QUERY, page_args, page_body
from app.schemas.comments import CommentCreateSchema, CommentSchema, CommentUpdateSchema, dump_tree
from app.schemas.common import page_of
from app.services import comments

bp = login_required(Blueprint("comments", __name__, url_prefix="/ventroom/posts/<int:post_id>/comments"))


@bp.get("/")
@endpoint("The post's comment trees", resume_position=True, query=PAGE_QUERY, errors=(400, 404),
          response=(CommentSchema(many=True), page_of(CommentSchema)),  # one or the other
          description="A plain array of top-level comments (replies nested), newest first; with `page` "
                      "or `page_size` in the query, the paginated envelope over top-level comments.")
def list_comments(post_id):
    if "page" in request.args or "page_size" in request.args:
        page, page_size = page_args(request.args)
        roots, count = comments.list_comment_page(post_id, current_user, page, page_size)
        return Dumped(page_body(dump_tree(roots), count, page, page_size))
    return Dumped(dump_tree(comments.list_comments(post_id, current_user)))


@bp.post("/")
@endpoint("Comment, or reply with `parent`", body=CommentCreateSchema, form=True, response=CommentSchema,
          status=201, errors=(403, 404),
          description="`anonymous` and `content_warning` as for posts. 403 `You cannot interact with this user.` "
                      "when the post's or the parent comment's named author and the caller block each other.")
def create_comment(post_id, data):
    comment = comments.create_comment(current_user, post_id, text=data["text"], parent_id=data["parent"],
                                      media_file=data["media"], media_type=data["media_type"],
                                      anonymous=data["anonymous"], content_warning=data["content_warning"])
    return Dumped(dump_tree([comment])[0])


@bp.get("/<int:comment_id>/")
@endpoint("One comment with its replies", resume_position=True, response=CommentSchema, errors=(404,))
def get_comment(post_id, comment_id):
    return Dumped(dump_tree([comments.get_comment(post_id, comment_id, current_user)])[0])


@bp.route("/<int:comment_id>/", methods=["PUT", "PATCH"])
@endpoint("Edit a comment's text and content warning", body=CommentUpdateSchema, response=CommentSchema,
          errors=(403, 404), description="The comment's author or an admin.")
def update_comment(post_id, comment_id, data):
    return Dumped(dump_tree([comments.update_comment(current_user, post_id, comment_id, data)])[0])


@bp.delete("/<int:comment_id>/")
@endpoint("Delete a comment and its replies", status=204, errors=(403, 404))
def delete_comment(post_id, comment_id):
    comments.delete_comment(current_user, post_id, comment_id)
