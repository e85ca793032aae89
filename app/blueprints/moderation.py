"""Moderation (admins only): the report queue, hiding and restoring content, dismissing
reports, suspending users, and the log of every action."""
from flask import Blueprint, request
from flask_jwt_extended import current_user
from marshmallow import ValidationError

from app.blueprints import Dumped, endpoint, login_required
from app.errors import PermissionDenied
from app.models.moderation import OPEN, STATUSES
from app.pagination import PAGE_QUERY, page_args, page_body
from app.schemas.comments import CommentSchema, dump_tree
from app.schemas.common import page_of
from app.schemas.moderation import (ModeratedUserSchema, ModerationActionSchema, QueueItemSchema, ReasonSchema,
                                    ReportSchema, SuspendSchema)
from app.schemas.posts import PostSchema
from app.services import moderation, moderation_queue

bp = login_required(Blueprint("moderation", __name__, url_prefix="/moderation"))
_queue = QueueItemSchema(many=True)
_log = ModerationActionSchema(many=True)
STATUS_QUERY = ({"in": "query", "name": "status", "schema": {"type": "string", "enum": list(STATUSES),
                                                             "default": OPEN},
                 "description": "Which reports: `open` (the queue), `resolved` (the object was hidden) or "
                                "`dismissed`."},)
HIDE = "Out of every feed, list and group at once (`ventroom_{kind}_deleted` to its groups); resolves its open " \
       "reports. Idempotent."
RESTORE = "Back where it was (`new_ventroom_{kind}` to its groups). Idempotent."


@bp.before_request
def admins_only():
    if request.method == "OPTIONS":  # Flask and CORS answer it; no token is asked for one
        return
    if not current_user.is_admin:
        raise PermissionDenied()


@bp.get("/reports/")
@endpoint("The report queue: reported objects, oldest first", query=(*STATUS_QUERY, *PAGE_QUERY),
          response=page_of(QueueItemSchema), errors=(400, 403, 404))
def queue():
    status = request.args.get("status", OPEN)
    if status not in STATUSES:
        raise ValidationError({"status": [f'"{status}" is not a valid choice.']})
    page, page_size = page_args(request.args)
    entries, count = moderation_queue.queue(current_user, status, page, page_size)
    return Dumped(page_body(_queue.dump(entries), count, page, page_size))


@bp.post("/posts/<int:post_id>/hide")
@endpoint("Hide a post", body=ReasonSchema, response=PostSchema, errors=(403, 404),
          description=HIDE.format(kind="post"))
def hide_post(post_id, data):
    return moderation.set_post_hidden(current_user, post_id, True, data["reason"])


@bp.post("/posts/<int:post_id>/restore")
@endpoint("Restore a hidden post", body=ReasonSchema, response=PostSchema, errors=(403, 404),
          description=RESTORE.format(kind="post"))
def restore_post(post_id, data):
    return moderation.set_post_hidden(current_user, post_id, False, data["reason"])


@bp.post("/comments/<int:comment_id>/hide")
@endpoint("Hide a comment and its replies", body=ReasonSchema, response=CommentSchema, errors=(403, 404),
          description=HIDE.format(kind="comment"))
def hide_comment(comment_id, data):
    return Dumped(dump_tree([moderation.set_comment_hidden(current_user, comment_id, True, data["reason"])])[0])


@bp.post("/comments/<int:comment_id>/restore")
@endpoint("Restore a hidden comment", body=ReasonSchema, response=CommentSchema, errors=(403, 404),
          description=RESTORE.format(kind="comment"))
def restore_comment(comment_id, data):
    return Dumped(dump_tree([moderation.set_comment_hidden(current_user, comment_id, False, data["reason"])])[0])


@bp.post("/reports/<int:report_id>/dismiss")
@endpoint("Dismiss a report (and every open one on the same object)", body=ReasonSchema, response=ReportSchema,
          errors=(403, 404))
def dismiss_report(report_id, data):
    return moderation.dismiss_report(current_user, report_id, data["reason"])


@bp.post("/users/<user_id>/suspend")
@endpoint("Suspend a user", body=SuspendSchema, response=ModeratedUserSchema, errors=(403, 404),
          description="Their tokens stop working at once (REST 401, sockets refused) and their open sockets are "
                      "closed with 4403 on every process; their login answers 403 until `until` (null: for good). "
                      "Their content stays unless hidden. Yourself: 400.")
def suspend_user(user_id, data):
    return moderation.suspend(current_user, user_id, data["until"], data["reason"])


@bp.post("/users/<user_id>/unsuspend")
@endpoint("Lift a suspension", body=ReasonSchema, response=ModeratedUserSchema, errors=(403, 404),
          description="They may log in again; tokens issued before the suspension stay revoked.")
def unsuspend_user(user_id, data):
    return moderation.unsuspend(current_user, user_id, data["reason"])


@bp.get("/log/")
@endpoint("Every moderation action, newest first", query=PAGE_QUERY, response=page_of(ModerationActionSchema),
          errors=(400, 403, 404))
def moderation_log():
    page, page_size = page_args(request.args)
    actions, count = moderation.moderation_log(page, page_size)
    return Dumped(page_body(_log.dump(actions), count, page, page_size))
