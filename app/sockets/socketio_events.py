"""Socket.IO at ``/socket.io/``: the same groups, messages and events as ``/ws/``.

Each connected sid is a hub subscriber (``SioSession``) and a member of the Socket.IO
rooms named as its groups; the hub delivers events to the rooms with one ``emit`` that
skips the sessions whose filters hide the event or which are resuming that group.
"""
import json
import logging

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, leave_room

from app import realtime
from app.extensions import socketio
from app.security import request_token, socket_identity
from app.sockets import protocol
from app.sockets.subscriber import Subscriber
from app.sockets.limits import MessageRate

log = logging.getLogger(__name__)


class SioSession(Subscriber):
    __slots__ = ("expires_at", "rate", "sid", "ticket")
    kind = "sio"

    def __init__(self, sid, user_id, *, expires_at, ticket, rate):
        super().__init__(user_id)
        self.sid, self.expires_at, self.ticket, self.rate = sid, expires_at, ticket, rate

    def send_frame(self, frame, wire=None):
        envelope = json.loads(frame)
        socketio.emit(envelope["type"], envelope, to=self.sid, namespace="/")

    def send_events(self, events):
        for event in events:
            self.send_frame(event.frame)

    def reply(self, event_type, data):
        socketio.emit(event_type, realtime.envelope(event_type, data), to=self.sid, namespace="/")

    def join(self, group, resume=False):
        hub = current_app.extensions["realtime_hub"]
        if not hub.join(self, group, resume):
            return False
        socketio.server.enter_room(self.sid, group, namespace="/")
        return True

    def leave(self, group):
        if group != realtime.user_group(self.user_id):  # one's own group lasts as long as the connection
            current_app.extensions["realtime_hub"].leave(self, group)
            leave_room(group, sid=self.sid, namespace="/")

    def close(self, code, reason):
        socketio.server.disconnect(self.sid, namespace="/")


def _sessions():
    return current_app.extensions["sio_sessions"]


def _auth_value(auth, key):
    return auth.get(key) if isinstance(auth, dict) else None


def _resume(app, session, last_event_id):
    with app.app_context():
        protocol.resume_own_group(session, last_event_id)


@socketio.on("connect")
def connect(auth=None):
    identity = socket_identity(_auth_value(auth, "token") or request_token())
    if identity is None:
        raise ConnectionRefusedError("Authentication failed")
    user_id, expires_at = identity
    transport = current_app.extensions["raw_ws"]
    ticket = transport.cap.take(user_id)
    if ticket is None:
        raise ConnectionRefusedError("Too many connections")
    config = current_app.config
    rate = MessageRate(config["WS_MESSAGES_PER_SECOND"] if config["RATELIMIT_ENABLED"] else 0,
                       config["WS_MESSAGE_BURST"])
    session = SioSession(request.sid, user_id, expires_at=expires_at, ticket=ticket, rate=rate)
    _sessions()[request.sid] = session
    hub = current_app.extensions["realtime_hub"]
    hub.add(session)
    hub.load_filter(session, transport.hidden_for)  # registered first: no filter change is lost
    transport.expire_at(session)
    last_event_id = _auth_value(auth, "last_event_id")
    own = realtime.user_group(user_id)
    if last_event_id is None:
        session.join(own)
        return
    session.join(own, resume=True)
    # After connect returns, so the replay follows the connection's acknowledgement.
    socketio.start_background_task(_resume, current_app._get_current_object(), session,
                                   last_event_id if isinstance(last_event_id, str) else "")


@socketio.on("disconnect")
def disconnect(*_reason):
    session = _sessions().pop(request.sid, None)
    if session is not None:
        current_app.extensions["realtime_hub"].remove(session)
        current_app.extensions["raw_ws"].cap.release(session.ticket)


def _handler(message_type):
    def handle(data=None):
        session = _sessions().get(request.sid)
        if session is None:
            return
        verdict = session.rate.check()
        if verdict == MessageRate.CLOSE:
            session.close(1008, "Too many messages")
        elif verdict == MessageRate.WARN:
            session.reply(realtime.ERROR, {"message": protocol.TOO_MANY_MESSAGES})
        elif verdict == MessageRate.OK:
            protocol.handle(session, message_type, data)
    return handle


for _message_type in protocol.HANDLERS:
    socketio.on_event(_message_type, _handler(_message_type))


@socketio.on("*")
def unknown_message(message_type, data=None):
    """Any other event: answered with an ``error``, as on /ws/ (the connection stays)."""
    _handler(message_type)(data)


@socketio.on_error_default
def on_error(err):
    log.exception("socket.io handler error")
    session = _sessions().get(request.sid)
    if session is not None:
        session.reply(realtime.ERROR, {"message": "Internal server error."})
