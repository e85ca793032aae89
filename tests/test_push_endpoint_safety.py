"""Web Push endpoints cannot turn the server against its own network: registration refuses
anything but https on a public host (every spelling of a private address); at send time a
host that has come to resolve to a private address is refused before any connection (the
device is removed); redirects are never followed; the answer is read up to a cap; tasks have
time limits; media and push run on separate queues, so a hanging push service cannot hold up
media cleaning (real workers on Redis and PostgreSQL).

No test sends anything anywhere but to this machine's loopback: the private addresses below
are only ever parsed."""
import json
import socket
import threading
import time

import pytest
import requests
from sqlalchemy import select

from app.config import load_config
from app.extensions import db
from app.models import Device, Notification
from tests.support.clients import bearer
from tests.support.databases import SQLITE_ONLY
from tests.support.media import gps_jpeg
from tests.support.processes import CeleryWorker
from tests.support.push import Browser, vapid_keys

REFUSED = [
    "http://push.example.com/send/x",  # not https
    "ftp://push.example.com/x",
    "https://localhost/x", "https://LOCALHOST./x", "https://push.localhost/x",
    "https://127.0.0.1/x", "https://127.1/x", "https://2130706433/x", "https://0x7f000001/x",
    "https://017700000001/x", "https://0x7f.1/x", "https://0177.0.0.1/x", "https://127.0.0.1:8443/x",
    "https://[::1]/x", "https://[::]/x", "https://[::ffff:10.0.0.1]/x", "https://[::ffff:127.0.0.1]/x",
    "https://[::ffff:7f00:1]/x", "https://[fe80::1]/x", "https://[fc00::1]/x",
    "https://169.254.169.254/latest/meta-data/", "https://10.0.0.1/x", "https://10.1/x",
    "https://172.16.0.1/x", "https://192.168.1.1/x", "https://100.64.0.1/x", "https://0.0.0.0/x",
    "https://0/x", "https://255.255.255.255/x", "https://224.0.0.1/x",
    "https://user@127.0.0.1/x", "https://push.example.com@127.0.0.1/x",
]
ACCEPTED = ["https://fcm.googleapis.com/fcm/send/abc", "https://updates.push.services.mozilla.com/wpush/v2/x",
            "https://8.8.8.8/x", "https://[2001:4860:4860::8888]/x"]


@SQLITE_ONLY
def test_registration_refuses_endpoints_that_are_not_public_https(client, alice):
    answers = {endpoint: client.post("/devices/", headers=alice.headers, json={
        "platform": "webpush", "token": Browser(endpoint).subscription}) for endpoint in REFUSED}
    assert {endpoint: (r.status_code, list(r.json)) for endpoint, r in answers.items()} == {
        endpoint: (400, ["token"]) for endpoint in REFUSED}
    assert devices_of(client.application, alice) == []


@SQLITE_ONLY
def test_registration_accepts_public_https_endpoints(client, alice):
    for endpoint in ACCEPTED:
        response = client.post("/devices/", headers=alice.headers,
                               json={"platform": "webpush", "token": Browser(endpoint).subscription})
        assert response.status_code == 201, (endpoint, response.json)


# At send time, in-process (embedded mode pushes as the request ends) -------------------------

@pytest.fixture
def vapid(app):
    private, _ = vapid_keys()
    app.config.update(VAPID_PRIVATE_KEY=private, VAPID_CLAIMS_EMAIL="ops@example.com", PUSH_TTL_SECONDS=3600)


def comment_for(client, owner, actor):
    """``actor`` comments on a new post of ``owner``: one notification (and push) for ``owner``."""
    post = client.post("/ventroom/posts/", headers=owner.headers, json={"title": "t", "content": "c"}).json
    response = client.post(f"/ventroom/posts/{post['id']}/comments/", headers=actor.headers, json={"text": "hi"})
    assert response.status_code == 201


def push_state(app, user):
    with app.app_context():
        return db.session.scalars(select(Notification.push_state).where(Notification.recipient_id == user.id)).all()


def devices_of(app, user):
    with app.app_context():
        return db.session.scalars(select(Device).where(Device.user_id == user.id)).all()


@SQLITE_ONLY
def test_a_host_that_resolves_to_a_private_address_is_refused_at_send_time(
        app, client, alice, bob, vapid, push_service, monkeypatch):
    """Registered as a public name, it resolves to 127.0.0.1 when the push is sent (DNS changed, or
    a rebinding server): no connection is ever made to it, and the device is removed."""
    port = push_service.server.server_address[1]
    browser = Browser(f"https://push.rebinding.example:{port}/push/alice")
    assert client.post("/devices/", headers=alice.headers,
                       json={"platform": "webpush", "token": browser.subscription}).status_code == 201
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "push.rebinding.example":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    comment_for(client, alice, bob)
    assert push_state(app, alice) == ["no_device"]
    assert devices_of(app, alice) == []
    time.sleep(0.2)
    assert push_service.connections == 0 and push_service.requests == []


@SQLITE_ONLY
def test_redirects_are_never_followed(app, client, alice, bob, vapid, push_service):
    app.config["PUSH_ALLOW_PRIVATE_ENDPOINTS"] = True  # the fake push service is on loopback http
    for status in (301, 307, 308):
        push_service.statuses[f"/push/r{status}"] = status
        push_service.headers[f"/push/r{status}"] = {"Location": f"{push_service.url}/push/elsewhere"}
        browser = Browser(f"{push_service.url}/push/r{status}")
        assert client.post("/devices/", headers=alice.headers,
                           json={"platform": "webpush", "token": browser.subscription}).status_code == 201
    comment_for(client, alice, bob)
    push_service.wait_for("/push/r301") and push_service.wait_for("/push/r307") and push_service.wait_for("/push/r308")
    time.sleep(0.3)
    assert push_service.to("/push/elsewhere") == []
    assert push_state(app, alice) == ["failed"]  # a redirect is not a delivery


@SQLITE_ONLY
def test_the_answer_is_read_up_to_a_cap(app, client, alice, bob, vapid, push_service):
    app.config["PUSH_ALLOW_PRIVATE_ENDPOINTS"] = True
    size = 64 * 1024 * 1024
    push_service.huge["/push/huge"] = size
    browser = Browser(f"{push_service.url}/push/huge")
    assert client.post("/devices/", headers=alice.headers,
                       json={"platform": "webpush", "token": browser.subscription}).status_code == 201
    started = time.monotonic()
    comment_for(client, alice, bob)
    assert time.monotonic() - started < 10
    assert push_state(app, alice) == ["sent"]
    time.sleep(0.5)
    # What the server took: the cap and whatever the sockets' buffers held, far from all of it.
    assert push_service.bytes_taken["/push/huge"] < 16 * 1024 * 1024, push_service.bytes_taken


def test_every_task_has_a_time_limit():
    from app.extensions import celery_init_app  # noqa: F401  (the tasks are registered by importing app)
    from app.tasks import media, push

    settings = load_config({"APP_ENV": "testing", "REDIS_URL": "redis://127.0.0.1:6379/15"})["CELERY"]
    assert settings["task_time_limit"] and settings["task_time_limit"] <= 600
    for task in (media.process_media, push.send_push):
        assert task.time_limit and task.soft_time_limit and task.soft_time_limit < task.time_limit <= 600
    assert push.send_push.time_limit <= 120  # one notification to all of a user's devices
    assert settings["task_routes"]["app.tasks.media.*"]["queue"] == "media"
    assert settings["task_routes"]["app.tasks.push.*"]["queue"] == "push"


# Separate queues, on real workers ----------------------------------------------------------

@pytest.mark.redis
@pytest.mark.postgres
def test_a_hanging_push_service_does_not_hold_up_media_cleaning(stack, push_service):
    """The Procfile's ``worker`` (``-Q media``) and ``pushworker`` (``-Q push``): the push
    worker is stuck in a push the service does not answer, and a photo is cleaned meanwhile."""
    private, _ = vapid_keys()
    deployed = stack(database="postgres", redis=True, VAPID_PRIVATE_KEY=private, VAPID_CLAIMS_EMAIL="ops@example.com",
                     PUSH_ALLOW_PRIVATE_ENDPOINTS="1", PUSH_TIMEOUT_SECONDS="60")
    media_worker = CeleryWorker(deployed.env, deployed.server.log_path.parent / "media-worker.log", queues="media")
    push_worker = CeleryWorker(deployed.env, deployed.server.log_path.parent / "push-worker.log", queues="push")
    deployed.workers += [media_worker, push_worker]
    push_service.hold["/push/stuck"] = threading.Event()
    _, alice = deployed.user("alice")
    _, bob = deployed.user("bob")
    browser = Browser(f"{push_service.url}/push/stuck")
    assert deployed.api("POST", "/devices/", alice, json={"platform": "webpush",
                                                         "token": json.dumps(browser.subscription)}).status_code == 201
    post = deployed.new_post(alice)
    assert deployed.api("POST", f"/ventroom/posts/{post['id']}/comments/", bob, json={"text": "hi"}).status_code == 201
    push_service.wait_for("/push/stuck", timeout=30)
    assert push_service.holding == 1  # the push worker is stuck in it

    response = requests.post(f"{deployed.server.url}/ventroom/posts/", headers=bearer(alice), timeout=10,
                             data={"title": "photo", "media_type": "image"},
                             files={"media": ("p.jpg", gps_jpeg(size=(200, 100)), "image/jpeg")})
    photo = response.json()
    deadline = time.time() + 30
    while time.time() < deadline:
        body = deployed.api("GET", f"/ventroom/posts/{photo['id']}/", alice).json()
        if body["media_status"] != "processing":
            break
        time.sleep(0.2)
    assert body["media_status"] == "ready", media_worker.output()[-3000:]
    assert push_service.holding == 1  # still stuck: the media worker did it alone
    ran = {name: worker.output() for name, worker in (("media", media_worker), ("push", push_worker))}
    assert "app.tasks.media.process_media[" in ran["media"] and "app.tasks.push.send_push[" not in ran["media"]
    assert "app.tasks.push.send_push[" in ran["push"] and "app.tasks.media.process_media[" not in ran["push"]
    push_service.hold["/push/stuck"].set()
