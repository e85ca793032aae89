"""Push delivery: a real Web Push request to a loopback push service, FCM through the
real firebase-admin SDK against a loopback stand-in, device removal, the throttle,
retries, idempotence and the sweep."""
import json
import logging
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from py_vapid import Vapid02
from sqlalchemy import select, update

from app.extensions import db
from app.models.base import utcnow
from app.models import Comment, Device, Notification, Post
from app.adapters import push as providers
from app.services import notifications, push
from app.tasks.push import send_push, sweep_pushes
from tests.support.databases import create_database, make_app
from tests.support.factories import UserFactory
from tests.support.push import Browser, b64url, b64url_decode, vapid_keys


@pytest.fixture
def vapid(app):
    private, public = vapid_keys()
    app.config.update(VAPID_PRIVATE_KEY=private, VAPID_CLAIMS_EMAIL="ops@example.com",
                      PUSH_ALLOW_PRIVATE_ENDPOINTS=True, PUSH_TTL_SECONDS=3600)
    return public


def subscribe(client, user, push_service, name):
    browser = Browser(f"{push_service.url}/push/{name}")
    response = client.post("/devices/", headers=user.headers,
                           json={"platform": "webpush", "token": json.dumps(browser.subscription)})
    assert response.status_code == 201, response.get_json()
    return browser


def store_comments(app, owner, actor, count=1, push_now=True):
    """``count`` comments by ``actor`` on a new post of ``owner``, each notifying the owner
    the way the comment service does; returns the notification ids."""
    with app.app_context():
        post = Post(user_id=owner.id, title="A post", content="text")
        db.session.add(post)
        db.session.flush()
        ids = []
        for index in range(count):
            comment = Comment(post_id=post.id, user_id=actor.id, text=f"comment {index}")
            db.session.add(comment)
            ids += notifications.record_comment(comment, post, None)
        db.session.commit()
        if push_now:
            notifications.enqueue_pushes(ids)
    return ids


def row(app, notification_id):
    with app.app_context():
        return db.session.get(Notification, notification_id)


def device_count(app, user):
    with app.app_context():
        return len(db.session.scalars(select(Device).where(Device.user_id == user.id)).all())


# Web Push ------------------------------------------------------------------------

def test_web_push_request_arrives_encrypted_with_ttl_and_vapid(app, client, alice, bob, push_service, vapid):
    browser = subscribe(client, alice, push_service, "alice")
    [notification_id] = store_comments(app, alice, bob)

    [request] = push_service.wait_for("/push/alice")
    headers = {key.lower(): value for key, value in request["headers"].items()}
    assert headers["ttl"] == "3600"
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["topic"] == f"ventroom-n{notification_id}"
    scheme, params = headers["authorization"].split(" ", 1)
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == vapid  # the server's VAPID public key
    assert Vapid02.verify(headers["authorization"])  # signed with its private key
    claims = json.loads(b64url_decode(fields["t"].split(".")[1]))
    assert claims["aud"] == push_service.url and claims["sub"] == "mailto:ops@example.com"
    assert claims["exp"] > time.time()

    payload = browser.decrypt(request["body"])  # only the subscriber's keys can read it
    assert payload["id"] == notification_id
    assert payload["title"] == "New Comment"
    assert payload["message"] == "Bob commented on your post."
    assert payload["actor"]["display_name"] == "Bob"
    assert "read" not in payload and "push_state" not in payload

    stored = row(app, notification_id)
    assert stored.push_state == "sent" and stored.pushed_at is not None and stored.push_next_at is None
    # The state is reported through the API too.
    listed = client.get("/notifications/", headers=alice.headers).get_json()["results"]
    assert listed[0]["push_state"] == "sent"


def test_the_vapid_public_key_is_published_for_subscribing(client, alice, vapid):
    assert client.get("/devices/webpush-key", headers=alice.headers).get_json() == {"public_key": vapid}


@pytest.mark.parametrize("status", [410, 404])
def test_a_gone_subscription_is_removed(app, client, alice, bob, push_service, vapid, status):
    subscribe(client, alice, push_service, "gone")
    subscribe(client, alice, push_service, "alive")
    push_service.statuses["/push/gone"] = status
    [first] = store_comments(app, alice, bob)
    push_service.wait_for("/push/gone")
    assert row(app, first).push_state == "sent"  # the other device took it
    assert device_count(app, alice) == 1

    push_service.statuses["/push/alive"] = 410
    [second] = store_comments(app, alice, bob)
    assert row(app, second).push_state == "no_device"
    assert device_count(app, alice) == 0


def test_a_transient_failure_is_retried_and_then_sent_once(app, client, alice, bob, push_service, vapid):
    subscribe(client, alice, push_service, "flaky")
    push_service.statuses["/push/flaky"] = 503
    [notification_id] = store_comments(app, alice, bob)
    push_service.wait_for("/push/flaky")
    stored = row(app, notification_id)
    # Run eagerly there is no broker to hold the retry: it stays pending for the sweep.
    assert stored.push_state == "pending" and stored.push_attempts == 1

    push_service.statuses["/push/flaky"] = 201
    with app.app_context():
        assert send_push.apply(args=(notification_id, 0)).get() == "skipped"  # a stale copy
        assert send_push.apply(args=(notification_id, 1)).get() == "sent"
        assert send_push.apply(args=(notification_id, 1)).get() == "skipped"  # idempotent
    assert len(push_service.to("/push/flaky")) == 2
    assert row(app, notification_id).push_state == "sent"


def test_retry_delay_follows_backoff_and_retry_after(app, client, alice, bob, push_service, vapid):
    subscribe(client, alice, push_service, "busy")
    push_service.statuses["/push/busy"] = 429
    [notification_id] = store_comments(app, alice, bob, push_now=False)
    with app.app_context():
        outcome = push.deliver(notification_id)
    assert outcome == push.Outcome("retry", 30, 1)  # the retry presents claim 1
    assert push._backoff(3, None) == 120 and push._backoff(1, 500) == 500
    assert push._backoff(30, None) == push.RETRY_MAX_SECONDS


def test_a_rejected_push_fails_without_removing_the_device(app, client, alice, bob, push_service, vapid):
    subscribe(client, alice, push_service, "bad")
    push_service.statuses["/push/bad"] = 400
    [notification_id] = store_comments(app, alice, bob)
    assert row(app, notification_id).push_state == "failed"
    assert device_count(app, alice) == 1


def test_attempts_are_capped(app, client, alice, bob, push_service, vapid):
    app.config["PUSH_MAX_ATTEMPTS"] = 2
    subscribe(client, alice, push_service, "down")
    push_service.statuses["/push/down"] = 500
    [notification_id] = store_comments(app, alice, bob)
    with app.app_context():
        assert push.deliver(notification_id, 1).state == "failed"
    assert len(push_service.to("/push/down")) == 2


def test_a_stale_notification_is_not_pushed(app, client, alice, bob, push_service, vapid):
    subscribe(client, alice, push_service, "late")
    [notification_id] = store_comments(app, alice, bob, push_now=False)
    with app.app_context():
        later = row(app, notification_id).created_at + timedelta(seconds=3601)
        assert push.deliver(notification_id, now=later).state == "failed"
    assert push_service.to("/push/late") == []


def test_preferences_suppress_storing_and_pushing(app, client, alice, bob, push_service, vapid):
    subscribe(client, alice, push_service, "quiet")
    client.patch("/notifications/preferences", headers=alice.headers, json={"comments": False})
    assert store_comments(app, alice, bob) == []
    with app.app_context():
        assert db.session.scalars(select(Notification)).all() == []
    time.sleep(0.2)
    assert push_service.to("/push/quiet") == []


def test_no_device_is_reported_at_once_and_nothing_is_enqueued(app, alice, bob):
    assert store_comments(app, alice, bob) == []  # nothing to push
    with app.app_context():
        [stored] = db.session.scalars(select(Notification)).all()
        assert (stored.push_state, stored.push_attempts, stored.push_next_at) == ("no_device", 0, None)


def test_a_device_gone_before_the_push_is_reported(app, client, alice, bob):
    client.post("/devices/", headers=alice.headers, json={"platform": "fcm", "token": "fcm-token-1"})
    [notification_id] = store_comments(app, alice, bob, push_now=False)
    assert client.delete("/devices/?token=fcm-token-1", headers=alice.headers).status_code == 204
    with app.app_context():
        notifications.enqueue_pushes([notification_id])
    assert row(app, notification_id).push_state == "no_device"


def test_without_credentials_the_log_provider_takes_the_push(app, client, alice, bob, caplog):
    client.post("/devices/", headers=alice.headers, json={"platform": "fcm", "token": "fcm-token-1"})
    with caplog.at_level(logging.INFO, logger="app.adapters.push"):
        [notification_id] = store_comments(app, alice, bob)
    assert row(app, notification_id).push_state == "sent"
    assert "push (log only) to fcm device" in caplog.text and "Bob commented on your post." in caplog.text
    assert client.get("/devices/webpush-key", headers=alice.headers).get_json() == {"public_key": None}


# Embedded mode (no broker) ----------------------------------------------------------

def test_embedded_mode_pushes_in_process(app, client, alice, bob, push_service, vapid):
    """No broker: the push task runs in this process when the request is done."""
    subscribe(client, alice, push_service, "embedded")
    post = client.post("/ventroom/posts/", headers=alice.headers, json={"title": "t", "content": "c"})
    response = client.post(f"/ventroom/posts/{post.get_json()['id']}/comments/", headers=bob.headers,
                           json={"text": "hi"})
    assert response.status_code == 201
    push_service.wait_for("/push/embedded")
    [sent] = client.get("/notifications/", headers=alice.headers).get_json()["results"]
    assert row(app, sent["id"]).push_state == "sent"


def test_embedded_push_never_needs_a_second_connection(tmp_path, push_service):
    """With one pooled connection, a request that notifies still completes and pushes:
    the push waits for the request's connection instead of holding a second one."""
    private, _ = vapid_keys()
    app = make_app(create_database("sqlite", tmp_path), tmp_path,
                   SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 2},
                   VAPID_PRIVATE_KEY=private, VAPID_CLAIMS_EMAIL="ops@example.com", PUSH_ALLOW_PRIVATE_ENDPOINTS=True)
    users = UserFactory(app)
    alice, bob = users("alice@example.com", display_name="Alice"), users("bob@example.com", display_name="Bob")
    client = app.test_client()
    subscribe(client, alice, push_service, "pool")
    post = client.post("/ventroom/posts/", headers=alice.headers, json={"title": "t", "content": "c"})
    post_id = post.get_json()["id"]
    response = client.post("/ventroom/reactions/", headers=bob.headers,
                           json={"content_type": "ventpost", "object_id": post_id, "reaction_type": "👍"})
    assert response.status_code == 201
    push_service.wait_for("/push/pool")
    with app.app_context():
        db.engine.dispose()


# The throttle ---------------------------------------------------------------------

def test_throttle_caps_pushes_per_recipient_per_minute(app, client, alice, bob, make_user, push_service, vapid):
    app.config["PUSH_MAX_PER_MINUTE"] = 3
    carol = make_user("carol@example.com", display_name="Carol")
    subscribe(client, alice, push_service, "alice")
    subscribe(client, carol, push_service, "carol")
    ids = store_comments(app, alice, bob, count=5)
    states = [row(app, notification_id).push_state for notification_id in ids]
    assert states == ["sent"] * 3 + ["throttled"] * 2
    assert len(push_service.to("/push/alice")) == 3
    # Stored all the same, and listed with their state.
    listed = client.get("/notifications/", headers=alice.headers).get_json()
    assert listed["count"] == 5
    assert sorted(item["push_state"] for item in listed["results"]) == ["sent"] * 3 + ["throttled"] * 2
    # Per recipient: Carol still gets hers.
    [other] = store_comments(app, carol, bob)
    assert row(app, other).push_state == "sent"


@pytest.mark.redis
def test_throttle_is_shared_through_redis(app, alice, redis_slot):
    """Two workers (two limiters, two connections) count against one budget in Redis."""
    app.config.update(REDIS_URL=redis_slot.url, PUSH_MAX_PER_MINUTE=4)
    with app.app_context():
        first = [push.take_push_slot(alice.id) for _ in range(3)]
        app.extensions.pop("push_limiter")  # another worker process: its own storage object
        second = [push.take_push_slot(alice.id) for _ in range(3)]
        storage = app.extensions["push_limiter"].storage
        assert type(storage).__name__ == "RedisStorage"
    assert first == [True, True, True] and second == [True, False, False]


# The sweep -------------------------------------------------------------------------

def test_the_sweep_sends_a_push_whose_task_never_ran(app, client, alice, bob, push_service, vapid):
    browser = subscribe(client, alice, push_service, "swept")
    [notification_id] = store_comments(app, alice, bob, push_now=False)  # enqueue lost
    created = row(app, notification_id).created_at
    sweep_after = timedelta(seconds=app.config["PUSH_SWEEP_AFTER_SECONDS"])
    with app.app_context():
        assert push.due_pushes(now=created + sweep_after - timedelta(seconds=1)) == []  # not yet
    assert sweep_pushes.apply().get() == 0

    with app.app_context():
        # Past the timeout (the clock moved on): the sweep's beat finds it.
        db.session.execute(Notification.__table__.update().values(push_next_at=created - sweep_after))
        db.session.commit()
    assert sweep_pushes.apply().get() == 1
    [request] = push_service.wait_for("/push/swept")
    assert browser.decrypt(request["body"])["id"] == notification_id
    assert row(app, notification_id).push_state == "sent"
    assert sweep_pushes.apply().get() == 0  # nothing left, nothing sent twice
    assert len(push_service.to("/push/swept")) == 1


def test_a_redelivered_task_takes_over_the_claim_of_a_worker_that_died(app, client, alice, bob, push_service,
                                                                       vapid):
    """The worker that held the task claimed the push and died before sending: the same
    message again (attempt 0) is skipped, unless the broker says it is a redelivery."""
    subscribe(client, alice, push_service, "taken-over")
    [notification_id] = store_comments(app, alice, bob, push_now=False)
    with app.app_context():
        db.session.execute(update(Notification).where(Notification.id == notification_id)
                           .values(push_attempts=1, push_next_at=utcnow() + push.CLAIM_LEASE))
        db.session.commit()
        assert push.deliver(notification_id, 0).state == push.SKIPPED
        assert push.deliver(notification_id, 0, redelivered=True).state == "sent"
        assert push.deliver(notification_id, 0, redelivered=True).state == push.SKIPPED  # sent: never again
    push_service.wait_for("/push/taken-over", 1)
    assert row(app, notification_id).push_attempts == 2
    time.sleep(0.2)
    assert len(push_service.to("/push/taken-over")) == 1


def test_a_swept_push_is_not_enqueued_again_while_it_waits(app, client, alice, bob):
    client.post("/devices/", headers=alice.headers, json={"platform": "fcm", "token": "fcm-token-1"})
    ids = store_comments(app, alice, bob, count=2, push_now=False)
    with app.app_context():
        due = row(app, ids[0]).push_next_at + timedelta(seconds=1)
        assert push.due_pushes(now=due) == [(ids[0], 0), (ids[1], 0)]
        assert push.due_pushes(now=due) == []
        again = due + timedelta(seconds=app.config["PUSH_SWEEP_AFTER_SECONDS"])
        assert [notification_id for notification_id, _ in push.due_pushes(now=again)] == ids


def test_a_broker_outage_at_enqueue_loses_nothing(app, client, alice, bob, monkeypatch, caplog):
    client.post("/devices/", headers=alice.headers, json={"platform": "fcm", "token": "fcm-token-1"})

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(send_push, "apply_async", broker_down)
    with caplog.at_level(logging.WARNING):
        [notification_id] = store_comments(app, alice, bob)  # does not raise
    assert "the periodic sweep will retry it" in caplog.text
    stored = row(app, notification_id)
    assert stored.push_state == "pending" and stored.push_next_at is not None


# Devices through the API ----------------------------------------------------------

def test_webpush_device_identity_is_the_endpoint(app, client, alice, bob, push_service, vapid):
    browser = subscribe(client, alice, push_service, "shared")
    # The same browser subscribes again for Bob, with new keys: the device moves.
    again = Browser(browser.subscription["endpoint"])
    response = client.post("/devices/", headers=bob.headers,
                           json={"platform": "webpush", "token": again.subscription})  # an object works too
    assert response.status_code == 201
    assert device_count(app, alice) == 0 and device_count(app, bob) == 1
    [bob_notification] = store_comments(app, bob, alice)
    [request] = push_service.wait_for("/push/shared")
    assert again.decrypt(request["body"])["id"] == bob_notification


def test_invalid_webpush_subscriptions_are_refused(client, alice, vapid):
    good = Browser("https://push.example.com/x").subscription
    cases = [
        "not json",
        json.dumps({**good, "endpoint": "ftp://push.example.com/x"}),
        json.dumps({**good, "keys": {"p256dh": good["keys"]["p256dh"]}}),
        json.dumps({**good, "keys": {"p256dh": b64url(b"\x04" + b"1" * 10), "auth": good["keys"]["auth"]}}),
        json.dumps([1, 2]),
    ]
    for token in cases:
        response = client.post("/devices/", headers=alice.headers, json={"platform": "webpush", "token": token})
        assert response.status_code == 400 and list(response.get_json()) == ["token"], token


def test_http_endpoints_need_the_test_switch(client, alice):
    subscription = Browser("http://127.0.0.1:9/push").subscription
    response = client.post("/devices/", headers=alice.headers, json={"platform": "webpush", "token": subscription})
    assert response.status_code == 400
    assert response.get_json() == {"token": ["The subscription needs an https endpoint URL."]}


def test_delete_a_webpush_device_by_query_by_path_or_by_endpoint(app, client, alice, push_service, vapid):
    for form in ("query", "path", "endpoint"):
        browser = subscribe(client, alice, push_service, form)
        token = json.dumps(browser.subscription, indent=2)  # any spelling of the same subscription
        if form == "query":
            response = client.delete("/devices/", headers=alice.headers, query_string={"token": token})
        elif form == "path":
            response = client.delete("/devices/" + quote(token, safe=""), headers=alice.headers)
        else:
            response = client.delete("/devices/" + quote(browser.subscription["endpoint"], safe="") + "/",
                                     headers=alice.headers)
        assert response.status_code == 204, form
        assert device_count(app, alice) == 0, form


# FCM through firebase-admin ---------------------------------------------------------

@pytest.fixture
def fcm(app, push_service, tmp_path, monkeypatch):
    """FCM credentials whose token URL and FCM URL are the loopback endpoint."""
    from firebase_admin import messaging

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    account = {"type": "service_account", "project_id": "ventroom-test", "private_key_id": "k1",
               "private_key": pem, "client_email": "push@ventroom-test.iam.gserviceaccount.com",
               "client_id": "1", "token_uri": f"{push_service.url}/token"}
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(account))
    push_service.bodies["/token"] = {"access_token": "fake-access-token", "expires_in": 3600, "token_type": "Bearer"}
    push_service.statuses["/token"] = 200
    send_path = "/v1/projects/ventroom-test/messages:send"
    push_service.statuses[send_path] = 200
    push_service.bodies[send_path] = {"name": "projects/ventroom-test/messages/1"}
    monkeypatch.setattr(messaging._MessagingService, "FCM_URL", push_service.url + "/v1/projects/{0}/messages:send")
    app.config.update(FIREBASE_CREDENTIALS=str(path), PUSH_TTL_SECONDS=600)
    return send_path


@pytest.mark.filterwarnings("ignore:Message.token is deprecated:DeprecationWarning")
def test_fcm_push_goes_through_firebase_admin(app, client, alice, bob, push_service, fcm):
    client.post("/devices/", headers=alice.headers, json={"platform": "fcm", "token": "fcm-token-alice"})
    [notification_id] = store_comments(app, alice, bob)
    [request] = push_service.wait_for(fcm)
    headers = {key.lower(): value for key, value in request["headers"].items()}
    assert headers["authorization"] == "Bearer fake-access-token"  # from the service account's token URL
    message = json.loads(request["body"])["message"]
    assert message["token"] == "fcm-token-alice"
    assert message["notification"] == {"title": "New Comment", "body": "Bob commented on your post."}
    assert message["data"]["notification_id"] == str(notification_id)
    assert message["android"]["ttl"] == "600s"
    assert row(app, notification_id).push_state == "sent"


def test_an_unregistered_fcm_token_is_removed(app, client, alice, bob, push_service, fcm):
    push_service.statuses[fcm] = 404
    push_service.bodies[fcm] = {"error": {"code": 404, "message": "Requested entity was not found.",
                                      "status": "NOT_FOUND", "details": [{
                                          "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                          "errorCode": "UNREGISTERED"}]}}
    fid = "dKx1_installation-id07"  # a Firebase installation ID is sent as "fid"
    client.post("/devices/", headers=alice.headers, json={"platform": "fcm", "token": fid})
    [notification_id] = store_comments(app, alice, bob)
    assert json.loads(push_service.to(fcm)[0]["body"])["message"]["fid"] == fid
    assert row(app, notification_id).push_state == "no_device"
    assert device_count(app, alice) == 0


# Configuration ----------------------------------------------------------------------

def test_unusable_credentials_keep_the_push_pending(app, client, alice, bob, push_service, caplog):
    private, _ = vapid_keys()
    app.config.update(VAPID_PRIVATE_KEY=private, VAPID_CLAIMS_EMAIL=None, PUSH_ALLOW_PRIVATE_ENDPOINTS=True)
    subscribe(client, alice, push_service, "misconfigured")
    with caplog.at_level(logging.ERROR, logger="app.services.push"):
        [notification_id] = store_comments(app, alice, bob)
    assert "push provider for webpush cannot be built" in caplog.text
    assert "VAPID_CLAIMS_EMAIL must be set" in caplog.text
    stored = row(app, notification_id)
    assert stored.push_state == "pending" and stored.push_next_at is not None  # for a later attempt


def test_an_http_stack_failure_no_exception_names_is_a_transient_error(push_service, monkeypatch):
    """urllib3 once raised AttributeError reading an answer on a pooled connection closed
    under it: the push is retried later, the task does not crash with it claimed."""
    browser = Browser(f"{push_service.url}/push/odd")
    provider = providers.WebPushProvider(vapid_keys()[0], "ops@example.com", ttl=60, timeout=5, allow_private=True)

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'settimeout'")

    monkeypatch.setattr(provider.session, "send", broken)
    target = push.Target(1, "webpush", json.dumps(browser.subscription))
    with pytest.raises(providers.TransientPushError, match="settimeout"):
        provider.send(target, {"id": 1, "title": "New Comment", "message": "hi"})


def test_vapid_keys_load_from_every_usual_form(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    raw = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    der = b64url(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    path = tmp_path / "vapid.pem"
    path.write_text(pem)
    expected = key.public_key().public_numbers()
    for value in (raw, pem, der, str(path)):
        assert providers.load_vapid(value).public_key.public_numbers() == expected
