"""JWT wiring: identity is the user id; failures answer in DRF's words."""
import json

from flask import request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_talisman import Talisman
from jwt.exceptions import PyJWTError
from werkzeug.exceptions import SecurityError
from werkzeug.wsgi import get_host

from app.errors import DETAILS, INVALID_TOKEN, error_response
from app.extensions import jwt
from app.services import suspensions, users


def _unauthorized(detail):
    response = error_response({"detail": detail}, 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def register_jwt_callbacks():
    @jwt.user_lookup_loader
    def load_user(_header, payload):
        """The token's user, unless suspended or the token was revoked (then 401)."""
        user = users.get_user(payload["sub"])
        return user if user is not None and suspensions.token_usable(user, payload) else None

    @jwt.token_in_blocklist_loader
    def token_revoked(_header, payload):
        return suspensions.is_revoked(payload)

    jwt.additional_claims_loader(suspensions.issue_claims)

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


def request_token():
    """The access token of the current request: ``Authorization: Bearer``, else ``?token=``
    (how WebSocket clients that cannot set headers send it)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.args.get("token") or None


def socket_identity(token):
    """``(user_id, expires_at)`` of a valid access token, not revoked, whose user exists
    and is not suspended, or None (WebSocket handshakes; the socket is closed when the
    token expires).

    A WebSocket connection lives for hours: the check holds no database connection after it.
    """
    if not token:
        return None
    try:
        payload = decode_token(token)  # signature and expiry only: the blocklist is asked below
    except (PyJWTError, JWTExtendedException):
        return None
    if payload.get("type") != "access" or suspensions.is_revoked(payload) or not users.may_connect(payload):
        return None
    return payload["sub"], payload.get("exp")


API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def init_headers(app):
    """Security headers on every response (Flask-Talisman): ``nosniff``, no framing, no
    referrer, HSTS when served over https; a locked-down CSP on whatever did not set its
    own (JSON has nothing to load); ``Cache-Control: no-store`` on ``/auth/*``, whose
    answers carry tokens and the caller's email."""
    # HSTS is set here, not by Talisman: it trusts any client's X-Forwarded-Proto, and only
    # the proxies TRUSTED_PROXIES names may say a request came over https.
    Talisman(app, force_https=False, content_security_policy=None, frame_options="DENY",
             referrer_policy="no-referrer", session_cookie_secure=False, x_xss_protection=False,
             strict_transport_security=False)

    @app.after_request
    def locked_down(response):
        response.headers.setdefault("Content-Security-Policy", API_CSP)
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = HSTS
        if request.path.startswith("/auth/"):
            response.headers["Cache-Control"] = "no-store"
        return response


def trusted_hosts_only(wsgi_app, trusted_hosts):
    """With ``TRUSTED_HOSTS``, a request for any other host is a JSON 400 before anything
    answers it: Flask checks its own requests, but Socket.IO's handshakes and polls are
    answered by the middleware in front of it."""
    if not trusted_hosts:
        return wsgi_app

    def app(environ, start_response):
        try:
            get_host(environ, trusted_hosts)
        except SecurityError:
            body = json.dumps({"detail": DETAILS[400]}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(body)))])
            return [body]
        return wsgi_app(environ, start_response)

    return app


def nosniff_everywhere(wsgi_app):
    """``X-Content-Type-Options: nosniff`` on every answer, those that never reach Flask
    included (Socket.IO's Engine.IO handshakes and polls are answered by the middleware
    Flask-SocketIO puts in front of the app)."""

    def app(environ, start_response):
        def start(status, headers, exc_info=None):
            if not any(name.lower() == "x-content-type-options" for name, _ in headers):
                headers = [*headers, ("X-Content-Type-Options", "nosniff")]
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, start)

    return app
