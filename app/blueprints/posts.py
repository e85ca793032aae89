"""Vent Room posts."""
from flask import Blueprint, request
from flask_jwt_extended import current_user

from app.blueprints import Dumped, endpoint, login_required
from app.pagination import PAGE_QUERY, page_args, page_body
from app.schemas.common import page_of
from app.schemas.posts import PostCreateSchema, PostSchema, PostUpdateSchema
from app.services import posts

bp = login_required(Blueprint("posts", __name__, url_prefix="/ventroom/posts"))


@bp.get("/")
@endpoint("The feed, newest first", resume_position=True, query=PAGE_QUERY, response=page_of(PostSchema),
          errors=(400, 404))
def list_posts():
    page, page_size = page_args(request.args)
    results, count = posts.feed_page(current_user, page, page_size)
    return Dumped(page_body(results, count, page, page_size))


@bp.post("/")
@endpoint("Create a post", body=PostCreateSchema, form=True, response=PostSchema, status=201,
          description="`media_type` goes with `media` and must match the file's sniffed type. "
                      "`media` is null until `media_status` is `ready`. `anonymous: true` (multipart `\"true\"`) "
                      "shows everyone but the author and admins the anonymous author object. "
                      "`content_warning`: up to 100 characters, blank or null for none.")
def create_post(data):
    return posts.create_post(current_user, title=data["title"], content=data["content"],
                             media_file=data["media"], media_type=data["media_type"], anonymous=data["anonymous"],
                             content_warning=data["content_warning"])


@bp.get("/<int:post_id>/")
@endpoint("One post (adds one view)", resume_position=True, response=PostSchema, errors=(404,),
          description="404 also when a moderator hid it (but to its author and admins, who see `hidden: true`) "
                      "and across a block with its named author.")
def get_post(post_id):
    return posts.view_post(post_id, current_user)


@bp.route("/<int:post_id>/", methods=["PUT", "PATCH"])
@endpoint("Edit a post's title, content and content warning", body=PostUpdateSchema, response=PostSchema,
          errors=(403, 404), description="Owner or admin; PUT needs `title`; media cannot be changed; "
                                         "`content_warning` null or blank removes it; `anonymous` cannot be changed.")
def update_post(post_id, data):
    return posts.update_post(current_user, post_id, data)


@bp.delete("/<int:post_id>/")
@endpoint("Delete a post, its comments and reactions", status=204, errors=(403, 404))
def delete_post(post_id):
    posts.delete_post(current_user, post_id)
