"""Stored notifications and the caller's preferences."""
from flask import Blueprint, request
from flask_jwt_extended import current_user
from marshmallow import fields

from app.blueprints import Dumped, endpoint, login_required
from app.pagination import PAGE_QUERY, page_args, page_body
from app.schemas.common import page_of
from app.schemas.notifications import MarkedReadSchema, NotificationSchema, PreferencesSchema
from app.services import notifications

bp = login_required(Blueprint("notifications", __name__, url_prefix="/notifications"))
notification_schema = NotificationSchema()


@bp.get("/")
@endpoint("The caller's notifications, newest first", query=PAGE_QUERY, errors=(400, 404),
          response=page_of(NotificationSchema, unread_count=fields.Integer()))
def list_notifications():
    page, page_size = page_args(request.args)
    items, count = notifications.list_notifications(current_user.id, page, page_size)
    body = page_body(notification_schema.dump(items, many=True), count, page, page_size)
    body["unread_count"] = notifications.unread_count(current_user.id)
    return Dumped(body)


@bp.post("/<int:notification_id>/read")
@endpoint("Mark one notification read", response=NotificationSchema, errors=(404,))
def mark_read(notification_id):
    return notifications.mark_read(current_user.id, notification_id)


@bp.post("/read-all")
@endpoint("Mark every notification read", response=MarkedReadSchema)
def mark_all_read():
    return {"marked_read": notifications.mark_all_read(current_user.id)}


@bp.get("/preferences")
@endpoint("The caller's notification switches", response=PreferencesSchema)
def get_preferences():
    return notifications.get_preferences(current_user.id)


@bp.patch("/preferences")
@endpoint("Change notification switches", body=PreferencesSchema, response=PreferencesSchema)
def update_preferences(data):
    return notifications.update_preferences(current_user.id, data)
