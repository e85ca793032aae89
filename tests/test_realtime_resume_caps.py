"""Every cap of resume after reconnect answers ``recovered: false, replayed: 0`` and leaves
the group joined (live events keep coming): an id older than the window, a trimmed
backlog, more than ``REALTIME_REPLAY_MAX`` (exactly the max is replayed in full, one more
is refused), and Redis losing its data (FLUSHALL, a restart without persistence).

The stacks run on private ``redis-server`` processes (never the shared one), one database
and channel each, so that the caps can be tiny and Redis can be flushed or restarted."""
import time

import pytest

from app.adapters.eventlog import parse_id
from tests.support.resume import PrivateRedis, Recorder, ids

pytestmark = pytest.mark.redis

WINDOW = 2  # seconds


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def _on(redis_server, db, **env):
    return {"REDIS_URL": redis_server.url(db), "SOCKETIO_CHANNEL": f"resume-caps-{redis_server.port}-{db}", **env}


@pytest.fixture(scope="module")
def window_stack(module_stack, private_redis):
    return module_stack(**_on(private_redis, 1, REALTIME_RESUME_SECONDS=WINDOW))


@pytest.fixture(scope="module")
def backlog_stack(module_stack, private_redis):
    return module_stack(**_on(private_redis, 2, REALTIME_BACKLOG_EVENTS=4, REALTIME_REPLAY_MAX=10))


@pytest.fixture(scope="module")
def replay_max_stack(module_stack, private_redis):
    return module_stack(**_on(private_redis, 3, REALTIME_REPLAY_MAX=3))


@pytest.fixture(scope="module")
def lossy_redis(tmp_path_factory):
    """A server of its own: this one is flushed and restarted."""
    server = PrivateRedis(tmp_path_factory.mktemp("lossy-redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lossy_stack(module_stack, lossy_redis):
    return module_stack(**_on(lossy_redis, 0))


@pytest.fixture(autouse=True)
def _close_clients(request):
    yield
    for name in ("window_stack", "backlog_stack", "replay_max_stack", "lossy_stack"):
        if name in request.fixturenames:
            request.getfixturevalue(name).close_clients()


class Thread:
    """A post whose group a watcher follows live; ``comment()`` adds an event to it."""

    def __init__(self, stack):
        self.stack = stack
        self.author, self.author_token = stack.user("author")
        self.reader, self.reader_token = stack.user("reader")
        self.post = stack.new_post(self.author_token)
        self.watcher = Recorder(stack.raw(self.reader_token))
        self.watcher.client.send("join_ventroom_post", {"post_id": self.post["id"]})
        self.watcher.reply("ventroom_post_joined")
        self.count = 0

    def comment(self, text=None):
        """A comment; returns its event as the watcher received it live."""
        self.count += 1
        text = text or f"comment {self.count}"
        response = self.stack.api("POST", f"/ventroom/posts/{self.post['id']}/comments/", self.author_token,
                                  json={"text": text})
        assert response.status_code == 201, response.text
        return self.watcher.wait_for(lambda f: f["type"] == "new_ventroom_comment" and f["data"]["text"] == text)

    def resume(self, last_id, transport="raw"):
        """A new connection of the reader that joins the post from ``last_id``: (reply data, recorder)."""
        client = self.stack.raw(self.reader_token) if transport == "raw" else self.stack.sio(self.reader_token)
        recorder = Recorder(client)
        client.send("join_ventroom_post", {"post_id": self.post["id"], "last_event_id": last_id})
        return recorder.reply("ventroom_post_joined")["data"], recorder

    def assert_still_joined(self, recorder):
        live = self.comment()
        recorder.has_event(live["event_id"])
        return live


def _replayed(recorder, reply_data):
    """The first ``replayed`` events after the reply (waiting for them to arrive)."""
    if not reply_data["replayed"]:
        return []
    def events():
        return [frame for frame in recorder.pull() if frame["type"] == "new_ventroom_comment"]
    recorder.wait_for(lambda _: len(events()) >= reply_data["replayed"], what="the replay")
    return events()[:reply_data["replayed"]]


def test_an_id_older_than_the_window_is_not_recovered(window_stack):
    threads = {transport: Thread(window_stack) for transport in ("raw", "sio")}
    firsts = {}
    for transport, thread in threads.items():
        first = firsts[transport] = thread.comment()
        second = thread.comment()
        answer, recorder = thread.resume(first["event_id"], transport)
        assert (answer["recovered"], answer["replayed"]) == (True, 1)  # within the window: replayed
        assert _replayed(recorder, answer) == [second]
    time.sleep(WINDOW + 0.5)
    for transport, thread in threads.items():
        # `first` is now older than the window and an event came after it: refused, both
        # when the group's backlog has expired with the window ...
        answer, recorder = thread.resume(firsts[transport]["event_id"], transport)
        assert (answer["recovered"], answer["replayed"]) == (False, 0)
        # ... and when a new event started a new backlog (which could not tell of `second`).
        thread.assert_still_joined(recorder)
        answer, recorder = thread.resume(firsts[transport]["event_id"], transport)
        assert (answer["recovered"], answer["replayed"]) == (False, 0)
        thread.assert_still_joined(recorder)


def test_a_quiet_group_within_the_window_is_recovered_and_after_it_the_documented_answer(window_stack):
    thread = Thread(window_stack)
    position = window_stack.api("GET", f"/ventroom/posts/{thread.post['id']}/", thread.reader_token
                                ).headers["Last-Event-ID"]
    other = Thread(window_stack)
    other.comment()  # the deployment moves on; the first post stays quiet
    answer, _ = thread.resume(position)
    assert (answer["recovered"], answer["replayed"]) == (True, 0)
    time.sleep(WINDOW + 0.5)
    # After the window the server keeps nothing of a quiet group: it cannot tell whether an
    # event came after an old id, so it says so (docs/API.md, "Decision") ...
    answer, recorder = thread.resume(position)
    assert (answer["recovered"], answer["replayed"]) == (False, 0)
    thread.assert_still_joined(recorder)
    # ... unless the id is the newest the deployment issued (nothing at all came after it).
    newest = window_stack.api("GET", "/ventroom/posts/", thread.reader_token).headers["Last-Event-ID"]
    time.sleep(WINDOW + 0.5)
    answer, _ = Thread.resume(other, newest)
    assert (answer["recovered"], answer["replayed"]) == (True, 0)


def test_a_trimmed_backlog_is_not_recovered(backlog_stack):
    thread = Thread(backlog_stack)  # backlog 4, replay max 10
    start = thread.comment()
    kept = [thread.comment() for _ in range(4)]
    answer, recorder = thread.resume(start["event_id"])
    assert (answer["recovered"], answer["replayed"]) == (True, 4)  # exactly the backlog
    assert _replayed(recorder, answer) == kept
    kept.append(thread.comment())  # trims the oldest after `start`
    answer, recorder = thread.resume(start["event_id"])
    assert (answer["recovered"], answer["replayed"]) == (False, 0)
    kept.append(thread.assert_still_joined(recorder))
    # From the id of the oldest event that is no longer kept: all that came after it is.
    answer, recorder = thread.resume(kept[1]["event_id"])
    assert (answer["recovered"], answer["replayed"]) == (True, 4)
    assert _replayed(recorder, answer) == kept[2:]
    answer, _ = thread.resume(kept[0]["event_id"])
    assert (answer["recovered"], answer["replayed"]) == (False, 0)


@pytest.mark.parametrize("transport", ["raw", "sio"])
def test_exactly_the_replay_max_is_replayed_one_more_is_refused(replay_max_stack, transport):
    thread = Thread(replay_max_stack)  # replay max 3
    start = thread.comment()
    missed = [thread.comment() for _ in range(3)]
    answer, recorder = thread.resume(start["event_id"], transport)
    assert (answer["recovered"], answer["replayed"]) == (True, 3)
    assert _replayed(recorder, answer) == missed  # in full, each frame as first sent
    missed.append(thread.comment())
    answer, recorder = thread.resume(start["event_id"], transport)
    assert (answer["recovered"], answer["replayed"]) == (False, 0)
    later = thread.assert_still_joined(recorder)
    assert [f for f in recorder.pull() if f["type"] == "new_ventroom_comment"] == [later]  # no partial replay
    answer, recorder = thread.resume(missed[1]["event_id"], transport)
    assert (answer["recovered"], answer["replayed"]) == (True, 3)
    assert ids(_replayed(recorder, answer)) == ids([*missed[2:], later])


def test_the_personal_group_at_connect_has_the_same_cap(replay_max_stack):
    owner, owner_token = replay_max_stack.user("owner")
    other, other_token = replay_max_stack.user("other")
    post = replay_max_stack.new_post(owner_token)
    control = Recorder(replay_max_stack.raw(owner_token))
    events = []
    for index in range(5):
        text = f"on your post {index}"
        replay_max_stack.api("POST", f"/ventroom/posts/{post['id']}/comments/", other_token, json={"text": text})
        events.append(control.wait_for(lambda f, text=text: f["type"] == "new_comment_on_user_post"
                                       and f["data"]["text"] == text))
    for start, expected in ((1, (True, 3)), (0, (False, 0))):
        path = f"/ws/?token={owner_token}&last_event_id={events[start]['event_id']}"
        raw = Recorder(replay_max_stack.raw(None, path=path))
        assert tuple(raw.reply("ventroom_resumed")["data"].values()) == expected
        sio = Recorder(replay_max_stack.sio(owner_token, last_event_id=events[start]["event_id"]))
        assert tuple(sio.reply("ventroom_resumed")["data"].values()) == expected
        if expected[0]:
            for recorder in (raw, sio):
                recorder.has_event(events[-1]["event_id"])
                assert recorder.events() == events[2:]


def test_flushall_and_a_restart_answer_false_for_every_id_from_before(lossy_stack, lossy_redis):
    thread = Thread(lossy_stack)
    before = thread.comment()
    thread.comment()
    lossy_redis.client().flushall()
    # Nothing published since: the id is "from the future" of an empty log.
    answer, recorder = thread.resume(before["event_id"])
    assert (answer["recovered"], answer["replayed"]) == (False, 0)
    after_flush = thread.assert_still_joined(recorder)
    answer, _ = thread.resume(before["event_id"])  # events after the loss: still from before it
    assert (answer["recovered"], answer["replayed"]) == (False, 0)
    # A position taken after the loss works as usual.
    answer, replayed = thread.resume(after_flush["event_id"])
    assert (answer["recovered"], answer["replayed"]) == (True, 0)

    lossy_redis.restart()
    deadline = time.time() + 30
    while True:  # the listener reconnects with a backoff (and may close what was open): until live again
        thread.watcher = Recorder(lossy_stack.raw(thread.reader_token))
        thread.watcher.client.send("join_ventroom_post", {"post_id": thread.post["id"]})
        thread.watcher.reply("ventroom_post_joined")
        text = f"after restart {time.time()}"
        lossy_stack.api("POST", f"/ventroom/posts/{thread.post['id']}/comments/", thread.author_token,
                        json={"text": text})
        try:
            first_after = thread.watcher.wait_for(lambda f, text=text: f["data"].get("text") == text, timeout=2)
            break
        except AssertionError:
            assert time.time() < deadline, "no live event after the Redis restart"
    for position in (before, after_flush):
        answer, recorder = thread.resume(position["event_id"])
        assert (answer["recovered"], answer["replayed"]) == (False, 0), position
    thread.assert_still_joined(recorder)
    answer, recorder = thread.resume(first_after["event_id"])
    assert answer["recovered"] is True and answer["replayed"] >= 1
    assert parse_id(_replayed(recorder, answer)[0]["event_id"]) > parse_id(first_after["event_id"])
