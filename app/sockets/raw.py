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
import base64
import contextlib
import hashlib
import heapq
import itertools
import json
import logging
import struct
import threading
import time
import weakref
from collections import deque

from flask import Response, current_app, request
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from app import metrics, realtime
from app.errors import error_response
from app.security import request_token, socket_identity
from app.sockets import poller as pollers
from app.sockets import protocol
from app.sockets.hub import Subscriber
from app.sockets.limits import MessageRate

log = logging.getLogger(__name__)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
NORMAL, GOING_AWAY, POLICY, TOO_BIG, SERVER_ERROR = 1000, 1001, 1008, 1009, 1011
UNAUTHORIZED, FORBIDDEN, TOO_MANY = 4401, 4403, 4429
READ_SIZE = 65536
TOO_MANY_MESSAGES = "Too many messages: slow down."


def encode_frame(payload, opcode=TEXT):
    """One unmasked server frame (the same bytes for every connection: no extensions)."""
    if isinstance(payload, str):
        payload = payload.encode()
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def close_frame(code, reason=""):
    return encode_frame(struct.pack("!H", code) + reason.encode()[:120], CLOSE)


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def handshake_response(environ):
    """The 101 answer to a WebSocket upgrade request, or None if it is not one."""
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
    upgrade = environ.get("HTTP_UPGRADE", "").lower()
    if upgrade != "websocket" or environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13" or len(key) != 24:
        return None
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode()


class RawConnection(Subscriber):
    """One raw client after its handshake."""

    __slots__ = ("app", "expires_at", "fd", "inbox", "partial", "pending", "pending_frames", "pong_received",
                 "rate", "ticket", "transport", "ws")
    kind = "raw"

    def __init__(self, transport, fd, user_id, expires_at):
        super().__init__(user_id)
        self.transport = transport
        self.app = transport.app
        self.fd = fd
        self.ws = Connection(ConnectionType.SERVER)
        self.expires_at = expires_at
        self.pending = None  # bytearray of what the socket has not taken yet
        self.pending_frames = 0
        self.pong_received = True
        self.inbox = None  # deque of messages while a task handles them
        self.partial = None  # the text of a fragmented message so far
        self.rate = MessageRate(transport.rate, transport.burst)
        self.ticket = None

    # Output ----------------------------------------------------------------

    def write(self, data):
        """Send bytes now, or keep them (in order) for when the socket can take them."""
        with self.transport.lock:
            ok = self._write(data)
        if not ok:
            self.abort()

    def _write(self, data):
        """False when the connection must be dropped (broken, or too far behind)."""
        if self.closed:
            return True
        if self.pending is not None:
            self.pending += data
            self.pending_frames += 1
            if self.pending_frames > self.transport.queue_size:
                log.warning("dropping slow raw client of user %s", self.user_id)
                metrics.DROPPED.inc()
                return False
            return True
        try:
            sent = self.transport.poller.write(self.fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False
        if sent < len(data):
            self.pending = bytearray(data[sent:])
            self.pending_frames = 1
            self.transport.poller.add_writer(self.fd, self.on_writable)
        return True

    def on_writable(self):
        with self.transport.lock:
            ok = self._flush()
        if not ok:
            self.abort()

    def _flush(self):
        if self.closed or self.pending is None:
            return True
        try:
            sent = self.transport.poller.write(self.fd, bytes(self.pending))
        except BlockingIOError:
            return True
        except OSError:
            return False
        del self.pending[:sent]
        if not self.pending:
            self.pending, self.pending_frames = None, 0
            self.transport.poller.remove_writer(self.fd)
        return True

    def send_frame(self, frame, wire=None):
        self.write(wire or encode_frame(frame))

    def send(self, event_type, data):
        self.send_frame(json.dumps(realtime.envelope(event_type, data), ensure_ascii=False))

    def close(self, code=NORMAL, reason=""):
        """Say goodbye with ``code`` and end the connection."""
        if self.closed:
            return
        self.write(close_frame(code, reason))
        self.abort(flush=True)

    def abort(self, flush=False):
        """Stop at once: out of every group, the socket shut down and closed."""
        if self.closed:
            return
        self.transport.forget(self)
        if flush and self.pending:
            try:
                self.transport.poller.write(self.fd, bytes(self.pending))
            except OSError:
                pass
        pollers.shutdown(self.fd)
        self.transport.poller.close(self.fd)

    # Input -----------------------------------------------------------------

    def on_readable(self):
        try:
            data = self.transport.poller.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.abort()
            return
        if not data:
            self.abort()
            return
        try:
            self.ws.receive_data(data)
            for event in self.ws.events():
                self._on_event(event)
                if self.closed:
                    return
        except (LocalProtocolError, RemoteProtocolError):
            self.close(POLICY, "Protocol error")
        except Exception:
            log.exception("raw ws: error reading from user %s", self.user_id)
            self.close(SERVER_ERROR, "Internal server error")

    def _on_event(self, event):
        if isinstance(event, TextMessage):
            text = event.data if self.partial is None else self.partial + event.data
            if len(text) > self.transport.max_message:
                self.close(TOO_BIG, "Message too big")
            elif event.message_finished:
                self.partial = None
                self._receive(text)
            else:
                self.partial = text
        elif isinstance(event, BytesMessage):
            self.send(realtime.ERROR, {"message": "Messages are JSON text frames."})
        elif isinstance(event, Ping):
            self.write(encode_frame(event.payload, PONG))
        elif isinstance(event, Pong):
            self.pong_received = True
        elif isinstance(event, CloseConnection):
            self.write(close_frame(event.code or NORMAL))
            self.abort(flush=True)

    def _receive(self, raw):
        verdict = self.rate.check()
        if verdict == MessageRate.CLOSE:
            self.close(POLICY, "Too many messages")
            return
        if verdict != MessageRate.OK:
            if verdict == MessageRate.WARN:
                self.send(realtime.ERROR, {"message": TOO_MANY_MESSAGES})
            return
        with self.transport.lock:
            if self.inbox is not None:
                self.inbox.append(raw)
                return
            self.inbox = deque([raw])
        self.transport.poller.spawn(self._handle_inbox)

    def _next_message(self):
        with self.transport.lock:
            if not self.inbox or self.closed:
                self.inbox = None
                return None
            return self.inbox.popleft()

    def _handle_inbox(self):
        """Handle queued messages one at a time, in order (one task per connection)."""
        with self.app.app_context():
            while (raw := self._next_message()) is not None:
                try:
                    protocol.handle_frame(self, raw)
                except Exception:
                    log.exception("raw ws: error handling a message from user %s", self.user_id)
                    self.send(realtime.ERROR, {"message": "Internal server error."})

    # The session interface of ``protocol`` ---------------------------------------

    def join(self, group, resume=False):
        return self.transport.hub.join(self, group, resume)

    def leave(self, group):
        if group != realtime.user_group(self.user_id):  # one's own group lasts as long as the connection
            self.transport.hub.leave(self, group)

    def reply(self, event_type, data):
        self.send(event_type, data)

    def send_events(self, events):
        """A replay, as one write: it counts once against the slow-reader queue (its length
        has its own cap, ``REALTIME_REPLAY_MAX``), so a client on a slow link is not dropped
        in the middle of a replay longer than ``WS_SEND_QUEUE_SIZE``; and one syscall."""
        if events:
            self.write(b"".join(encode_frame(event.frame) for event in events))


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
