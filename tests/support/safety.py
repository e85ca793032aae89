"""Helpers for the safety tests: what a user received, and whether any of it names someone."""
import time
from types import SimpleNamespace

from app.extensions import socketio

ANONYMOUS = {"id": None, "display_name": "Anonymous", "profile_photo": None}


def strings(value):
    """Every string anywhere in ``value`` (keys included), and every other scalar as text."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)
    elif value is not None:
        yield str(value)


def traces(value, user):
    """The strings in ``value`` that contain anything naming ``user`` (id, email, name,
    the local part of the email)."""
    marks = [user.id, user.email, user.display_name, user.email.split("@")[0]]
    return [text for text in strings(value) if any(mark and mark.lower() in text.lower() for mark in marks)]


def sio(app, user):
    """An in-process Socket.IO client (embedded mode delivers events to it as published)."""
    return socketio.test_client(app, auth={"token": user.token})


def received(client):
    """``[(event name, payload)]`` the client got since last asked."""
    return [(item["name"], item["args"][0] if item["args"] else None) for item in client.get_received()]


def names(events):
    return [name for name, _ in events]


def post(client, user, **body):
    body.setdefault("title", "A title")
    body.setdefault("content", "Some words")
    response = client.post("/ventroom/posts/", json=body, headers=user.headers)
    assert response.status_code == 201, response.json
    return response.json


def comment(client, user, post_id, text="a comment", **body):
    response = client.post(f"/ventroom/posts/{post_id}/comments/", json={"text": text, **body}, headers=user.headers)
    assert response.status_code == 201, response.json
    return response.json


def react(client, user, content_type, object_id, kind="👍"):
    return client.post("/ventroom/reactions/", headers=user.headers,
                       json={"content_type": content_type, "object_id": object_id, "reaction_type": kind})


def feed(client, user, **query):
    response = client.get("/ventroom/posts/", query_string=query, headers=user.headers)
    assert response.status_code == 200, response.json
    return response.json


def relate(client, user, other, kind="block", method="post"):
    response = client.open(f"/users/{other.id}/{kind}", method=method.upper(), headers=user.headers)
    assert response.status_code == 204, response.json
    return response


# Live deployments (``tests.support.stack.Stack``) -----------------------------------

def person(cluster, name):
    """A new account on a live deployment, shaped like a test user for ``traces``."""
    user, token = cluster.user(name)
    return SimpleNamespace(id=user["id"], display_name=user["display_name"], email=f"{name}@", token=token)


def frames(client):
    """Everything a client has received so far (raw frames or Socket.IO payloads)."""
    time.sleep(0.3)
    got = []
    while not client.received.empty():
        got.append(client.received.get())
    return got


def joined(client):
    client.request("join_ventroom", reply="ventroom_joined")
    return client
