"""Resume after reconnect: what a replay costs, what the backlog write costs, what the
backlog takes in Redis. Run by hand (not a test); each part starts its own redis-server
on a free loopback port (never the shared one) and, for the first two, one real web
process (gunicorn + eventlet) on it.

  .venv/bin/python bench/resume.py replay [--joins 200] [--missed 10 100 500]
      join-with-replay latency on one raw connection: the time from sending
      ``join_ventroom_post`` with a ``last_event_id`` that missed n events of the post's
      group to receiving the last replayed frame (reply + n comment events), p50/p99.
  .venv/bin/python bench/resume.py fanout [--clients 1000] [--events 200]
      fan-out latency to K raw clients in the feed: the time from publishing one event
      to the last client receiving it, with the backlog (the app's own publish script:
      id, XADD to each group's backlog, PUBLISH) and without it (the same script with the
      XADDs taken out), interleaved event by event; p50/p99 of each.
  .venv/bin/python bench/resume.py memory [--groups 10000] [--events 1000] [--text 120]
      Redis memory of the backlogs: ``RedisEventLog.publish`` writes ``events`` comment
      events (``text`` characters each) to each of ``groups`` groups (each event to 50
      groups at a time), ``INFO memory`` before and after; bytes per event.
"""
import argparse
import json
import selectors
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.adapters.eventlog import frame_prefix  # noqa: E402
from app.adapters.eventlog.redis_log import PUBLISH, RedisEventLog  # noqa: E402
from tests.support.clients import register  # noqa: E402
from tests.support.databases import create_database  # noqa: E402
from tests.support.processes import WebServer, base_env  # noqa: E402
from tests.support.resume import PrivateRedis  # noqa: E402
from tests.support.wire import handshake, masked_text, read_upgrade  # noqa: E402

CHANNEL = "resume-bench"
# The publish script without the backlog: the same id and PUBLISH, no XADD/PEXPIRE.
BACKLOG_LOOP = PUBLISH[PUBLISH.index("for i = 3, #KEYS do"):PUBLISH.index("if not gap then redis.call('PUBLISH'")]
NO_BACKLOG = PUBLISH.replace(BACKLOG_LOOP, "")
assert "XADD" not in NO_BACKLOG and "PUBLISH" in NO_BACKLOG


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summary(values):
    return (f"p50 {statistics.median(values) * 1000:.2f} ms, p99 {percentile(values, 0.99) * 1000:.2f} ms, "
            f"max {max(values) * 1000:.2f} ms (n={len(values)})")


class FrameCounter:
    """Counts the server's text frames on a bare socket (no JSON parsing: the client's cost
    stays out of the figure); ``last`` is the newest frame's payload."""

    def __init__(self, sock):
        self.sock, self.buffer, self.last = sock, b"", b""

    def feed(self):
        """Read what is there; returns how many text frames were completed."""
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        self.buffer += chunk
        count = 0
        while len(self.buffer) >= 2:
            length, offset = self.buffer[1] & 0x7F, 2
            if length == 126:
                if len(self.buffer) < 4:
                    break
                length, offset = int.from_bytes(self.buffer[2:4], "big"), 4
            elif length == 127:
                if len(self.buffer) < 10:
                    break
                length, offset = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < offset + length:
                break
            if self.buffer[0] == 0x81:
                count += 1
                self.last = self.buffer[offset:offset + length]
            self.buffer = self.buffer[offset + length:]
        return count

    def read(self, count, timeout=30):
        deadline = time.perf_counter() + timeout
        while count > 0:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{count} frames missing")
            count -= self.feed()


def start_server(directory, redis_server, **env):
    database = create_database("sqlite", directory)
    environment = base_env(database, directory / "media", redis_server.url(0), CHANNEL, **env)
    return WebServer(environment, directory / "web.log")


def bench_replay(args, directory, redis_server):
    server = start_server(directory, redis_server)
    try:
        _, token = register(server.url, "replay@example.com")
        auth = {"Authorization": f"Bearer {token}"}
        post = requests.post(f"{server.url}/ventroom/posts/", json={"title": "t", "content": "c"}, headers=auth,
                             timeout=10).json()
        watcher = handshake(server, token)
        read_upgrade(watcher)
        watcher.sendall(masked_text(json.dumps({"type": "join_ventroom_post", "data": {"post_id": post["id"]}})))
        counter = FrameCounter(watcher)
        counter.read(1)
        needed = max(args.missed) + 1
        ids = []
        for index in range(needed):
            requests.post(f"{server.url}/ventroom/posts/{post['id']}/comments/", headers=auth, timeout=10,
                          json={"text": f"comment {index}: " + "words " * 20})
            counter.read(1)
            ids.append(json.loads(counter.last)["event_id"])
        print(f"one web process on Redis; post {post['id']} has {len(ids)} comment events "
              f"(~{len(counter.last)} bytes a frame)")
        sock = handshake(server, token)
        read_upgrade(sock)
        reader = FrameCounter(sock)
        for missed in args.missed:
            last_id = ids[-missed - 1]
            join = masked_text(json.dumps({"type": "join_ventroom_post",
                                           "data": {"post_id": post["id"], "last_event_id": last_id}},
                                          separators=(",", ":")))
            timings = []
            for attempt in range(args.joins + 5):
                started = time.perf_counter()
                sock.sendall(join)
                reader.read(1 + missed)
                elapsed = time.perf_counter() - started
                if attempt == 0:
                    reply = json.loads(reader.last)
                    assert reply["event_id"] == ids[-1], reply  # the last frame is the newest missed event
                if attempt >= 5:  # warm-up
                    timings.append(elapsed)
            print(f"replay of {missed:>3} missed events: {summary(timings)}")
    finally:
        server.stop()


def bench_fanout(args, directory, redis_server):
    server = start_server(directory, redis_server, MAX_CONNECTIONS_PER_USER=args.clients + 10)
    log = RedisEventLog(redis_server.url(0), channel=CHANNEL, window_seconds=900, backlog=1000, replay_max=500)
    plain = log.redis.register_script(NO_BACKLOG)
    try:
        envelope = {"type": "new_ventroom_post", "timestamp": "2026-01-01T00:00:00Z",
                    "data": {"id": 1, "title": "A post", "content": "words " * 40, "user_reaction": None}}
        groups = ["ventroom_feed", "user_bench"]
        header = json.dumps({"g": groups, "u": []}, separators=(",", ":"))
        _, token = register(server.url, "fanout@example.com")
        for _ in range(1100):  # the feed's backlog full: every XADD also trims, as in steady state
            log.publish(envelope, groups)
        selector = selectors.DefaultSelector()
        join = masked_text('{"type":"join_ventroom"}')
        counters = []
        for _ in range(args.clients):
            sock = handshake(server, token)
            read_upgrade(sock)
            sock.sendall(join)
            counter = FrameCounter(sock)
            counter.read(1)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, counter)
            counters.append(counter)

        def with_backlog():
            log.publish(envelope, groups)

        def without_backlog():
            plain(keys=[log._seq, log._epoch, *(log.group_key(group) for group in groups)],
                  args=[log.window_ms, log.backlog + 1, log.channel, header, frame_prefix(envelope), "", "0"])

        calls = {with_backlog: [], without_backlog: []}

        def once(publish):
            pending = len(counters)
            started = time.perf_counter()
            publish()
            calls[publish].append(time.perf_counter() - started)
            while pending:
                events = selector.select(timeout=10)
                if not events:
                    raise TimeoutError(f"{pending} clients got nothing")
                for key, _ in events:
                    try:
                        pending -= key.data.feed()
                    except BlockingIOError:
                        pass
            return time.perf_counter() - started

        timings = {"with": [], "without": []}
        for index in range(args.events):
            for name, publish in ((("with", with_backlog), ("without", without_backlog)) if index % 2
                                  else (("without", without_backlog), ("with", with_backlog))):
                timings[name].append(once(publish))
                time.sleep(0.01)
        print(f"{args.clients} raw clients in the feed, one web process on Redis:")
        for name, publish in (("without", without_backlog), ("with", with_backlog)):
            print(f"  fan-out {name} the backlog: {summary(timings[name])}")
            print(f"    the publish call itself: {summary(calls[publish])}")
        ratio = percentile(timings["with"], 0.99) / percentile(timings["without"], 0.99)
        print(f"  p99 with / without: {ratio:.3f}")
    finally:
        server.stop()


def bench_memory(args, redis_server):
    client = redis_server.client()
    log = RedisEventLog(redis_server.url(0), channel=CHANNEL, window_seconds=900, backlog=args.events,
                        replay_max=500)
    comment = {"id": 123456, "post": 4321, "user": {"id": "94b24291-0781-4556-b893-cb58ae82810a",
                                                    "display_name": "A name", "profile_photo": None},
               "text": "x" * args.text, "media": None, "media_type": None,
               "created_at": "2026-12-02T00:41:02.350988Z", "updated_at": "2026-12-02T00:41:02.350988Z",
               "parent": None, "replies": [], "reaction_summary": [], "user_reaction": None,
               "media_status": None, "thumbnail": None, "media_info": None, "anonymous": False,
               "content_warning": None, "sensitive": False, "hidden": False}
    envelope = {"type": "new_ventroom_comment", "data": comment, "timestamp": "2026-12-02T00:41:02Z"}
    frame_bytes = len(frame_prefix(envelope)) + len("1796172166961-0\"}")
    groups = [f"vent_post_{index}" for index in range(args.groups)]
    batch = 50
    before = client.info("memory")["used_memory"]
    started = time.perf_counter()
    for round_ in range(args.events):
        for start in range(0, len(groups), batch):
            log.publish(envelope, groups[start:start + batch], ["94b24291-0781-4556-b893-cb58ae82810a"])
        if round_ % 100 == 99:
            print(f"  {round_ + 1} events in each of {args.groups} groups ({time.perf_counter() - started:.0f} s)")
    after = client.info("memory")
    total = args.groups * args.events
    used = after["used_memory"] - before
    print(f"{args.groups} groups x {args.events} events ({frame_bytes}-byte frames, one user named): "
          f"used_memory +{used / 2**20:.0f} MiB = {used / total:.0f} bytes per event "
          f"(frame {frame_bytes} bytes; rss {after['used_memory_rss'] / 2**20:.0f} MiB)")
    assert client.xlen(log.group_key(groups[0])) == args.events


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="part", required=True)
    replay = sub.add_parser("replay")
    replay.add_argument("--joins", type=int, default=200)
    replay.add_argument("--missed", type=int, nargs="+", default=[10, 100, 500])
    fanout = sub.add_parser("fanout")
    fanout.add_argument("--clients", type=int, default=1000)
    fanout.add_argument("--events", type=int, default=200)
    memory = sub.add_parser("memory")
    memory.add_argument("--groups", type=int, default=10000)
    memory.add_argument("--events", type=int, default=1000)
    memory.add_argument("--text", type=int, default=120, help="characters of each comment's text")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="resume-bench-"))
    redis_server = PrivateRedis(directory)
    try:
        if args.part == "replay":
            bench_replay(args, directory, redis_server)
        elif args.part == "fanout":
            bench_fanout(args, directory, redis_server)
        else:
            bench_memory(args, redis_server)
    finally:
        redis_server.stop()


if __name__ == "__main__":
    main()
