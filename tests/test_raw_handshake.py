"""The raw transport's handshake on a real socket pair: the 101 answer is the first thing
a client reads, whatever runs while the connection is being opened (the ping timer fired
during the filter's database read and wrote a ping ahead of the 101: a client saw
``b'\\x89\\x00'`` as its status line)."""
import contextlib
import socket

from flask import Flask

from app.adapters.eventlog.memory import MemoryEventLog
from app.sockets import frames, raw
from app.sockets import poller as pollers
from app.sockets.hub import Hub
from app.sockets.limits import MemoryConnectionCap

UPGRADE = b"HTTP/1.1 101 Switching Protocols\r\n"


def transport_on(fd_poller, hidden_for):
    app = Flask(__name__)
    app.config.update(WS_SEND_QUEUE_SIZE=256, WS_MAX_MESSAGE_BYTES=65536, WS_PING_INTERVAL=0,
                      WS_MESSAGES_PER_SECOND=0, WS_MESSAGE_BURST=30, RATELIMIT_ENABLED=False)
    hub = Hub(MemoryEventLog(window_seconds=900, backlog=1000, replay_max=500), None, frames.encode_frame)
    transport = raw.RawTransport(app, hub, MemoryConnectionCap(20), hidden_for)
    transport._poller, transport.lock = fd_poller, contextlib.nullcontext()
    return transport


def test_the_101_comes_before_a_ping_that_fires_while_the_connection_opens(monkeypatch):
    server, client = socket.socketpair()
    server.setblocking(False)
    fd_poller = pollers.SelectorPoller()
    transport = transport_on(fd_poller, hidden_for=lambda user_id: transport._ping_all() or frozenset())
    upgrade = frames.handshake_response({"HTTP_UPGRADE": "websocket", "HTTP_SEC_WEBSOCKET_VERSION": "13",
                                      "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ=="})
    monkeypatch.setattr(raw, "request", type("Request", (), {"args": {}})())
    raw._open(transport, server.detach(), upgrade, ("u1", None))
    client.settimeout(5)
    received = b""
    while UPGRADE not in received and len(received) < len(UPGRADE):
        received += client.recv(4096)
    assert received.startswith(UPGRADE), received[:20]
    client.close()
