"""One raw ``/ws/`` client after its handshake: its socket's bytes in (wsproto parses
them; messages go to ``protocol`` one at a time) and out (written at once, or buffered
up to ``WS_SEND_QUEUE_SIZE`` frames while the socket does not take them)."""
import json
import logging
from collections import deque

from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from app import metrics, realtime
from app.sockets import poller as pollers
from app.sockets import protocol
from app.sockets.frames import NORMAL, POLICY, PONG, SERVER_ERROR, TOO_BIG, close_frame, encode_frame
from app.sockets.subscriber import Subscriber
from app.sockets.limits import MessageRate

log = logging.getLogger(__name__)

READ_SIZE = 65536


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
                self.send(realtime.ERROR, {"message": protocol.TOO_MANY_MESSAGES})
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
