"""Push targets. ``DELETE /devices/{token}`` takes the token URL-encoded in the path;
a Web Push subscription (JSON, with an endpoint URL inside) is easier to send as
``DELETE /devices/?token=...``. Either form also accepts just the subscription's
endpoint URL, which is what identifies a Web Push device."""
from flask import Blueprint, request
from flask_jwt_extended import current_user
from werkzeug.routing import PathConverter

from app.blueprints import login_required, request_data
from app.schemas.notifications import DeviceCreateSchema, DeviceSchema
from app.services import push

bp = login_required(Blueprint("devices", __name__, url_prefix="/devices"))
device_schema = DeviceSchema()


class TokenConverter(PathConverter):
    """Like ``path``, but a decoded token may span lines (pretty-printed subscription JSON)."""

    regex = r"[^/][\s\S]*?"


@bp.record_once
def register_converter(state):
    state.app.url_map.converters["device_token"] = TokenConverter


@bp.post("/")
def register_device():
    data = DeviceCreateSchema().load(request_data())
    device = push.register_device(current_user.id, token=data["token"], platform=data["platform"])
    return device_schema.dump(device), 201


@bp.get("/webpush-key")
def webpush_key():
    """The VAPID public key a browser subscribes with (null when Web Push is not configured)."""
    return {"public_key": push.webpush_public_key()}


@bp.delete("/")
def unregister_device_by_query():
    push.unregister_device(current_user.id, request.args.get("token"))
    return "", 204


# merge_slashes=False: an encoded endpoint URL ("https://...") keeps its double slash.
@bp.delete("/<device_token:token>", merge_slashes=False)
def unregister_device(token):
    # "/devices/<token>/" is served too; no token ends in "/", but an endpoint URL might.
    push.unregister_device(current_user.id, token, *([token[:-1]] if token.endswith("/") else []))
    return "", 204
