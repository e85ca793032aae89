"""Embedded mode (one web process, no Redis: the event log in memory) resumes as the
Redis deployment does: ids of the same ordered form, the replay of what a group missed
(each frame as first sent) then live events, the caps, the explicit answers."""
import re

import pytest

from app.adapters.eventlog import parse_id
from tests.support.resume import Recorder, ids, increasing


@pytest.fixture(scope="module")
def embedded(module_stack):
    return module_stack()


@pytest.fixture(scope="module")
def embedded_small(module_stack):
    return module_stack(REALTIME_REPLAY_MAX=3, REALTIME_BACKLOG_EVENTS=5)


@pytest.fixture(autouse=True)
def _close_clients(request):
    yield
    for name in ("embedded", "embedded_small"):
        if name in request.fixturenames:
            request.getfixturevalue(name).close_clients()


def _comment(stack, token, post, text):
    response = stack.api("POST", f"/ventroom/posts/{post['id']}/comments/", token, json={"text": text})
    assert response.status_code == 201, response.text


def _comments(recorder, count):
    recorder.wait_for(lambda f: len([e for e in recorder.frames if e["type"] == "new_ventroom_comment"]) >= count,
                      what=f"{count} comments")
    return [f for f in recorder.frames if f["type"] == "new_ventroom_comment"]


@pytest.mark.parametrize("transport", ["raw", "sio"])
def test_the_main_path_in_memory(embedded, transport):
    author, author_token = embedded.user("author")
    owner, owner_token = embedded.user("owner")
    post = embedded.new_post(owner_token)
    control = Recorder(embedded.raw(owner_token))
    control.client.send("join_ventroom")
    control.client.send("join_ventroom_post", {"post_id": post["id"]})
    control.reply("ventroom_post_joined")
    client = Recorder(embedded.raw(owner_token) if transport == "raw" else embedded.sio(owner_token))
    client.client.send("join_ventroom_post", {"post_id": post["id"]})
    client.reply("ventroom_post_joined")
    _comment(embedded, author_token, post, "seen")
    client.wait_for(lambda f: f["type"] == "new_comment_on_user_post")
    last = client.events()[-1]["event_id"]
    client.client.close()

    for index in range(4):  # the post group and (new_comment_on_user_post) the owner's group
        _comment(embedded, author_token, post, f"missed {index}")
    embedded.new_post(author_token, title="missed post")  # the feed
    control.wait_for(lambda f: f["type"] == "new_ventroom_post")
    events = control.events()
    assert all(re.fullmatch(r"[0-9]+-[0-9]+", event_id) for event_id in ids(events))
    assert increasing(ids(events))

    if transport == "raw":
        back = Recorder(embedded.raw(None, path=f"/ws/?token={owner_token}&last_event_id={last}"))
    else:
        back = Recorder(embedded.sio(owner_token, last_event_id=last))
    resumed = back.reply("ventroom_resumed")
    assert resumed["data"] == {"recovered": True, "replayed": 4}
    back.client.send("join_ventroom_post", {"post_id": post["id"], "last_event_id": last})
    assert back.reply("ventroom_post_joined")["data"]["replayed"] == 4
    back.client.send("join_ventroom", {"last_event_id": last})
    assert back.reply("ventroom_joined")["data"] == {"message": "Successfully joined Ventroom",
                                                     "user_id": owner["id"], "recovered": True, "replayed": 1}
    _comment(embedded, author_token, post, "live")
    control.wait_for(lambda f: f["type"] == "new_ventroom_comment" and f["data"]["text"] == "live")
    back.wait_for(lambda f: f["type"] == "new_ventroom_comment" and f["data"]["text"] == "live")
    back.wait_for(lambda f: f["type"] == "new_comment_on_user_post" and f["data"]["text"] == "live")
    expected = [e for e in control.events() if parse_id(e["event_id"]) > parse_id(last)]
    got = back.events()
    for kind in ("new_comment_on_user_post", "new_ventroom_comment", "new_ventroom_post"):
        assert [e for e in got if e["type"] == kind] == [e for e in expected if e["type"] == kind], kind


@pytest.mark.parametrize("transport", ["raw", "sio"])
def test_caps_and_answers_in_memory(embedded_small, transport):
    stack = embedded_small  # replay max 3, backlog 5
    author, author_token = stack.user("author")
    _, reader_token = stack.user("reader")
    post = stack.new_post(author_token)
    watcher = Recorder(stack.raw(reader_token))
    watcher.client.send("join_ventroom_post", {"post_id": post["id"]})
    watcher.reply("ventroom_post_joined")

    def resume(last_id):
        client = stack.raw(reader_token) if transport == "raw" else stack.sio(reader_token)
        recorder = Recorder(client)
        client.send("join_ventroom_post", {"post_id": post["id"], "last_event_id": last_id})
        data = recorder.reply("ventroom_post_joined")["data"]
        return (data["recovered"], data["replayed"]), recorder

    _comment(stack, author_token, post, "start")
    start = _comments(watcher, 1)[0]["event_id"]
    assert resume(start)[0] == (True, 0)  # nothing after it
    for index in range(3):
        _comment(stack, author_token, post, f"c{index}")
    three = _comments(watcher, 4)[1:]
    answer, recorder = resume(start)
    assert answer == (True, 3)
    recorder.wait_for(lambda f: f["event_id"] == three[-1]["event_id"])
    assert recorder.events() == three
    _comment(stack, author_token, post, "c3")
    four = _comments(watcher, 5)[1:]
    answer, recorder = resume(start)
    assert answer == (False, 0)  # one more than the max: refused, never partial
    assert resume(four[0]["event_id"])[0] == (True, 3)
    for index in range(4, 7):
        _comment(stack, author_token, post, f"c{index}")
    seven = _comments(watcher, 8)[1:]
    assert resume(seven[0]["event_id"])[0] == (False, 0)  # trimmed (backlog 5) and over the max
    assert resume(seven[3]["event_id"])[0] == (True, 3)
    newest = parse_id(seven[-1]["event_id"])
    for bad in ("123", "abc-1", "", 17, f"{newest[0]}-{newest[1] + 1}", f"{newest[0] + 60_000}-0"):
        assert resume(bad)[0] == (False, 0), bad
    _comment(stack, author_token, post, "live")
    recorder.wait_for(lambda f: f.get("data", {}).get("text") == "live")  # still joined
