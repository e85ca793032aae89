"""JWT wiring: identity is the user id; failures answer in DRF's words."""
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError

from app.errors import DETAILS, INVALID_TOKEN, error_response
from app.extensions import db, jwt
from app.models.users import User
from app.services import users


def _unauthorized(detail):
    response = error_response({"detail": detail}, 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def register_jwt_callbacks():
    @jwt.user_lookup_loader
    def load_user(_header, payload):
        return db.session.get(User, payload["sub"])

    @jwt.user_lookup_error_loader
    def user_gone(_header, _payload):
        return _unauthorized(INVALID_TOKEN)

    @jwt.unauthorized_loader
    def missing_token(_reason):
        return _unauthorized(DETAILS[401])

    @jwt.invalid_token_loader
    def invalid_token(_reason):
        return _unauthorized(INVALID_TOKEN)

    @jwt.expired_token_loader
    def expired_token(_header, _payload):
        return _unauthorized(INVALID_TOKEN)

    @jwt.revoked_token_loader
    def revoked(_header, _payload):
        return _unauthorized(INVALID_TOKEN)


def user_id_from_token(token):
    """The id of the existing user a raw access token names, or None (WebSocket handshakes).

    A WebSocket connection lives for hours: the check holds no database connection after it.
    """
    if not token:
        return None
    try:
        payload = decode_token(token)
    except (PyJWTError, JWTExtendedException):
        return None
    if payload.get("type") != "access" or not users.user_exists(payload["sub"]):
        return None
    return payload["sub"]
