"""The service degrades and recovers, on real processes. Only faults of our own: a private
redis-server stopped and started again, a TCP proxy to PostgreSQL cut and restored (the
machine's shared PostgreSQL and Redis are never touched), a client that stops reading.
Recovery times are printed (run with -s to see them)."""
import io
import json
import os
import signal
import socket
import time
from types import SimpleNamespace

import pytest
import requests
from PIL import Image

from tests.support.clients import QUIET, bearer, register
from tests.support.databases import create_database, drop_database
from tests.support.faults import RedisServer, TcpProxy
from tests.support.processes import CeleryWorker, WebServer, base_env
from tests.support.push import Browser, vapid_keys
from tests.support.services import PG_ADMIN_URL
from tests.support.stack import Stack
from tests.support.wire import masked_text, read_upgrade


def wait_until(predicate, timeout, interval=0.05):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s")


def statuses_of(server, token, post_id):
    """One of each kind of REST call: ``{name: status}`` (every body JSON)."""
    auth = bearer(token)
    calls = {
        "feed": lambda: requests.get(f"{server.url}/ventroom/posts/", headers=auth, timeout=15),
        "detail": lambda: requests.get(f"{server.url}/ventroom/posts/{post_id}/", headers=auth, timeout=15),
        "create": lambda: requests.post(f"{server.url}/ventroom/posts/", headers=auth, timeout=15,
                                        json={"title": "written during the outage", "content": "c"}),
        "react": lambda: requests.post(f"{server.url}/ventroom/reactions/", headers=auth, timeout=15, json={
            "content_type": "ventpost", "object_id": post_id, "reaction_type": "like"}),
        "login": lambda: requests.post(f"{server.url}/auth/login", timeout=15,
                                       json={"email": "nobody@example.com", "password": "wrong-password"}),
    }
    out = {}
    for name, call in calls.items():
        response = call()
        assert response.headers["Content-Type"] == "application/json", (name, response.text[:200])
        out[name] = response.status_code
    return out


@pytest.mark.redis
def test_redis_stopped_and_back(tmp_path):
    own_redis = RedisServer(tmp_path)
    deployed = Stack(tmp_path, redis_slot=SimpleNamespace(url=own_redis.url, channel="faults"),
                     APP_ENV="development", RATELIMIT_ENABLED="1", RATELIMIT_STANDARD="10000/minute",
                     RATELIMIT_CREATE="10000/minute", RATELIMIT_REACTIONS="10000/minute")
    server = deployed.server
    try:
        _, token = deployed.user("writer")
        _, reader = deployed.user("reader")
        post = deployed.new_post(token)
        raw, sio = deployed.raw(reader), deployed.sio(reader)
        raw.request("join_ventroom", reply="ventroom_joined")
        sio.request("join_ventroom", reply="ventroom_joined")
        deployed.new_post(token)
        last_seen = raw.expect("new_ventroom_post")["event_id"]
        sio.expect("new_ventroom_post")

        own_redis.stop()
        during = statuses_of(server, token, post["id"])
        assert during == {"feed": 200, "detail": 200, "create": 201, "react": 201, "login": 401}, during
        titles = [p["title"] for p in deployed.api("GET", "/ventroom/posts/", token).json()["results"]]
        assert titles[0] == "written during the outage"  # the write committed; the page is the database's
        ready = requests.get(f"{server.url}/readyz", timeout=15)
        assert ready.status_code == 503 and ready.json()["checks"]["redis"] == "unavailable"

        own_redis.start()
        back = time.monotonic()
        ready_after = wait_until(lambda: requests.get(f"{server.url}/readyz", timeout=15).status_code == 200, 30)
        assert statuses_of(server, token, post["id"])["create"] == 201
        # The event written during the outage is lost: the open clients of its group are closed
        # (1012 / disconnected) so that they resume, and a resume across the gap is not recovered.
        assert raw.wait_closed(timeout=30) == 1012
        wait_until(lambda: not sio.sio.connected, 10)
        events_after = time.monotonic() - back
        again = deployed.raw(reader)
        resumed = again.request("join_ventroom", {"last_event_id": last_seen}, reply="ventroom_joined")
        assert resumed["data"]["recovered"] is False
        sio_again = deployed.sio(reader)
        sio_again.request("join_ventroom", reply="ventroom_joined")
        created = deployed.new_post(token, title="after the outage")
        assert again.expect("new_ventroom_post")["data"]["id"] == created["id"]
        assert sio_again.expect("new_ventroom_post")["data"]["id"] == created["id"]
        assert "Unhandled error" not in server.output()
        print(f"\nRedis back: /readyz 200 after {ready_after:.2f}s; open clients asked to resume and "
              f"events flowing again within {events_after:.2f}s (REST answered throughout)")
    finally:
        deployed.stop()
        own_redis.stop()


@pytest.mark.postgres
def test_postgresql_restarted(tmp_path):
    database = create_database("postgres", tmp_path)
    host_port = PG_ADMIN_URL.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = TcpProxy(host, int(port or 5432))
    proxied = database.replace(f"@{host_port}/", f"@127.0.0.1:{proxy.port}/")
    server = WebServer(base_env(proxied, tmp_path / "media"), tmp_path / "web.log")
    try:
        _, token = register(server.url, "pg@example.com")
        feed = lambda: requests.get(f"{server.url}/ventroom/posts/", headers=bearer(token), timeout=15)  # noqa: E731
        assert feed().status_code == 200
        proxy.cut()
        answers = [feed() for _ in range(5)]
        answers.append(requests.post(f"{server.url}/ventroom/posts/", headers=bearer(token), timeout=15,
                                     json={"title": "t", "content": "c"}))
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.json() == {"detail": "Service temporarily unavailable. Try again shortly."}
            assert answer.headers["Retry-After"] == "5"
        ready = requests.get(f"{server.url}/readyz", timeout=15)
        assert ready.status_code == 503 and ready.json()["checks"]["database"] == "unavailable"
        proxy.restore()
        recovered = wait_until(lambda: feed().status_code == 200, 30)
        assert requests.post(f"{server.url}/ventroom/posts/", headers=bearer(token), timeout=15,
                             json={"title": "t", "content": "c"}).status_code == 201
        assert "Unhandled error" not in server.output()
        print(f"\nPostgreSQL back: REST answered 200 again after {recovered:.2f}s")
    finally:
        server.stop()
        proxy.close()
        drop_database(database)


def test_a_client_that_stops_reading_is_dropped_and_others_keep_their_latency(tmp_path):
    deployed = Stack(tmp_path, WS_SEND_QUEUE_SIZE=16)
    try:
        _, token = deployed.user("poster")
        _, reader = deployed.user("reader")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
        sock.connect(("127.0.0.1", deployed.server.port))
        sock.sendall((f"GET /ws/?token={reader} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        read_upgrade(sock)
        sock.sendall(masked_text('{"type":"join_ventroom"}'))  # then it never reads again
        good = deployed.raw(reader)
        good.request("join_ventroom", reply="ventroom_joined")
        time.sleep(QUIET)
        latencies = []
        stats = None
        for n in range(600):  # until the kernel's buffers and the server's queue are full
            started = time.monotonic()
            deployed.new_post(token, title=f"post {n}", content="x" * 10000)
            good.expect("new_ventroom_post")
            latencies.append(time.monotonic() - started)
            if n % 25 == 24:
                stats = requests.get(f"{deployed.server.url}/healthz", timeout=10).json()["websocket"]
                if stats["connections"] == 1:
                    break
        print(f"\nslow reader dropped after {n + 1} events of 10 KB")
        assert stats["connections"] == 1, stats  # the one that stopped reading is gone
        latencies.sort()
        assert latencies[len(latencies) // 2] < 0.5 and latencies[-1] < 3, latencies
        assert "dropping slow raw client" in deployed.server.output()
        sock.close()
    finally:
        deployed.stop()



def noisy_jpeg(width=5200, height=3900):
    """A photo that takes the media task a few seconds to clean (noise does not compress)."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.mark.redis
@pytest.mark.postgres
def test_a_worker_killed_mid_task_is_replaced_and_no_push_is_lost_or_sent_twice(stack, push_service, tmp_path):
    """One worker for both queues is SIGKILLed while it cleans a photo, with pushes queued
    behind it; a second worker then runs the media task again (the broker hands an
    unacknowledged task on after BROKER_VISIBILITY_TIMEOUT) and every push goes out once."""
    private_key, _ = vapid_keys()
    deployed = stack(workers=1, database="postgres", redis=True, BROKER_VISIBILITY_TIMEOUT=4,
                     MAX_MEDIA_BYTES=40_000_000, VAPID_PRIVATE_KEY=private_key,
                     VAPID_CLAIMS_EMAIL="ops@example.com", PUSH_ALLOW_PRIVATE_ENDPOINTS="1")
    _, alice = deployed.user("alice")
    _, bob = deployed.user("bob")
    browser = Browser(f"{push_service.url}/push/alice")
    deployed.api("POST", "/devices/", alice, json={"platform": "webpush", "token": json.dumps(browser.subscription)})
    posts = deployed.new_post(alice)
    photo = deployed.api("POST", "/ventroom/posts/", bob, data={"title": "slow", "media_type": "image"},
                         files={"media": ("p.jpg", noisy_jpeg(), "image/jpeg")}).json()
    wait_until(lambda: "app.tasks.media.process_media" in deployed.worker.output(), 30, interval=0.01)
    for n in range(3):  # pushes queued behind the media task
        deployed.api("POST", f"/ventroom/posts/{posts['id']}/comments/", bob, json={"text": f"hi {n}"})
    os.killpg(deployed.worker.proc.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert deployed.api("GET", f"/ventroom/posts/{photo['id']}/", bob).json()["media_status"] == "processing"

    deployed.workers.append(CeleryWorker(deployed.env, tmp_path / "second-worker.log"))
    wait_until(lambda: deployed.api("GET", f"/ventroom/posts/{photo['id']}/", bob).json()[
        "media_status"] == "ready", 60, interval=0.2)
    print(f"\nmedia ready {time.monotonic() - killed_at:.1f} s after the kill")
    # The broker marked it redelivered, and the task saw it (a push task uses the same
    # flag to take over a claim its dead worker made).
    handed_on = [line for line in deployed.workers[-1].output().splitlines()
                 if "handed on from a worker that was lost" in line]
    assert any("app.tasks.media.process_media" in line for line in handed_on), handed_on
    push_service.wait_for("/push/alice", 3, timeout=60)
    time.sleep(2)  # nothing more arrives
    pushes = [browser.decrypt(request["body"])["id"] for request in push_service.to("/push/alice")]
    assert len(pushes) == len(set(pushes)) == 3, pushes
    states = [n["push_state"] for n in deployed.api("GET", "/notifications/", alice).json()["results"]]
    assert states == ["sent"] * 3
