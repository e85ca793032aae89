"""The raw ``/ws/`` transport: handshake, then a connection that is a file descriptor.

The handshake runs in the HTTP request: the token is checked (a bad one is answered
with close code 4401 after the upgrade, as WebSocket clients can read it), the user's
connection cap is taken, the 101 answer is written, and the socket leaves the WSGI
server (``poller.take_socket``); the request then ends and releases its greenlet, its
contexts and its database session. From there the poller calls ``on_readable``; frames
are parsed by wsproto; client messages are handled in a short task (``protocol``) with an
app context of its own, one at a time per connection. Frames out are written at once
when the socket takes them; what it does not take waits in a per-connection buffer and
a client that lets ``WS_SEND_QUEUE_SIZE`` frames pile up is dropped.

Pings and token expiry are checked by two timers for all connections together.
"""
import contextlib
import heapq
import itertools
import logging
import threading
import time
import weakref

from flask import Response, current_app, request

from app import realtime
from app.errors import error_response
from app.security import request_token, socket_identity
from app.sockets import poller as pollers
from app.sockets import protocol
from app.sockets.frames import PING, SERVER_ERROR, TOO_MANY, UNAUTHORIZED, close_frame, encode_frame, handshake_response
from app.sockets.raw_connection import RawConnection

log = logging.getLogger(__name__)


class RawTransport:
    """This process's raw connections: accepting, timers, counts."""

    def __init__(self, app, hub, connection_cap, hidden_for):
        config = app.config
        self.app, self.hub, self.cap = app, hub, connection_cap
        self.hidden_for = hidden_for  # user id -> the user ids hidden from them
        self.queue_size = config["WS_SEND_QUEUE_SIZE"]
        self.max_message = config["WS_MAX_MESSAGE_BYTES"]
        self.ping_interval = config["WS_PING_INTERVAL"]
        self.rate = config["WS_MESSAGES_PER_SECOND"] if config["RATELIMIT_ENABLED"] else 0
        self.burst = config["WS_MESSAGE_BURST"]
        self.connections = set()
        self._expiries = []  # heap of (expires_at, order, weak reference to the connection)
        self._order = itertools.count()
        self._poller = None
        self.lock = None

    @property
    def poller(self):
        if self._poller is None:
            self._poller = pollers.current()
            # One OS thread (eventlet): a write never yields, so none needs a lock.
            self.lock = contextlib.nullcontext() if self._poller.single_threaded else threading.RLock()
            if self.ping_interval:
                self._poller.every(self.ping_interval, self._ping_all)
            self._poller.every(1.0, self._expire_tokens)
        return self._poller

    def accept(self, fd, user_id, expires_at, ticket):
        """A connection for ``fd``, registered (its filter still empty), not yet read."""
        self.poller  # noqa: B018 (started, with its lock, before the first connection)
        conn = RawConnection(self, fd, user_id, expires_at)
        conn.ticket = ticket
        self.connections.add(conn)
        self.hub.add(conn)
        self.expire_at(conn)
        return conn

    def expire_at(self, sub):
        """Close ``sub`` (any subscriber) with 4401 when its token expires."""
        if sub.expires_at:
            self.poller  # noqa: B018 (the timer that checks runs from the first use)
            heapq.heappush(self._expiries, (sub.expires_at, next(self._order), weakref.ref(sub)))

    def start(self, conn):
        """Start reading ``conn`` (after anything that must reach it first was written)."""
        if not conn.closed:
            self.poller.add_reader(conn.fd, conn.on_readable)

    def forget(self, conn):
        """Out of every group and count; never blocks (the poller may be calling)."""
        conn.closed = True
        self.connections.discard(conn)
        self.hub.remove(conn)
        if conn.ticket is not None:
            self.poller.spawn(self.cap.release, conn.ticket)
            conn.ticket = None

    def refuse(self, fd, upgrade, code, reason):
        """Answer the upgrade, then close with ``code``: the socket never becomes a connection."""
        try:
            self.poller.write(fd, upgrade + close_frame(code, reason))
        except OSError:
            pass
        pollers.shutdown(fd)
        self.poller.close(fd)

    def _ping_all(self):
        ping = encode_frame(b"", PING)
        for conn in list(self.connections):
            if not conn.pong_received:
                log.info("dropping raw client of user %s: no answer to a ping", conn.user_id)
                conn.abort()
                continue
            conn.pong_received = False
            conn.write(ping)

    def _expire_tokens(self):
        now = time.time()
        while self._expiries and self._expiries[0][0] <= now:
            conn = heapq.heappop(self._expiries)[2]()
            if conn is not None:
                conn.close(UNAUTHORIZED, "Token expired")
        self.cap.refresh()


class Hijacked(Response):
    """What the view answers once the socket has left the WSGI server: nothing more."""

    def __call__(self, environ, start_response):
        return pollers.current().handled()


def serve():
    """``GET /ws/``: the WebSocket handshake (see the module docstring)."""
    upgrade = handshake_response(request.environ)
    if upgrade is None:
        return error_response({"detail": "Expected a WebSocket upgrade (Upgrade: websocket, version 13)."}, 400)
    transport = current_app.extensions["raw_ws"]
    identity = socket_identity(request_token())
    fd = transport.poller.take_socket(request.environ)
    try:
        _open(transport, fd, upgrade, identity)
    except Exception:  # the socket has left the server: nothing may answer on it but us
        log.exception("raw ws: handshake failed")
        transport.refuse(fd, upgrade, SERVER_ERROR, "Internal server error")
    return Hijacked()


def _open(transport, fd, upgrade, identity):
    if identity is None:
        transport.refuse(fd, upgrade, UNAUTHORIZED, "Authentication failed")
        return
    user_id, expires_at = identity
    ticket = transport.cap.take(user_id)
    if ticket is None:
        transport.refuse(fd, upgrade, TOO_MANY, "Too many connections")
        return
    conn = transport.accept(fd, user_id, expires_at, ticket)
    conn.write(upgrade)  # before anything can yield: no ping or close frame may come first
    try:
        transport.hub.load_filter(conn, transport.hidden_for)  # registered first: no change is lost
        last_event_id = request.args.get("last_event_id")
        conn.join(realtime.user_group(user_id), resume=last_event_id is not None)
        if last_event_id is not None:
            protocol.resume_own_group(conn, last_event_id)
        transport.start(conn)
    except Exception:
        log.exception("raw ws: opening a connection of user %s failed", user_id)
        conn.close(SERVER_ERROR, "Internal server error")  # the connection owns the socket now
