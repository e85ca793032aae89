"""The raw ``/ws/`` adapter and the bridge from Socket.IO rooms to raw connections.

Socket.IO rooms named as the documented groups are the one registry of who hears
what across processes: every event is one ``socketio.emit(..., to=[groups])``. On
each web process the client manager delivers that emit to its local Socket.IO
clients; the managers below also hand it to ``RawRegistry``, which maps the same
group names to this process's raw WebSocket connections and writes the frame,
serialized once, to each connection's bounded queue.
"""
import json
import logging
import queue
import socket
import threading

import socketio
from flask import current_app
from simple_websocket import ConnectionClosed
from wsproto.events import Ping, TextMessage

from app import realtime
from app.security import request_token, user_id_from_token
from app.sockets import protocol

log = logging.getLogger(__name__)
CLOSE_UNAUTHORIZED = 4401


class SerializedSocket:
    """A connection's socket whose every write goes out whole and one at a time.

    Two threads write to a raw connection: its writer (events, replies, pings) and
    simple-websocket's reader (answers to the client's pings, the close handshake). A
    large frame to a slow client is sent in pieces, and another write must never land
    between them.
    """

    def __init__(self, sock):
        self._sock = sock
        self._lock = threading.Lock()

    def send(self, data):
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    sendall = send

    def __getattr__(self, name):  # recv, close, shutdown, fileno...
        return getattr(self._sock, name)


class RawConnection:
    """One raw client: its groups, a bounded outgoing queue and one writer, which also
    pings the client every ``ping_interval`` seconds and drops it when a ping has gone
    unanswered for a whole interval."""

    def __init__(self, ws, user_id, registry, queue_size, ping_interval=None):
        ws.sock = SerializedSocket(ws.sock)
        self.ws = ws
        self.user_id = user_id
        self.registry = registry
        self.ping_interval = ping_interval or None
        self.groups = set()
        self.outbox = queue.Queue(maxsize=queue_size)
        self.closed = False
        self.writer = threading.Thread(target=self._write_loop, name=f"ws-writer-{user_id}", daemon=True)

    # The session interface of ``protocol``.
    def join(self, group):
        self.registry.join(self, group)

    def leave(self, group):
        self.registry.leave(self, group)

    def push(self, frame):
        """Queue a serialized frame; a client too slow to drain its queue is dropped."""
        if self.closed:
            return
        try:
            self.outbox.put_nowait(frame)
        except queue.Full:
            log.warning("dropping slow raw client of user %s", self.user_id)
            self.abort()

    def send(self, event_type, data):
        self.push(json.dumps(realtime.envelope(event_type, data)))

    def abort(self):
        """Stop delivery at once and cut the socket; the reader notices and cleans up."""
        if self.closed:
            return
        self.closed = True
        self.registry.discard(self)
        try:
            self.ws.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _write_loop(self):
        while True:
            try:
                frame = self.outbox.get(timeout=self.ping_interval)
            except queue.Empty:  # a quiet interval: ping, if the last ping was answered
                if not self.ws.pong_received:
                    log.info("dropping raw client of user %s: no answer to a ping", self.user_id)
                    self.abort()
                    return
                self.ws.pong_received = False
                data = self.ws.ws.send(Ping())
            else:
                if frame is None or not self.ws.connected:
                    return
                data = self.ws.ws.send(TextMessage(data=frame))
            try:
                self.ws.sock.send(data)
            except OSError:
                self.abort()
                return

    def start(self):
        self.writer.start()

    def finish(self):
        self.closed = True
        self.registry.discard(self)
        try:
            self.outbox.put_nowait(None)
        except queue.Full:
            pass


class RawRegistry:
    """Group name -> this process's raw connections in it."""

    def __init__(self):
        self._groups = {}
        self._lock = threading.Lock()
        self.connections = set()

    def join(self, conn, group):
        with self._lock:
            if conn.closed:
                return
            self.connections.add(conn)
            self._groups.setdefault(group, set()).add(conn)
            conn.groups.add(group)

    def _remove(self, conn, group):
        """Take ``conn`` out of ``group`` (lock held); an empty group is forgotten."""
        members = self._groups.get(group)
        if members is not None:
            members.discard(conn)
            if not members:
                del self._groups[group]
        conn.groups.discard(group)

    def leave(self, conn, group):
        with self._lock:
            self._remove(conn, group)

    def discard(self, conn):
        """Forget ``conn`` entirely: every group, and the connection count."""
        with self._lock:
            for group in list(conn.groups):
                self._remove(conn, group)
            self.connections.discard(conn)

    def deliver(self, envelope, groups):
        """Write one event to every local raw connection in any of ``groups``, once each."""
        if isinstance(groups, str):
            groups = [groups]
        with self._lock:
            targets = set()
            for group in groups or ():
                targets.update(self._groups.get(group, ()))
        if not targets:
            return
        frame = json.dumps(envelope)
        for conn in targets:
            conn.push(frame)

    def stats(self):
        with self._lock:
            return {"connections": len(self.connections), "groups": len(self._groups)}


def _unwrap(data):
    if isinstance(data, list) and len(data) == 1:
        return data[0]
    return data


class BridgedManager(socketio.Manager):
    """In-process client manager (embedded mode) that also feeds raw clients."""

    def __init__(self, registry):
        super().__init__()
        self.registry = registry

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        if realtime.is_event(namespace, data):
            self.registry.deliver(data, to or room)
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                            callback=callback, to=to, **kwargs)


class BridgedRedisManager(socketio.RedisManager):
    """Redis client manager whose local delivery (own or remote emits) also feeds raw clients."""

    def __init__(self, registry, url, channel, write_only=False):
        super().__init__(url, channel=channel, write_only=write_only)
        self.registry = registry

    def _handle_emit(self, message):
        data = _unwrap(message.get("data"))
        if realtime.is_event(message.get("namespace"), data):
            self.registry.deliver(data, message.get("room"))
        super()._handle_emit(message)


def _parse(raw):
    """``(type, data)`` of one client frame, or ProtocolError."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        raise protocol.ProtocolError("Invalid JSON.") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise protocol.ProtocolError("A message is a JSON object with a string 'type'.")
    return message["type"], message.get("data")


def serve(ws):
    """One raw WebSocket connection, from handshake to clean-up. Nothing escapes it: an
    exception here would make the WSGI server read the socket the connection still owns."""
    try:
        _serve(ws)
    except ConnectionClosed:
        pass
    except Exception:
        log.exception("raw ws: connection failed")
        try:
            ws.close(1011, "Internal server error")
        except ConnectionClosed:
            pass


def _serve(ws):
    registry = current_app.extensions["raw_ws"]
    user_id = user_id_from_token(request_token())
    if user_id is None:
        ws.close(CLOSE_UNAUTHORIZED, "Authentication failed")
        return
    conn = RawConnection(ws, user_id, registry, current_app.config["WS_SEND_QUEUE_SIZE"],
                         current_app.config["WS_PING_INTERVAL"])
    conn.join(realtime.user_group(user_id))
    conn.start()
    try:
        while not conn.closed:
            raw = ws.receive()
            if raw is None:
                continue
            try:
                reply = protocol.handle(conn, *_parse(raw))
            except protocol.ProtocolError as err:
                reply = (realtime.ERROR, {"message": str(err)})
            except Exception:  # a bug or an outage must not kill the connection's loop
                log.exception("raw ws: error handling a message from user %s", user_id)
                reply = (realtime.ERROR, {"message": "Internal server error."})
            conn.send(*reply)
    finally:
        conn.finish()
