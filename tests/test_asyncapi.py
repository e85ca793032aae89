"""GET /asyncapi.json: a valid AsyncAPI 3.0.0 document (checked against the official JSON
schema of the ``@asyncapi/specs`` npm package) that describes every client message, event
and reply of the real-time API, and whose message schemas accept the frames a live server
really sends on both transports."""
import base64
import hashlib
import json
import os
import queue
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
import requests
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from app import create_app, realtime
from app.asyncapi import PLACEHOLDERS, document_for
from app.sockets import frames, hub, protocol
from tests.support.media import image_bytes
from tests.support.services import REQUIRE_SERVICES

# The official schemas, as the AsyncAPI initiative publishes them (npm registry). The
# integrity is the registry's own for this tarball: the test refuses any other bytes.
SPECS_PACKAGE, SPECS_VERSION = "@asyncapi/specs", "6.11.1"
SPECS_INTEGRITY = "sha512-A3WBLqAKGoJ2+6FWFtpjBlCQ1oFCcs4GxF7zsIGvNqp/klGUHjlA3aAcZ9XMMpLGE8zPeYDz2x9FmO6DSuKraQ=="
SPECS_MEMBER = "package/schemas/3.0.0.json"
TRANSPORTS = ("raw", "socketio")
SERVER_TYPES = set(realtime.EVENT_TYPES) | set(realtime.REPLY_TYPES)
DOCUMENT_URI = "urn:ventroom:asyncapi"
OPENAPI_ONLY = {"nullable", "x-nullable", "example", "xml", "discriminator"}


# The official schema -------------------------------------------------------------------------


def _fetch_specs(directory):
    """``npm pack`` the package into ``directory``; the path of its checked tarball."""
    result = subprocess.run(["npm", "pack", f"{SPECS_PACKAGE}@{SPECS_VERSION}", "--json", "--silent",
                             "--pack-destination", str(directory)],
                            cwd=directory, capture_output=True, text=True, timeout=180, check=True)
    tarball = directory / json.loads(result.stdout)[0]["filename"]
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != SPECS_INTEGRITY:
        raise RuntimeError(f"{tarball.name}: integrity {digest}, expected {SPECS_INTEGRITY}")
    return tarball


@pytest.fixture(scope="session")
def official_schema(request):
    """The AsyncAPI 3.0.0 JSON schema, fetched once into pytest's cache (or $XDG_CACHE_HOME's
    ``ventroom`` folder when pytest's cache is off). Fails under REQUIRE_SERVICES=1 when it
    cannot be had, else skips."""
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    base = (cache.mkdir("asyncapi-specs") if cache is not None else
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ventroom" / "asyncapi-specs")
    target = base / SPECS_VERSION / "3.0.0.json"
    if not target.exists():
        try:
            with tempfile.TemporaryDirectory() as scratch:
                tarball = _fetch_specs(Path(scratch))
                with tarfile.open(tarball) as archive:
                    text = archive.extractfile(SPECS_MEMBER).read()
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            partial.write_bytes(text)
            os.replace(partial, target)
        except (OSError, subprocess.SubprocessError, ValueError, KeyError, RuntimeError) as exc:
            message = f"the official AsyncAPI schema ({SPECS_PACKAGE}@{SPECS_VERSION}) could not be fetched: {exc}"
            if REQUIRE_SERVICES:
                pytest.fail(f"{message}, and REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
            pytest.skip(message)
    schema = json.loads(target.read_text())
    assert schema["properties"]["asyncapi"]["const"] == "3.0.0"
    return schema


# The document --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    directory = tmp_path_factory.mktemp("asyncapi")
    app = create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory / 'db.sqlite3'}",
                      "REDIS_URL": None, "MEDIA_ROOT": str(directory / "media")})
    return document_for(app)


def payload_validator(document, transport, name):
    """A validator of the payload of the message ``name`` of ``transport``'s channel, with
    every ``$ref`` resolved in ``document``."""
    reference = document["channels"][transport]["messages"][name]["$ref"]
    registry = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(document, DRAFT7))
    return Draft7Validator({"$ref": f"{DOCUMENT_URI}{reference}/payload"}, registry=registry,
                           format_checker=FormatChecker())


def operations_of(document, transport):
    """``{action: {message names}}`` of the operations on ``transport``'s channel."""
    found = {"send": set(), "receive": set()}
    for operation in document["operations"].values():
        if operation["channel"]["$ref"] == f"#/channels/{transport}":
            found[operation["action"]] |= {ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]}
    return found


def test_the_document_is_valid_asyncapi_3(document, official_schema):
    validator = Draft7Validator(official_schema)
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(document)]
    assert errors == []
    assert document["asyncapi"] == "3.0.0"
    # The official schema's references are followed (into message payloads, bindings, ids).
    for path, value in [(("components", "schemas", "Post", "properties", "id", "type"), 5),
                        (("channels", "raw", "bindings", "ws", "method"), "PUT"),
                        (("operations", "raw_send_ping", "action"), "publish")]:
        broken = json.loads(json.dumps(document))
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert not validator.is_valid(broken), path


def test_served_public_and_built_once(app, client):
    response = client.get("/asyncapi.json")
    assert response.status_code == 200 and response.content_type == "application/json"
    assert response.get_json() == json.loads(json.dumps(document_for(app)))
    assert document_for(app) is document_for(app) is app.extensions["asyncapi"]
    operation = client.get("/openapi.json").get_json()["paths"]["/asyncapi.json"]["get"]
    assert "security" not in operation


def test_every_message_event_and_reply_is_described(document):
    client_messages = set(protocol.HANDLERS)
    for transport in TRANSPORTS:
        channel = document["channels"][transport]["messages"]
        assert set(channel) == SERVER_TYPES | client_messages, transport
        assert operations_of(document, transport) == {"send": client_messages, "receive": SERVER_TYPES}
    messages = document["components"]["messages"]
    for message_type in SERVER_TYPES:
        message = messages[message_type]
        payload = message["payload"]
        assert message["name"] == message_type
        assert payload["required"] == ["type", "data", "timestamp", "event_id"]
        assert payload["additionalProperties"] is False
        assert payload["properties"]["type"]["const"] == message_type
        is_event = message_type in realtime.EVENT_TYPES
        assert ("x-groups" in message) == is_event, message_type
        assert payload["properties"]["event_id"] == {"$ref": "#/components/schemas/" + (
            "EventId" if is_event else "ReplyId")}
    for name in client_messages:
        raw_payload = messages[name]["payload"]
        assert raw_payload["properties"]["type"]["const"] == name
        assert messages[f"{name}.socketio"]["payload"] == raw_payload["properties"]["data"]
    for name in ("join_ventroom", "join_ventroom_post"):  # the resume position of a join
        data = document["components"]["schemas"][messages[name]["payload"]["properties"]["data"]["$ref"].rsplit(
            "/", 1)[1]]
        assert data["properties"]["last_event_id"]["pattern"] == "^[0-9]+-[0-9]+$"
        assert "last_event_id" not in data.get("required", [])
    assert set(document["channels"]["raw"]["bindings"]["ws"]["query"]["properties"]) == {"token", "last_event_id"}
    assert set(document["channels"]["socketio"]["x-socketio-auth"]["properties"]) == {"token", "last_event_id"}
    send_join = document["operations"]["raw_send_join_ventroom"]
    assert send_join["reply"]["messages"] == [{"$ref": "#/channels/raw/messages/ventroom_joined"}]


def test_the_groups_are_where_realtime_sends_each_event(document, monkeypatch):
    sent = []
    monkeypatch.setattr(realtime, "emit", lambda event_type, data, groups, users=(): sent.append(
        (event_type, sorted(groups))))
    ids = {"post_id": 7, "author_id": "A", "post_owner_id": "P", "parent_owner_id": "Q", "reactor_id": "R",
           "owner_id": "O"}
    realtime.post_created({"id": 7}, "A")
    realtime.post_updated({"id": 7}, "A")
    realtime.post_deleted(7)
    realtime.comment_created({"post": 7}, "A", "P", "Q")
    realtime.comment_updated({"post": 7}, "A")
    realtime.comment_deleted(3, 7)
    realtime.reaction_updated({"content_type": "ventpost"}, 7, "R", "O", added=True)
    realtime.reaction_updated({"content_type": "ventcomment"}, 7, "R", "O", added=True)
    assert {event_type for event_type, _ in sent} == set(realtime.EVENT_TYPES)
    messages = document["components"]["messages"]
    for event_type, groups in sent:
        described = messages[event_type]["x-groups"]
        assert sorted(group.format(**ids) for group in described) == groups, event_type
        assert all(f"`{group}`" in messages[event_type]["description"] for group in described)
    placeholders = {part.split("}")[0] for message in messages.values() for group in message.get("x-groups", [])
                    for part in group.split("{")[1:]}
    assert placeholders <= set(PLACEHOLDERS)


def test_close_codes_are_the_raw_transports(document):
    codes = {entry["code"] for entry in document["channels"]["raw"]["x-close-codes"]}
    assert codes == {frames.NORMAL, frames.POLICY, frames.TOO_BIG, frames.SERVER_ERROR, hub.RESTART,
                     frames.UNAUTHORIZED, frames.FORBIDDEN, frames.TOO_MANY}
    description = document["channels"]["raw"]["description"]
    assert all(f"**{code}**" in description for code in codes)


def test_the_resume_protocol_and_its_caps(document):
    text = document["info"]["description"]
    for needle in ("recovered", "replayed", realtime.RESUMED, "REALTIME_RESUME_SECONDS", "REALTIME_BACKLOG_EVENTS",
                   "REALTIME_REPLAY_MAX", "last_event_id", "Last-Event-ID", "oldest first"):
        assert needle in text, needle
    assert document["x-resume"] == {"event_id_pattern": "^[0-9]+-[0-9]+$", "window_seconds": 900,
                                    "backlog_events": 1000, "replay_max": 500}


def _keywords(node, found):
    """Every keyword used in the schema ``node`` (property names excluded)."""
    if isinstance(node, list):
        for item in node:
            _keywords(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            if key in ("properties", "patternProperties"):
                for item in value.values():
                    _keywords(item, found)
            else:
                _keywords(value, found)
    return found


def test_schemas_are_json_schema_not_openapi(document):
    found = _keywords(document["components"]["schemas"], set())
    for message in document["components"]["messages"].values():
        _keywords(message["payload"], found)
    assert found & OPENAPI_ONLY == set()
    media = document["components"]["schemas"]["Post"]["properties"]["media"]
    assert media["type"] == ["string", "null"]


# Real frames -----------------------------------------------------------------------------


class Tap:
    """Every frame one client received, in order, as ``(name, envelope)``: a raw frame's name
    is its ``type``, a Socket.IO event's is the event's."""

    def __init__(self, transport, client):
        self.transport, self.client = transport, client
        self.frames, self.taken = [], set()

    def _pull(self, timeout):
        if self.transport == "raw":
            frame = self.client.received.get(timeout=timeout)
            self.frames.append((frame["type"], frame))
        else:
            self.frames.append(self.client.received.get(timeout=timeout))

    def wait_for(self, name, timeout=15, **data):
        """The first frame not yet waited for named ``name`` whose ``data`` has these values."""
        deadline = time.monotonic() + timeout
        while True:
            for index, (seen, frame) in enumerate(self.frames):
                if (index not in self.taken and seen == name
                        and all(frame["data"].get(key) == value for key, value in data.items())):
                    self.taken.add(index)
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.transport}: no {name} {data} in {[seen for seen, _ in self.frames]}")
            try:
                self._pull(left)
            except queue.Empty:
                pass

    def drain(self, quiet=0.5):
        while True:
            try:
                self._pull(quiet)
            except queue.Empty:
                return


@pytest.fixture(scope="module")
def live(module_stack):
    return module_stack()


def test_frames_from_a_live_server_match_their_messages(live):
    document = requests.get(f"{live.server.url}/asyncapi.json", timeout=10).json()
    alice, alice_token = live.user("alice")
    bob, bob_token = live.user("bob")
    tokens = {"alice": alice_token, "bob": bob_token}
    taps, sent = {}, []

    def connect(who, transport, last_event_id=None):
        if transport == "raw" and last_event_id is None:
            client = live.raw(tokens[who])
        elif transport == "raw":
            client = live.raw(tokens[who], header_auth=True, path=f"/ws/?last_event_id={last_event_id}")
        elif last_event_id is None:
            client = live.sio(tokens[who])
        else:
            client = live.sio(tokens[who], last_event_id=last_event_id)
        return Tap(transport, client)

    def send(tap, name, data=None, valid=True):
        tap.client.send(name, data)
        if valid:
            sent.append((tap.transport, name, data))

    def api(method, path, who, **kwargs):
        response = live.api(method, path, tokens[who], **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    for who in tokens:
        for transport in TRANSPORTS:
            taps[who, transport] = connect(who, transport)
    everyone = list(taps.values())
    for tap in everyone:
        send(tap, "join_ventroom")
        tap.wait_for(realtime.JOINED)

    # A post with a photo: created "processing", then updated once the photo is processed.
    post = api("POST", "/ventroom/posts/", "alice", data={"title": "photo", "media_type": "image"},
               files={"media": ("p.jpg", image_bytes(size=(320, 200)), "image/jpeg")})
    first_id = None
    for tap in everyone:
        first_id = tap.wait_for(realtime.NEW_POST, id=post["id"])["event_id"]
        tap.wait_for(realtime.POST_UPDATED, id=post["id"], media_status="ready")
    for tap in everyone:
        post_id = str(post["id"]) if tap is taps["bob", "socketio"] else post["id"]  # a numeric string works too
        send(tap, "join_ventroom_post", {"post_id": post_id})
        tap.wait_for(realtime.POST_JOINED, post_id=post["id"])

    comments = f"/ventroom/posts/{post['id']}/comments/"
    comment = api("POST", comments, "bob", json={"text": "a comment"})
    reply = api("POST", comments, "alice", json={"text": "a reply", "parent": comment["id"]})
    api("POST", "/ventroom/reactions/", "bob", json={"content_type": "ventpost", "object_id": post["id"],
                                                    "reaction_type": "like"})
    api("POST", "/ventroom/reactions/", "alice", json={"content_type": "ventcomment", "object_id": comment["id"],
                                                      "reaction_type": "love"})
    api("DELETE", f"/ventroom/reactions/?content_type=ventpost&object_id={post['id']}", "bob")
    api("PATCH", f"/ventroom/posts/{post['id']}/", "alice", json={"title": "edited"})
    api("PATCH", f"{comments}{reply['id']}/", "alice", json={"text": "an edited reply"})
    api("DELETE", f"{comments}{reply['id']}/", "alice")
    for tap in everyone:
        tap.wait_for(realtime.NEW_COMMENT, id=comment["id"])
        tap.wait_for(realtime.NEW_COMMENT, id=reply["id"])
        tap.wait_for(realtime.REACTION_UPDATED, object_id=post["id"], user_reaction=None)
        tap.wait_for(realtime.COMMENT_DELETED, comment_id=reply["id"])
        tap.wait_for(realtime.COMMENT_UPDATED, id=reply["id"])
        tap.wait_for(realtime.POST_UPDATED, title="edited")
    for transport in TRANSPORTS:
        taps["alice", transport].wait_for(realtime.COMMENT_ON_USER_POST, id=comment["id"])
        taps["alice", transport].wait_for(realtime.REACTION_ON_USER_CONTENT["ventpost"], object_id=post["id"])
        taps["bob", transport].wait_for(realtime.REPLY_ON_USER_COMMENT, id=reply["id"])
        taps["bob", transport].wait_for(realtime.REACTION_ON_USER_CONTENT["ventcomment"], object_id=comment["id"])

    # Resuming: the personal group at connect, the feed and the post's group by joining with the id.
    for transport in TRANSPORTS:
        tap = connect("alice", transport, last_event_id=first_id)
        taps["alice", transport, "resumed"] = tap
        resumed = tap.wait_for(realtime.RESUMED)
        assert tap.frames[0][0] == realtime.RESUMED and resumed["data"]["recovered"] is True
        assert resumed["data"]["replayed"] >= 2  # the comment on her post, the reaction to it
        send(tap, "join_ventroom", {"last_event_id": first_id})
        joined = tap.wait_for(realtime.JOINED)
        assert joined["data"]["recovered"] is True and joined["data"]["replayed"] >= 2
        send(tap, "join_ventroom_post", {"post_id": post["id"], "last_event_id": first_id})
        assert tap.wait_for(realtime.POST_JOINED)["data"]["recovered"] is True
        send(tap, "join_ventroom", {"last_event_id": "123"}, valid=False)  # malformed: answered, not replayed
        assert tap.wait_for(realtime.JOINED, recovered=False)["data"]["replayed"] == 0
    everyone = list(taps.values())

    api("DELETE", f"/ventroom/posts/{post['id']}/", "alice")
    for tap in everyone:
        tap.wait_for(realtime.POST_DELETED, post_id=post["id"])
        send(tap, "ping")
        tap.wait_for(realtime.PONG)
        missing = post["id"] + 1000
        send(tap, "join_ventroom_post", {"post_id": missing})
        tap.wait_for(realtime.ERROR, message=f"Post {missing} does not exist.")
        send(tap, "leave_ventroom_post", {"post_id": post["id"]})
        tap.wait_for(realtime.POST_LEFT)
        send(tap, "leave_ventroom")
        tap.wait_for(realtime.LEFT)
    raw_bob = taps["bob", "raw"]
    raw_bob.client.send_raw("{not json")
    raw_bob.wait_for(realtime.ERROR, message="Invalid JSON.")
    send(raw_bob, "no_such_message", valid=False)
    raw_bob.wait_for(realtime.ERROR, message="Unknown message type: 'no_such_message'.")

    # Every frame received validates against the payload of the message its name names.
    errors, seen = [], {transport: set() for transport in TRANSPORTS}
    validators = {}
    for tap in everyone:
        tap.drain()
        for name, frame in tap.frames:
            assert name == frame["type"], (tap.transport, name, frame)
            seen[tap.transport].add(name)
            key = tap.transport, name
            if key not in validators:
                validators[key] = payload_validator(document, *key)
            errors += [f"{tap.transport} {name} {list(error.absolute_path)}: {error.message}"
                       for error in validators[key].iter_errors(frame)]
    assert errors == []
    for transport in TRANSPORTS:
        assert seen[transport] == SERVER_TYPES, transport

    # And what the clients sent validates against the messages they send.
    for transport, name, data in sent:
        message = {"type": name, **({"data": data} if data is not None else {})} if transport == "raw" else data
        if message is None:  # a Socket.IO event without a payload
            continue
        assert list(payload_validator(document, transport, name).iter_errors(message)) == [], (transport, name)
    assert not payload_validator(document, "raw", "join_ventroom").is_valid(
        {"type": "join_ventroom", "data": {"last_event_id": "123"}})
