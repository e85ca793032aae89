"""Push targets (FCM tokens and Web Push subscriptions).

``DELETE /devices/{token}`` takes the token URL-encoded in the path; a Web Push
subscription (JSON, with an endpoint URL inside) is easier to send as
``DELETE /devices/?token=...``. Either form also accepts just the subscription's
endpoint URL, which is what identifies a Web Push device."""
from flask import Blueprint, request
from flask_jwt_extended import current_user
from werkzeug.routing import PathConverter

from app.blueprints import endpoint, login_required
from app.schemas.devices import DeviceCreateSchema, DeviceSchema, WebPushKeySchema
from app.services import devices, push

bp = login_required(Blueprint("devices", __name__, url_prefix="/devices"))
TOKEN_QUERY = ({"in": "query", "name": "token", "required": True, "schema": {"type": "string", "minLength": 1},
                "description": "The token, subscription JSON or endpoint URL."},)


class TokenConverter(PathConverter):
    """Like ``path``, but a decoded token may span lines (pretty-printed subscription JSON)."""

    regex = r"[^/][\s\S]*?"


@bp.record_once
def register_converter(state):
    state.app.url_map.converters["device_token"] = TokenConverter


@bp.post("/")
@endpoint("Register a push target", body=DeviceCreateSchema, response=DeviceSchema, status=201,
          description="`token`: an FCM registration token, or a Web Push subscription (JSON string or "
                      "object) whose endpoint is https on a public address.")
def register_device(data):
    return devices.register_device(current_user.id, token=data["token"], platform=data["platform"])


@bp.get("/webpush-key")
@endpoint("The VAPID public key (null when Web Push is off)", response=WebPushKeySchema)
def webpush_key():
    return {"public_key": push.webpush_public_key()}


@bp.delete("/")
@endpoint("Remove a push target", query=TOKEN_QUERY, status=204, errors=(400,),
          description="204 whether or not the caller had it.")
def unregister_device_by_query():
    devices.unregister_device(current_user.id, request.args.get("token"))


# merge_slashes=False: an encoded endpoint URL ("https://...") keeps its double slash.
@bp.delete("/<device_token:token>", merge_slashes=False)
@endpoint("Remove a push target", status=204, description="204 whether or not the caller had it.")
def unregister_device(token):
    # "/devices/<token>/" is served too; no token ends in "/", but an endpoint URL might.
    devices.unregister_device(current_user.id, token, *([token[:-1]] if token.endswith("/") else []))
