"""Helpers for the resume-after-reconnect tests: what a client collected, split into events
and replies and sorted into the groups they came through; a thread that keeps writing; a
private ``redis-server`` that a test may flush or restart (never the shared one)."""
import os
import queue
import shutil
import subprocess
import threading
import time

import redis

from app.adapters.eventlog import parse_id
from tests.support.processes import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def is_event(frame):
    """Events carry positions (``"<ms>-<seq>"``); replies carry ``r-<hex>``."""
    return parse_id(frame["event_id"]) is not None


def drain(client, settle=0.0):
    """Every envelope that ``client`` (raw or Socket.IO) has received so far, in order."""
    if settle:
        time.sleep(settle)
    frames = []
    while True:
        try:
            item = client.received.get_nowait()
        except queue.Empty:
            return frames
        frames.append(item[1] if isinstance(item, tuple) else item)


class Recorder:
    """Keeps everything a client receives (``frames``), in order, from when it is made."""

    def __init__(self, client):
        self.client, self.frames = client, []

    def pull(self):
        self.frames += drain(self.client)
        return self.frames

    def events(self):
        return [frame for frame in self.pull() if is_event(frame)]

    def wait_for(self, predicate, timeout=20, what="a frame"):
        """The first frame (already received or arriving within ``timeout``) that matches."""
        deadline = time.time() + timeout
        while True:
            for frame in self.pull():
                if predicate(frame):
                    return frame
            if time.time() > deadline:
                raise AssertionError(f"no {what} within {timeout}s; got {[f['type'] for f in self.frames][-20:]}")
            time.sleep(0.05)

    def reply(self, reply_type, timeout=10):
        return self.wait_for(lambda frame: frame["type"] == reply_type, timeout, reply_type)

    def has_event(self, event_id, timeout=20):
        return self.wait_for(lambda frame: frame["event_id"] == event_id, timeout, f"event {event_id}")


def by_group(events, group_of):
    """``{group: [event, ...]}`` in the order received; ``group_of(event)`` names the one
    group of the client's through which it came (the tests make every event reach a
    client through one group only)."""
    groups = {}
    for event in events:
        groups.setdefault(group_of(event), []).append(event)
    return groups


def ids(events):
    return [event["event_id"] for event in events]


def increasing(event_ids):
    positions = [parse_id(event_id) for event_id in event_ids]
    return all(a < b for a, b in zip(positions, positions[1:], strict=False))


def after(events, last_id):
    last = parse_id(last_id)
    return [event for event in events if parse_id(event["event_id"]) > last]


class Writer(threading.Thread):
    """Calls ``write(i)`` for i = 0, 1, ... every ``interval`` seconds until ``stop()``;
    ``results`` keeps what each call returned, ``errors`` what it raised."""

    def __init__(self, write, interval=0.02, limit=2000):
        super().__init__(daemon=True)
        self.write, self.interval, self.limit = write, interval, limit
        self.results, self.errors = [], []
        self._halt = threading.Event()

    def run(self):
        for index in range(self.limit):
            if self._halt.is_set():
                return
            try:
                self.results.append(self.write(index))
            except Exception as exc:  # noqa: BLE001 (reported by the test)
                self.errors.append(exc)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(30)
        assert not self.is_alive(), "the writer did not stop"
        assert not self.errors, self.errors[:3]
        return self.results

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self._halt.set()
        self.join(30)


class PrivateRedis:
    """A ``redis-server`` of a test's own on a free loopback port, without persistence, so
    that a test may FLUSHALL or restart it; ``url(db)`` for one of its databases."""

    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        client = self.client()
        deadline = time.time() + 10
        while True:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the private redis-server did not start") from None
                time.sleep(0.05)

    def url(self, db=0):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db=0):
        return redis.Redis.from_url(self.url(db), socket_timeout=5)

    def restart(self):
        """Stopped (its data lost: no persistence) and started again on the same port."""
        self.stop()
        self.start()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.proc = None
