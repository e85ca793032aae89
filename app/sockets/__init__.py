"""Real time: the raw ``/ws/`` transport, Socket.IO, and the hub that delivers the
event log's messages to this process's subscribers of both."""
import logging
import threading

import socketio as python_socketio

from app.extensions import socketio
from app.sockets import raw, socketio_events  # noqa: F401 (socketio_events registers the Socket.IO handlers)
from app.sockets.hub import Hub
from app.sockets.limits import MemoryConnectionCap, RedisConnectionCap
from app.sockets.frames import encode_frame
from app.sockets.raw import RawTransport

log = logging.getLogger(__name__)


def init_app(app, hidden_for):
    """``hidden_for(user_id)``: the user ids whose content that user does not see."""
    config = app.config
    socketio.init_app(
        app,
        client_manager=python_socketio.Manager(),  # rooms in this process; the event log spans processes
        async_mode=config["SOCKETIO_ASYNC_MODE"],
        cors_allowed_origins=config["CORS_ALLOWED_ORIGINS"],
        max_http_buffer_size=config["WS_MAX_MESSAGE_BYTES"],
        logger=False,
        engineio_logger=False,
    )

    def emit_to_rooms(event_type, envelope, groups, skip_sids):
        socketio.server.manager.emit(event_type, envelope, namespace="/", room=groups, skip_sid=skip_sids)

    hub = Hub(app.extensions["event_log"], emit_to_rooms, encode_frame)
    cap = (RedisConnectionCap(config["REDIS_URL"], config["MAX_CONNECTIONS_PER_USER"]) if config["REDIS_URL"]
           else MemoryConnectionCap(config["MAX_CONNECTIONS_PER_USER"]))
    app.extensions["realtime_hub"] = hub
    app.extensions["raw_ws"] = RawTransport(app, hub, cap, hidden_for)
    app.extensions["sio_sessions"] = {}
    app.add_url_rule("/ws/", endpoint="raw_ws", view_func=raw.serve, websocket=True)  # "/ws" too
    if app.extensions["event_log"].delivers_in_process:
        start_listening(app)  # embedded mode: publishing delivers, in this process, at once


def start_listening(app):
    """Deliver the event log's messages to this process's subscribers from now on (the
    web process calls it once it has booted; a worker only publishes)."""
    if app.extensions.get("realtime_listener") is not None:
        return
    stop = threading.Event()
    hub, event_log = app.extensions["realtime_hub"], app.extensions["event_log"]
    app.extensions["realtime_listener"] = stop
    if event_log.delivers_in_process:
        event_log.listen(hub.deliver, stop, hub.connected)
        return
    threading.Thread(target=event_log.listen, args=(hub.deliver, stop, hub.connected),
                     name="realtime-listener", daemon=True).start()
