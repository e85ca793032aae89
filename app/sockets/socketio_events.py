"""Socket.IO at ``/socket.io/``: the same groups, messages and events as ``/ws/``."""
import logging

from flask import session
from flask_socketio import ConnectionRefusedError, emit, join_room, leave_room

from app import realtime
from app.extensions import socketio
from app.security import request_token, user_id_from_token
from app.sockets import protocol

log = logging.getLogger(__name__)


class SocketIOSession:
    """The ``protocol`` session of the current Socket.IO connection."""

    def __init__(self, user_id):
        self.user_id = user_id

    def join(self, group):
        join_room(group)

    def leave(self, group):
        # A user's own group is for their connection's lifetime, like on /ws/.
        if group != realtime.user_group(self.user_id):
            leave_room(group)


def _token(auth):
    """The connect ``auth`` dict's token, else the request's (header or query)."""
    if isinstance(auth, dict) and auth.get("token"):
        return auth["token"]
    return request_token()


@socketio.on("connect")
def connect(auth=None):
    user_id = user_id_from_token(_token(auth))
    if user_id is None:
        raise ConnectionRefusedError("Authentication failed")
    session["user_id"] = user_id
    join_room(realtime.user_group(user_id))


def _handler(message_type):
    def handle(data=None):
        try:
            reply = protocol.handle(SocketIOSession(session.get("user_id")), message_type, data)
        except protocol.ProtocolError as err:
            reply = (realtime.ERROR, {"message": str(err)})
        emit(reply[0], realtime.envelope(*reply))
    return handle


for _message_type in protocol.HANDLERS:
    socketio.on_event(_message_type, _handler(_message_type))


@socketio.on_error_default
def on_error(err):
    log.exception("socket.io handler error")
    emit(realtime.ERROR, realtime.envelope(realtime.ERROR, {"message": "Internal server error."}))
