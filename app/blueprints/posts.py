from flask import Blueprint, request
from flask_jwt_extended import current_user

from app.blueprints import login_required, request_data
from app.errors import field_error
from app.pagination import envelope, page_args
from app.schemas.posts import PostCreateSchema, PostSchema, PostUpdateSchema
from app.services import posts

bp = login_required(Blueprint("posts", __name__, url_prefix="/ventroom/posts"))
post_schema = PostSchema()


@bp.get("/")
def list_posts():
    page, page_size = page_args(request.args)
    results, count = posts.feed_page(current_user.id, page, page_size)
    return envelope(results, count, page, page_size)


@bp.post("/")
def create_post():
    data = PostCreateSchema().load(request_data())
    post = posts.create_post(current_user, title=data["title"], content=data["content"],
                             media_file=data["media"], media_type=data["media_type"])
    return post_schema.dump(post), 201


@bp.get("/<int:post_id>/")
def get_post(post_id):
    return post_schema.dump(posts.view_post(post_id, current_user.id))


@bp.route("/<int:post_id>/", methods=["PUT", "PATCH"])
def update_post(post_id):
    raw = request_data()
    if raw.get("media") is not None:
        raise field_error("media", "Media cannot be changed once posted.")
    changes = PostUpdateSchema(partial=request.method == "PATCH").load(raw)
    return post_schema.dump(posts.update_post(current_user, post_id, changes))


@bp.delete("/<int:post_id>/")
def delete_post(post_id):
    posts.delete_post(current_user, post_id)
    return "", 204
