"""How long one event takes to reach N raw /ws/ clients on one web process, and what each
idle joined connection costs in memory.

Run by hand (not a test):
    .venv/bin/python bench/ws_fanout.py [--clients 1000] [--events 5] [--redis URL] [--blocks N]
    .venv/bin/python bench/ws_fanout.py --clients 10000 --events 3        # the soak
It starts a real server (gunicorn + eventlet, embedded mode, or on Redis with --redis),
connects N raw clients that join the feed (``--blocks``: their user first blocks N others,
so every delivery checks a filter), reads the server worker's RSS before and after, then
creates posts over REST and reports, per event and over all events, the latency from the
REST call to each client's frame (p50, p99, max) and how many clients got it.
"""
import argparse
import os
import resource
import selectors
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.clients import register  # noqa: E402
from tests.support.databases import create_database  # noqa: E402
from tests.support.processes import WebServer, base_env  # noqa: E402
from tests.support.wire import handshake, masked_text, read_upgrade  # noqa: E402


def worker_rss_kib(master_pid):
    """RSS of the gunicorn worker (the master's child) in KiB."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip()) == master_pid:
            return int(fields["VmRSS"].split()[0])
    raise RuntimeError("no gunicorn worker found")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def connect(server, token, count):
    join = masked_text('{"type":"join_ventroom"}')
    socks = []
    for _ in range(count):
        sock = handshake(server, token)
        read_upgrade(sock)
        sock.sendall(join)
        socks.append(sock)
    selector = selectors.DefaultSelector()
    for sock in socks:  # drain the join replies
        sock.settimeout(30)
        sock.recv(65536)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    return socks, selector


def one_event(server, token, socks, selector, index):
    """``(latencies_ms, missing)`` of one post's new_ventroom_post to every client."""
    pending, latencies = set(socks), []
    started = time.perf_counter()
    response = requests.post(f"{server.url}/ventroom/posts/", timeout=30,
                             json={"title": f"bench {index}", "content": "x" * 200},
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    while pending and time.perf_counter() - started < 60:
        for key, _ in selector.select(timeout=1):
            try:
                if key.fileobj.recv(65536) and key.fileobj in pending:
                    pending.discard(key.fileobj)
                    latencies.append((time.perf_counter() - started) * 1000)
            except BlockingIOError:
                pass
    return latencies, len(pending)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--redis", default=None, help="REDIS_URL (default: embedded mode)")
    parser.add_argument("--blocks", type=int, default=0, help="users the clients' user blocks first")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process and the server it starts

    directory = Path(tempfile.mkdtemp(prefix="ws-bench-"))
    # One user holds every client: lift the per-user connection cap for the measurement. These
    # bare sockets never answer pings: without WS_PING_INTERVAL=0 the server would drop them.
    env = base_env(create_database("sqlite", directory), directory / "media", args.redis,
                   "ws-bench" if args.redis else None, MAX_CONNECTIONS_PER_USER=args.clients + 200,
                   WS_PING_INTERVAL=0)
    server = WebServer(env, directory / "web.log")
    try:
        _, token = register(server.url, "bench@example.com")
        for index in range(args.blocks):
            blocked, _ = register(server.url, f"blocked-{index}@example.com")
            requests.post(f"{server.url}/users/{blocked['id']}/block", headers={"Authorization": f"Bearer {token}"},
                          timeout=10).raise_for_status()
        warm, warm_selector = connect(server, token, 100)
        time.sleep(1)
        before = worker_rss_kib(server.proc.pid)
        socks, selector = connect(server, token, args.clients)
        time.sleep(2)
        after = worker_rss_kib(server.proc.pid)
        print(f"{args.clients} raw clients joined ventroom_feed ({'redis' if args.redis else 'embedded'} mode, "
              f"{args.blocks} users blocked); worker RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB: "
              f"{(after - before) / args.clients:.2f} KiB per connection")
        for sock in warm:
            warm_selector.unregister(sock)
            sock.close()
        everything, lost = [], 0
        for index in range(args.events):
            latencies, missing = one_event(server, token, socks, selector, index)
            everything += latencies
            lost += missing
            if latencies:
                print(f"event {index}: {len(latencies)} delivered, {missing} missing; p50 "
                      f"{statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
                      f"max {max(latencies):.1f} ms")
            else:
                print(f"event {index}: none of {missing} clients got it")
            time.sleep(0.5)
        print(f"all events: p50 {statistics.median(everything):.1f} ms, p99 {percentile(everything, 0.99):.1f} ms, "
              f"max {max(everything):.1f} ms; delivered {len(everything)} of {args.clients * args.events} "
              f"(REST call included)")
        for sock in socks:
            sock.close()
    finally:
        server.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
