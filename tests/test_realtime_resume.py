"""Resume after reconnect on a live cluster: two web processes on one Redis and a real
Celery worker (which publishes when it finishes processing an upload).

A client that drops and comes back on the *other* process with its last id gets exactly
what its groups missed (each frame as a never-disconnected control client saw it live),
then live events, with nothing missing and nothing twice, while a writer keeps creating
events throughout; every connection receives events in increasing id order while both
processes and the worker publish at once; a REST read's ``Last-Event-ID`` is a position
from which a resume loses nothing a concurrent writer created; quiet groups, malformed
and future ids get their explicit answers on both transports."""
import itertools
import time

import pytest
import requests

from app.adapters.eventlog import parse_id
from tests.support.media import image_bytes
from tests.support.resume import Recorder, Writer, after, by_group, ids, increasing, is_event

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

FEED_TYPES = {"new_ventroom_post", "ventroom_post_updated", "ventroom_post_deleted"}
POST_TYPES = {"new_ventroom_comment", "ventroom_comment_updated", "ventroom_comment_deleted",
              "ventroom_reaction_updated"}
PERSONAL_TYPES = {"new_comment_on_user_post", "new_reply_on_user_comment", "new_reaction_on_user_post",
                  "new_reaction_on_user_comment"}
REACTIONS = ("like", "love", "haha", "sad")
_tags = itertools.count()


@pytest.fixture(scope="module")
def cluster(module_stack):
    return module_stack(web=2, workers=1, database="postgres", redis=True)


@pytest.fixture
def live(cluster):
    yield cluster
    cluster.close_clients()


class Cast:
    """An author X who writes everything, the post P everybody watches, and readers R (raw)
    and S (Socket.IO), each owning a post (Q, T) that X comments on (their personal events)."""

    def __init__(self, stack):
        self.stack = stack
        self.web1, self.web2 = stack.servers
        self.x, self.x_token = stack.user("x")
        self.r, self.r_token = stack.user("r")
        self.s, self.s_token = stack.user("s")
        self.p = stack.new_post(self.x_token, title="P")
        self.q = stack.new_post(self.r_token, title="Q")
        self.t = stack.new_post(self.s_token, title="T")
        self._reactions = itertools.count()

    def server(self, index):
        return (self.web1, self.web2)[index % 2]

    def post(self, title, index=0):
        response = self.stack.api("POST", "/ventroom/posts/", self.x_token, server=self.server(index),
                                  json={"title": title, "content": "c"})
        assert response.status_code == 201, response.text
        return response.json()

    def comment(self, post, text, index=0):
        response = self.stack.api("POST", f"/ventroom/posts/{post['id']}/comments/", self.x_token,
                                  server=self.server(index), json={"text": text})
        assert response.status_code == 201, response.text
        return response.json()

    def react(self, post, index=0):
        """X's reaction to ``post``, a different one each time (an unchanged one is not announced)."""
        response = self.stack.api("POST", "/ventroom/reactions/", self.x_token, server=self.server(index), json={
            "content_type": "ventpost", "object_id": post["id"], "reaction_type": REACTIONS[next(self._reactions) % 4]})
        assert response.status_code == 201, response.text

    def image_post(self, title, index=0):
        response = self.stack.api("POST", "/ventroom/posts/", self.x_token, server=self.server(index),
                                  data={"title": title, "content": "c", "media_type": "image"},
                                  files={"media": ("p.jpg", image_bytes(size=(700, 500)), "image/jpeg")})
        assert response.status_code == 201, response.text
        return response.json()

    def image_comment(self, text, index=0):
        response = self.stack.api("POST", f"/ventroom/posts/{self.p['id']}/comments/", self.x_token,
                                  server=self.server(index), data={"text": text, "media_type": "image"},
                                  files={"media": ("c.jpg", image_bytes(size=(500, 400)), "image/jpeg")})
        assert response.status_code == 201, response.text
        return response.json()

    def group_of(self, event):
        """The one group of R's or S's through which ``event`` reaches them."""
        kind, data = event["type"], event["data"]
        if kind in FEED_TYPES:
            assert data.get("id", data.get("post_id")) != self.p["id"], event  # P itself never changes
            return "feed"
        if kind in POST_TYPES:
            post_id = data["post"] if "post" in data else data.get("post_id", data.get("object_id"))
            assert post_id == self.p["id"], event
            return "post"
        assert kind in PERSONAL_TYPES, event
        return "personal"

    def sync(self, *recorders, kinds=("new_ventroom_post", "new_ventroom_comment", "new_comment_on_user_post")):
        """A marker in each group (from both processes); returns once every recorder has
        received the markers of ``kinds`` (so everything before them, in id order)."""
        tag = f"mark-{next(_tags)}"
        self.post(tag, 0)
        self.comment(self.p, tag, 1)
        self.comment(self.q, tag, 0)
        self.comment(self.t, tag, 1)
        for recorder in recorders:
            for kind in kinds:
                recorder.wait_for(lambda f, kind=kind: f["type"] == kind and tag in (
                    f["data"].get("title"), f["data"].get("text")), what=f"{kind} {tag}")

    def write_everywhere(self, index, label):
        """One event in one of the watched groups, from process ``index % 2``."""
        target = index % 5
        if target == 0:
            self.post(f"{label}-{index}", index)
        elif target == 1:
            self.comment(self.p, f"{label}-{index}", index)
        elif target == 2:
            self.comment(self.q, f"{label}-{index}", index)
        elif target == 3:
            self.comment(self.t, f"{label}-{index}", index)
        else:
            self.react(self.p, index)  # ventroom_reaction_updated in P's group


def _raw_resume(stack, token, server, last_id):
    return stack.raw(None, server=server, path=f"/ws/?token={token}&last_event_id={last_id}")


def _join_all(client, post_id, last_id=None):
    extra = {} if last_id is None else {"last_event_id": last_id}
    client.send("join_ventroom", extra or None)
    client.send("join_ventroom_post", {"post_id": post_id, **extra})


def _check_resumed(cast, control, before, resumed, last_id, missed, replies):
    """Per group: what the client got before it dropped plus after it came back is exactly
    what the control got (same ids, same frames, same order), the replay is at least what
    was missed, and each group's events came after that group's reply."""
    control_events = control.events()
    assert increasing(ids(control_events))
    expected = by_group(control_events, cast.group_of)
    got_before = by_group([f for f in before if is_event(f)], cast.group_of)
    frames_after = resumed.pull()
    got_after = by_group([f for f in frames_after if is_event(f)], cast.group_of)
    assert set(expected) == {"feed", "post", "personal"}
    for group in expected:
        got = got_before.get(group, []) + got_after.get(group, [])
        assert ids(got) == ids(expected[group]), group  # none missing, none twice, same order
        assert got == expected[group], group  # each frame as it was first sent
        assert all(parse_id(e["event_id"]) <= parse_id(last_id) for e in got_before.get(group, []))
        assert ids(got_after.get(group, [])) == ids(after(expected[group], last_id))
        reply = replies[group]
        assert reply["data"]["recovered"] is True, reply
        assert reply["data"]["replayed"] >= len(missed[group]) > 0, (group, reply, len(missed[group]))
        assert reply["data"]["replayed"] <= len(got_after[group])
        assert frames_after.index(reply) < frames_after.index(got_after[group][0])
        # The first `replayed` events are the replay: the oldest missed ones, in order.
        assert ids(got_after[group][:len(missed[group])]) == ids(missed[group])


def test_both_transports_resume_on_the_other_process_while_events_keep_coming(live):
    cast = Cast(live)
    web1, web2 = cast.web1, cast.web2
    # Never-disconnected controls (same users, so the same personal groups).
    r_control = Recorder(live.raw(cast.r_token, server=web2))
    s_control = Recorder(live.sio(cast.s_token, server=web1))
    r_first = Recorder(live.raw(cast.r_token, server=web1))
    s_first = Recorder(live.sio(cast.s_token, server=web2))
    for recorder in (r_control, s_control, r_first, s_first):
        _join_all(recorder.client, cast.p["id"])
        recorder.reply("ventroom_joined")
        recorder.reply("ventroom_post_joined")
    for index in range(8):
        cast.write_everywhere(index, "before")
    cast.sync(r_control, s_control, r_first, s_first)
    last = {"r": r_first.events()[-1]["event_id"], "s": s_first.events()[-1]["event_id"]}
    r_first.client.close()
    s_first.client.close()
    r_first.pull()
    s_first.pull()

    # Missed: every group, from both processes and from the worker.
    for index in range(10):
        cast.write_everywhere(index, "missed")
    image_post = cast.image_post("missed-image", 1)
    image_comment = cast.image_comment("missed-image", 0)
    for control in (r_control, s_control):
        control.wait_for(lambda f: f["type"] == "ventroom_post_updated" and f["data"]["id"] == image_post["id"],
                         timeout=60, what="the worker's post update")
        control.wait_for(lambda f: f["type"] == "ventroom_comment_updated"
                         and f["data"]["id"] == image_comment["id"], timeout=60, what="the worker's comment update")
    cast.sync(r_control, s_control)
    missed = {who: by_group(after(control.events(), last[who]), cast.group_of)
              for who, control in (("r", r_control), ("s", s_control))}

    with Writer(lambda index: cast.write_everywhere(index, "during"), interval=0.01) as writer:
        r_back = Recorder(_raw_resume(live, cast.r_token, web2, last["r"]))
        s_back = Recorder(live.sio(cast.s_token, server=web1, last_event_id=last["s"]))
        replies = {"r": {}, "s": {}}
        for who, back in (("r", r_back), ("s", s_back)):
            resumed = back.reply("ventroom_resumed")
            assert back.pull()[0] is resumed  # right after connect, before its replay
            assert set(resumed["data"]) == {"recovered", "replayed"}
            replies[who]["personal"] = resumed
        for who, back in (("r", r_back), ("s", s_back)):
            _join_all(back.client, cast.p["id"], last[who])
        for who, back in (("r", r_back), ("s", s_back)):
            replies[who]["feed"] = back.reply("ventroom_joined")
            replies[who]["post"] = back.reply("ventroom_post_joined")
        live_image = cast.image_comment("during-image", 1)  # the worker publishes while they are back
        while len(writer.results) < 40:
            writer.join(0.1)
        writer.stop()
    for control in (r_control, s_control):
        control.wait_for(lambda f: f["type"] == "ventroom_comment_updated" and f["data"]["id"] == live_image["id"],
                         timeout=60, what="the worker's live update")
    cast.sync(r_control, s_control, r_back, s_back)
    _check_resumed(cast, r_control, r_first.frames, r_back, last["r"], missed["r"], replies["r"])
    _check_resumed(cast, s_control, s_first.frames, s_back, last["s"], missed["s"], replies["s"])


def test_every_connection_gets_events_in_id_order_while_both_processes_and_the_worker_publish(live):
    cast = Cast(live)
    users = [live.user(f"watcher{n}")[1] for n in range(3)]
    recorders = []
    for index, token in enumerate(users):
        for server in (cast.web1, cast.web2):
            recorders.append(Recorder(live.raw(token, server=server)))
            if index == 0:
                recorders.append(Recorder(live.sio(token, server=server)))
    for recorder in recorders:
        _join_all(recorder.client, cast.p["id"])
        recorder.reply("ventroom_post_joined")

    def burst(offset):
        def write(index):
            cast.post(f"order-{offset}-{index}", offset) if index % 2 else cast.comment(cast.p, f"o-{index}", offset)
        return write

    images = []
    with Writer(burst(0), interval=0) as first, Writer(burst(1), interval=0) as second:
        for index in range(4):
            images.append(cast.image_post(f"order-image-{index}", index))
            images.append(cast.image_comment(f"order-image-{index}", index))
        while len(first.results) + len(second.results) < 80:
            first.join(0.1)
        first.stop()
        second.stop()
    for recorder in recorders:
        for image in images:
            kind = "ventroom_post_updated" if "title" in image else "ventroom_comment_updated"
            recorder.wait_for(lambda f, kind=kind, image=image: f["type"] == kind and f["data"]["id"] == image["id"],
                              timeout=60, what="a worker update")
    cast.sync()
    sequences = []
    for recorder in recorders:
        recorder.wait_for(lambda f: f["type"] == "new_ventroom_post" and f["data"]["title"].startswith("mark-"))
        sequences.append(ids(recorder.events()))
    for sequence in sequences:
        assert increasing(sequence), sequence
    assert len(sequences[0]) >= 80 + 2 * len(images)
    assert all(sequence == sequences[0] for sequence in sequences)  # the same events, the same order everywhere


def _stream_after(recorder, last_id, predicate):
    return [f for f in after(recorder.events(), last_id) if predicate(f)]


def test_resumes_during_a_burst_neither_lose_nor_repeat_an_event(live):
    """Many resumes of one group, on both processes and transports, while two writers
    publish as fast as they can: what each resumed connection received of the group is
    exactly the start of what the control received after its last id (nothing missing,
    nothing twice, in order), however the replay and the live events met."""
    cast = Cast(live)
    control = Recorder(live.raw(cast.r_token, server=cast.web1))
    control.client.send("join_ventroom_post", {"post_id": cast.p["id"]})
    control.reply("ventroom_post_joined")
    cast.comment(cast.p, "burst-start")
    control.wait_for(lambda f: f["type"] == "new_ventroom_comment")
    rounds = []
    with Writer(lambda index: cast.comment(cast.p, f"burst-a-{index}", 0), interval=0), \
            Writer(lambda index: cast.comment(cast.p, f"burst-b-{index}", 1), interval=0):
        for round_ in range(16):
            seen = control.events()
            last_id = seen[-1 if round_ % 2 else -min(len(seen), 80)]["event_id"]  # a long replay every other round
            server = cast.server(round_)
            client = live.raw(cast.r_token, server=server) if round_ % 4 < 2 else live.sio(cast.r_token, server=server)
            recorder = Recorder(client)
            client.send("join_ventroom_post", {"post_id": cast.p["id"], "last_event_id": last_id})
            reply = recorder.reply("ventroom_post_joined")
            assert reply["data"]["recovered"] is True, reply
            time.sleep(0.15)
            client.close()
            rounds.append((last_id, recorder))
    cast.sync(control, kinds=["new_ventroom_comment"])
    expected = control.events()
    assert increasing(ids(expected))
    assert len(expected) > 100
    for last_id, recorder in rounds:
        got = [f for f in recorder.pull() if is_event(f)]
        assert got, last_id
        assert ids(got) == ids(after(expected, last_id)[:len(got)]), (last_id, type(recorder.client).__name__)
        assert got == after(expected, last_id)[:len(got)], last_id


def test_a_resume_from_a_reads_last_event_id_loses_nothing_a_concurrent_writer_made(live):
    """Reads of the feed, a post and its comments while writers create posts and comments
    and rename the post: a resume from each read's Last-Event-ID brings everything the
    read did not show (the header is taken before the data)."""
    cast = Cast(live)
    url = cast.web1.url
    auth = {"Authorization": f"Bearer {cast.r_token}", "Origin": "https://app.example"}
    readers = [cast.r_token] + [live.user("reader")[1] for _ in range(2)]  # 36 connections: 12 a user
    titles = []

    def rename(index):
        title = f"renamed-{index}"
        response = live.api("PATCH", f"/ventroom/posts/{cast.p['id']}/", cast.x_token, server=cast.server(index),
                            json={"title": title})
        assert response.status_code == 200, response.text
        titles.append(title)

    reads = []
    posts = Writer(lambda index: cast.post(f"lei-{index}", index) and index, interval=0)
    comments = Writer(lambda index: cast.comment(cast.p, f"lei-{index}", index + 1) and index, interval=0)
    renames = Writer(rename, interval=0)
    with posts, comments, renames:
        for round_ in range(12):
            for path in ("/ventroom/posts/?page_size=50", f"/ventroom/posts/{cast.p['id']}/",
                         f"/ventroom/posts/{cast.p['id']}/comments/?page_size=100"):
                response = requests.get(url + path, headers=auth, timeout=15)
                assert response.status_code == 200, response.text
                position = response.headers["Last-Event-ID"]
                assert parse_id(position) is not None, position
                exposed = response.headers["Access-Control-Expose-Headers"]
                assert {"Last-Event-ID", "Retry-After"} <= {h.strip() for h in exposed.split(",")}, exposed
                client = live.raw(readers[round_ % 3], server=cast.server(round_))
                if "page_size=50" in path:
                    client.send("join_ventroom", {"last_event_id": position})
                else:
                    client.send("join_ventroom_post", {"post_id": cast.p["id"], "last_event_id": position})
                reads.append((path, response.json(), position, Recorder(client)))
        written_posts, written_comments = posts.stop(), comments.stop()
        renames.stop()
    assert len(written_posts) > 10 and len(written_comments) > 10 and len(titles) > 10
    cast.sync(*[recorder for path, *_, recorder in reads if "page_size=50" in path], kinds=["new_ventroom_post"])
    cast.sync(*[recorder for path, *_, recorder in reads if "page_size=50" not in path],
              kinds=["new_ventroom_comment"])
    for path, body, position, recorder in reads:
        reply = recorder.reply("ventroom_joined" if "page_size=50" in path else "ventroom_post_joined")
        assert reply["data"]["recovered"] is True, (path, reply)
        if "page_size=50" in path:
            shown = {post["title"] for post in body["results"]}
            streamed = {f["data"]["title"] for f in _stream_after(recorder, position, lambda f: f["type"] ==
                                                                   "new_ventroom_post")}
            newest_shown = max((int(t.split("-")[1]) for t in shown if t.startswith("lei-")), default=-1)
            missing = {f"lei-{i}" for i in written_posts if i > newest_shown} - streamed
            assert not missing, (path, position, sorted(missing))
        elif path.endswith("comments/?page_size=100"):
            shown = {comment["text"] for comment in body["results"]}
            streamed = {f["data"]["text"] for f in _stream_after(recorder, position, lambda f: f["type"] ==
                                                                  "new_ventroom_comment")}
            newest_shown = max((int(t.split("-")[1]) for t in shown if t.startswith("lei-")), default=-1)
            missing = {f"lei-{i}" for i in written_comments if i > newest_shown} - streamed
            assert not missing, (path, position, sorted(missing))
        else:
            updates = _stream_after(recorder, position, lambda f: f["type"] == "ventroom_post_updated")
            state = updates[-1]["data"]["title"] if updates else body["title"]
            assert state == titles[-1], (path, position, body["title"], [u["data"]["title"] for u in updates])


@pytest.mark.parametrize("transport", ["raw", "sio"])
def test_explicit_answers_quiet_malformed_and_future(live, transport):
    cast = Cast(live)
    quiet = live.new_post(cast.x_token, title="quiet")  # its group never gets an event
    earlier = live.api("GET", f"/ventroom/posts/{quiet['id']}/", cast.r_token).headers["Last-Event-ID"]
    cast.sync()  # events after `earlier`, in other groups
    newest = live.api("GET", f"/ventroom/posts/{quiet['id']}/", cast.r_token).headers["Last-Event-ID"]
    assert parse_id(newest) > parse_id(earlier)
    ms, seq = parse_id(newest)
    client = Recorder(live.raw(cast.r_token) if transport == "raw" else live.sio(cast.r_token))

    def join_post(last_id):
        client.client.send("join_ventroom_post", {"post_id": quiet["id"], "last_event_id": last_id})
        reply = client.wait_for(lambda f: f["type"] == "ventroom_post_joined" and f not in seen)
        seen.append(reply)
        return reply["data"]

    seen = []
    assert join_post(newest) == {"post_id": quiet["id"], "message": "Successfully joined Ventroom post",
                                 "recovered": True, "replayed": 0}
    assert join_post(earlier) == {"post_id": quiet["id"], "message": "Successfully joined Ventroom post",
                                  "recovered": True, "replayed": 0}
    future = f"{ms + 60_000}-0"
    for bad in ("123", "abc-1", "", "1-2-3", " 1-0", 123, None, future, f"{ms}-{seq + 1}"):
        answer = join_post(bad)
        assert (answer["recovered"], answer["replayed"]) == (False, 0), (bad, answer)
    # Still joined: live events keep coming.
    response = live.api("PATCH", f"/ventroom/posts/{quiet['id']}/", cast.x_token, json={"title": "still here"})
    assert response.status_code == 200
    client.wait_for(lambda f: f["type"] == "ventroom_post_updated" and f["data"]["title"] == "still here")

    # The personal group at connect: malformed and future ids answer false, the group stays joined.
    for bad in ("123", "abc-1", "", future):
        if transport == "raw":
            back = Recorder(_raw_resume(live, cast.r_token, cast.web2, bad))
        else:
            back = Recorder(live.sio(cast.r_token, server=cast.web2, last_event_id=bad))
        assert back.reply("ventroom_resumed")["data"] == {"recovered": False, "replayed": 0}, bad
        cast.comment(cast.q, f"personal-{bad}")
        back.wait_for(lambda f, bad=bad: f["type"] == "new_comment_on_user_post"
                      and f["data"]["text"] == f"personal-{bad}")
        back.client.close()
    if transport == "sio":  # a number instead of a string
        back = Recorder(live.sio(cast.r_token, last_event_id=12345))
        assert back.reply("ventroom_resumed")["data"] == {"recovered": False, "replayed": 0}
