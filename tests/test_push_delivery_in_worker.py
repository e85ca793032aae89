"""End to end: the web server as the Procfile runs it, a real ``celery worker`` on Redis,
PostgreSQL, and a loopback Web Push service. A comment, a reply and two reactions each
give exactly the documented notification to exactly the right user, listed by
``GET /notifications/`` and pushed, encrypted, to that user's subscription."""
import json
import time

import pytest

from tests.support.clients import register
from tests.support.push import Browser, vapid_keys

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def deployed(stack):
    """A web process and a worker on PostgreSQL and Redis, sending Web Push over plain HTTP."""
    private_key, _ = vapid_keys()
    return stack(workers=1, database="postgres", redis=True, VAPID_PRIVATE_KEY=private_key,
                 VAPID_CLAIMS_EMAIL="ops@example.com", PUSH_ALLOW_PRIVATE_ENDPOINTS="1", PUSH_TTL_SECONDS="900")


def inbox_when_pushed(deployed, token, count, timeout=30):
    """The user's notifications once ``count`` of them exist and none is still pending."""
    deadline = time.time() + timeout
    while True:
        body = deployed.api("GET", "/notifications/", token).json()
        states = [n["push_state"] for n in body["results"]]
        if body["count"] >= count and "pending" not in states:
            return body["results"]
        if time.time() > deadline:
            raise AssertionError(f"expected {count} pushed notifications, have {body}")
        time.sleep(0.1)


def test_comment_reply_and_reactions_are_stored_and_pushed_by_the_worker(deployed, push_service):
    server, worker = deployed.server, deployed.worker
    alice, alice_token = register(server.url, "alice@example.com", display_name="Alice")
    bob, bob_token = register(server.url, "bob@example.com", display_name="Bob")
    browsers = {}
    for name, token in (("alice", alice_token), ("bob", bob_token)):
        browsers[name] = Browser(f"{push_service.url}/push/{name}")
        response = deployed.api("POST", "/devices/", token,
                       json={"platform": "webpush", "token": json.dumps(browsers[name].subscription)})
        assert response.status_code == 201, response.text

    post = deployed.api("POST", "/ventroom/posts/", alice_token, json={"title": "Hello", "content": "x"}).json()
    comment = deployed.api("POST", f"/ventroom/posts/{post['id']}/comments/", bob_token, json={"text": "Hi"})
    assert comment.status_code == 201, comment.text
    comment = comment.json()

    # Bob comments on Alice's post: Alice is told, through the list and by a push.
    [pushed] = push_service.wait_for("/push/alice", 1, timeout=30)
    headers = {key.lower(): value for key, value in pushed["headers"].items()}
    assert headers["ttl"] == "900" and headers["content-encoding"] == "aes128gcm"
    assert headers["authorization"].startswith("vapid t=")
    payload = browsers["alice"].decrypt(pushed["body"])
    assert (payload["title"], payload["message"]) == ("New Comment", "Bob commented on your post.")
    [listed] = inbox_when_pushed(deployed, alice_token, 1)
    assert listed["id"] == payload["id"] and listed["push_state"] == "sent"
    assert (listed["kind"], listed["post_id"], listed["comment_id"]) == ("comment", post["id"], comment["id"])

    # Alice replies to Bob (on her own post: only Bob is told); then each reacts to the other.
    reply = deployed.api("POST", f"/ventroom/posts/{post['id']}/comments/", alice_token,
                json={"text": "Hello back", "parent": comment["id"]}).json()
    for token, content_type, object_id in ((bob_token, "ventpost", post["id"]),
                                           (alice_token, "ventcomment", comment["id"])):
        response = deployed.api("POST", "/ventroom/reactions/", token,
                       json={"content_type": content_type, "object_id": object_id, "reaction_type": "❤️"})
        assert response.status_code == 201, response.text

    to_bob = [browsers["bob"].decrypt(r["body"]) for r in push_service.wait_for("/push/bob", 2, timeout=30)]
    to_alice = [browsers["alice"].decrypt(r["body"]) for r in push_service.wait_for("/push/alice", 2, timeout=30)]
    assert sorted((p["title"], p["message"]) for p in to_bob) == [
        ("New Reaction", "Alice reacted to your comment."), ("New Reply", "Alice replied to your comment.")]
    assert [(p["title"], p["message"]) for p in to_alice[1:]] == [("New Reaction", "Bob reacted to your post.")]

    bob_inbox = inbox_when_pushed(deployed, bob_token, 2)
    assert {(n["kind"], n["comment_id"]) for n in bob_inbox} == {("reply", reply["id"]), ("reaction", comment["id"])}
    assert len(inbox_when_pushed(deployed, alice_token, 2)) == 2
    time.sleep(0.5)  # nothing else arrives: one push per notification, none for the actors
    assert len(push_service.to("/push/alice")) == 2 and len(push_service.to("/push/bob")) == 2
    assert "app.tasks.push.send_push" in worker.output()
    assert "app.tasks.push.sweep_pushes" in worker.output()  # registered for the beat schedule
