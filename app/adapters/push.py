"""Push providers: one object per platform that sends one payload to one device.

- ``WebPushProvider``: Web Push with VAPID through ``pywebpush``, over ``SafeSession``
  (the endpoint is a URL the user chose: public addresses only, no redirects, a capped
  response). 404/410 from the push service, or an endpoint that has come to resolve to a
  private address, means the device is gone.
- ``FCMProvider``: Firebase Cloud Messaging through ``firebase-admin``;
  ``UnregisteredError`` means the device is gone.
- ``LogProvider``: logs the push and counts it as delivered (no credentials configured).

``send`` raises ``DeviceGone``, ``TransientPushError`` (try again later) or
``PermanentPushError``. ``build`` makes the provider for a platform from plain settings.
"""
import base64
import email.utils
import json
import logging
import os
import re
import time
import uuid
from datetime import UTC, datetime

import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.adapters.safe_http import SafeSession, UnsafeAddress

log = logging.getLogger(__name__)

FCM, WEBPUSH = "fcm", "webpush"
FID_PATTERN = re.compile(r"[cdef][A-Za-z0-9_-]{21}")


class DeviceGone(Exception):
    """The push service says this device no longer exists: remove it."""


class TransientPushError(Exception):
    """Worth trying again later (network, 429, 5xx); ``retry_after`` in seconds if known."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentPushError(Exception):
    """This push will not succeed as sent (rejected payload, credentials, ...)."""


def retry_after_seconds(value):
    """``Retry-After``: seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0, int(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - datetime.now(UTC)).total_seconds()))


class LogProvider:
    """The default: writes the push to the log and counts it as delivered."""

    name = "log"

    def send(self, target, payload):
        log.info("push (log only) to %s device %s: %s: %s", target.platform, target.id,
                 payload["title"], payload["message"])


# pywebpush, py_vapid and firebase_admin are imported where a provider is built: most
# processes (every web process, a worker without credentials) never need them, and
# firebase_admin alone adds a second to start-up.


def load_vapid(value):
    """A VAPID key from a PEM text, a PEM/DER file path, or base64url raw/DER."""
    from py_vapid import Vapid

    if value.lstrip().startswith("-----BEGIN"):
        return Vapid.from_pem(value.strip().encode())
    if os.path.isfile(value):
        return Vapid.from_file(value)
    return Vapid.from_string(value.strip())


class WebPushProvider:
    name = WEBPUSH

    def __init__(self, private_key, claims_email, ttl, timeout, allow_private=False):
        if not claims_email:
            raise RuntimeError("VAPID_CLAIMS_EMAIL must be set with VAPID_PRIVATE_KEY "
                               "(push services want a contact: an email or an https URL)")
        self.vapid = load_vapid(private_key)
        self.sub = claims_email if claims_email.startswith(("mailto:", "https://")) else f"mailto:{claims_email}"
        self.ttl, self.timeout = ttl, timeout
        self.session = SafeSession(allow_private=allow_private)

    def public_key(self):
        raw = self.vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def send(self, target, payload):
        from pywebpush import WebPushException, webpush

        try:
            webpush(json.loads(target.token), data=json.dumps(payload, ensure_ascii=False),
                    vapid_private_key=self.vapid, vapid_claims={"sub": self.sub},  # a new dict: webpush adds aud/exp
                    ttl=self.ttl, timeout=self.timeout,
                    headers={"Urgency": "normal", "Topic": f"ventroom-n{payload['id']}"},
                    requests_session=self.session)
        except WebPushException as exc:
            status = exc.status_code
            if status in (404, 410):
                raise DeviceGone(f"push service answered {status}") from exc
            if status is not None and (status == 429 or status >= 500):
                raise TransientPushError(f"push service answered {status}",
                                         retry_after_seconds(exc.retry_after)) from exc
            raise PermanentPushError(exc.message) from exc
        except UnsafeAddress as exc:
            raise DeviceGone(str(exc)) from exc
        except requests.RequestException as exc:
            raise TransientPushError(f"push service unreachable: {exc}") from exc
        except Exception as exc:  # an HTTP-stack failure no exception class above names
            # (seen once: urllib3 reading the answer on a pooled connection closed under it)
            log.warning("web push to device %s failed unexpectedly", target.id, exc_info=True)
            raise TransientPushError(f"push failed: {exc!r}") from exc


class FCMProvider:
    name = FCM

    def __init__(self, credentials_value, ttl, timeout):
        import firebase_admin
        from firebase_admin import credentials

        source = credentials_value.strip()
        info = json.loads(source) if source.startswith("{") else source
        # A named app per provider, so tests and several Flask apps never collide.
        self.app = firebase_admin.initialize_app(
            credentials.Certificate(info), options={"httpTimeout": timeout},
            name=f"ventroom-push-{uuid.uuid4().hex}")
        self.ttl = ttl

    def send(self, target, payload):
        from firebase_admin import exceptions, messaging

        data = {"notification_id": str(payload["id"])}
        data.update({key: str(payload[key]) for key in ("kind", "post_id", "comment_id", "created_at")
                     if payload.get(key) is not None})
        # firebase-admin 7.7 moves targeting from registration tokens to Firebase
        # installation IDs (22 characters, base64url, first one c-f); both are accepted.
        address = {"fid": target.token} if FID_PATTERN.fullmatch(target.token) else {"token": target.token}
        message = messaging.Message(
            **address,
            notification=messaging.Notification(title=payload["title"], body=payload["message"]),
            data=data,
            android=messaging.AndroidConfig(ttl=self.ttl),
            apns=messaging.APNSConfig(headers={"apns-expiration": str(int(time.time()) + self.ttl)}),
        )
        try:
            messaging.send(message, app=self.app)
        except messaging.UnregisteredError as exc:
            raise DeviceGone(str(exc)) from exc
        except (exceptions.UnavailableError, exceptions.InternalError, exceptions.DeadlineExceededError,
                exceptions.ResourceExhaustedError, exceptions.UnknownError) as exc:
            response = getattr(exc, "http_response", None)
            retry_after = response.headers.get("Retry-After") if response is not None else None
            raise TransientPushError(str(exc), retry_after_seconds(retry_after)) from exc
        except exceptions.FirebaseError as exc:
            raise PermanentPushError(str(exc)) from exc


def build(platform, settings):
    """The provider for ``platform`` from ``settings`` (the app's config mapping)."""
    if platform == WEBPUSH and settings["VAPID_PRIVATE_KEY"]:
        return WebPushProvider(settings["VAPID_PRIVATE_KEY"], settings["VAPID_CLAIMS_EMAIL"],
                               settings["PUSH_TTL_SECONDS"], settings["PUSH_TIMEOUT_SECONDS"],
                               allow_private=settings["PUSH_ALLOW_PRIVATE_ENDPOINTS"])
    if platform == FCM and settings["FIREBASE_CREDENTIALS"]:
        return FCMProvider(settings["FIREBASE_CREDENTIALS"], settings["PUSH_TTL_SECONDS"],
                           settings["PUSH_TIMEOUT_SECONDS"])
    return LogProvider()
