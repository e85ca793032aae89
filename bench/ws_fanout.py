"""How long one event takes to reach N raw /ws/ clients on one web process.

Run by hand (not a test):  .venv/bin/python bench/ws_fanout.py [--clients 1000] [--events 5] [--blocks 50]
It starts a real server (gunicorn + eventlet, embedded mode, or with --redis URL),
connects N raw clients that join the feed, then creates posts over REST and prints, per
event, the time from the REST call to the first and the last client receiving it.
With ``--blocks N`` the clients' user first blocks N other users, so every connection
carries a per-connection filter that each event is checked against (the author is not
among them: every client still gets every event).
"""
import argparse
import os
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--redis", default=None, help="REDIS_URL (default: embedded mode)")
    parser.add_argument("--blocks", type=int, default=0, help="users the clients' user blocks first")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="ws-bench-"))
    database = create_database("sqlite", directory)
    # One user holds every client: lift the per-user connection cap for the measurement.
    env = base_env(database, directory / "media", args.redis, "ws-bench" if args.redis else None,
                   MAX_CONNECTIONS_PER_USER=args.clients + 10)
    server = WebServer(env, directory / "web.log")
    try:
        _, token = register(server.url, "bench@example.com")
        for index in range(args.blocks):
            blocked, _ = register(server.url, f"blocked-{index}@example.com")
            requests.post(f"{server.url}/users/{blocked['id']}/block", headers={"Authorization": f"Bearer {token}"},
                          timeout=10).raise_for_status()
        selector = selectors.DefaultSelector()
        socks = []
        join = masked_text('{"type":"join_ventroom"}')
        for _ in range(args.clients):
            sock = handshake(server, token)
            read_upgrade(sock)
            sock.sendall(join)
            socks.append(sock)
        # Drain the join replies.
        for sock in socks:
            sock.settimeout(10)
            sock.recv(65536)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        print(f"{args.clients} raw clients connected and in ventroom_feed "
              f"({'redis' if args.redis else 'embedded'} mode, {args.blocks} users blocked)")

        firsts, lasts = [], []
        for index in range(args.events):
            pending = set(socks)
            started = time.perf_counter()
            response = requests.post(f"{server.url}/ventroom/posts/", timeout=30,
                                     json={"title": f"bench {index}", "content": "x" * 200},
                                     headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 201, response.text
            first = None
            while pending and time.perf_counter() - started < 60:
                for key, _ in selector.select(timeout=1):
                    sock = key.fileobj
                    try:
                        if sock.recv(65536) and sock in pending:
                            pending.discard(sock)
                            first = first or time.perf_counter() - started
                    except BlockingIOError:
                        pass
            last = time.perf_counter() - started
            if pending:
                print(f"event {index}: {len(pending)} clients did not receive it within 60 s")
            firsts.append(first * 1000)
            lasts.append(last * 1000)
            print(f"event {index}: first client {first * 1000:.1f} ms, last of {args.clients} {last * 1000:.1f} ms")
            time.sleep(0.5)
        print(f"median: first {statistics.median(firsts):.1f} ms, last {statistics.median(lasts):.1f} ms "
              f"(REST call included)")
        for sock in socks:
            sock.close()
    finally:
        server.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
