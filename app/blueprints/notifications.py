from flask import Blueprint, request
from flask_jwt_extended import current_user

from app.blueprints import login_required, request_data
from app.pagination import envelope, page_args
from app.schemas.notifications import NotificationSchema, PreferencesSchema
from app.services import notifications

bp = login_required(Blueprint("notifications", __name__, url_prefix="/notifications"))
notification_schema = NotificationSchema()


@bp.get("/")
def list_notifications():
    page, page_size = page_args(request.args)
    items, count = notifications.list_notifications(current_user.id, page, page_size)
    body = envelope(notification_schema.dump(items, many=True), count, page, page_size)
    body["unread_count"] = notifications.unread_count(current_user.id)
    return body


@bp.post("/<int:notification_id>/read")
def mark_read(notification_id):
    return notification_schema.dump(notifications.mark_read(current_user.id, notification_id))


@bp.post("/read-all")
def mark_all_read():
    return {"marked_read": notifications.mark_all_read(current_user.id)}


@bp.get("/preferences")
def get_preferences():
    return notifications.get_preferences(current_user.id)


@bp.patch("/preferences")
def update_preferences():
    changes = PreferencesSchema(partial=True).load(request_data())
    return notifications.update_preferences(current_user.id, changes)
