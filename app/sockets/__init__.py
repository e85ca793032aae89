"""Real-time protocol: Socket.IO handlers, the raw /ws/ adapter and the bridge."""
from app.extensions import sock, socketio


def init_app(app):
    from app.sockets import raw_ws, socketio_events  # noqa: F401  (registers the Socket.IO handlers)

    registry = raw_ws.RawRegistry()
    app.extensions["raw_ws"] = registry
    if app.config["REDIS_URL"]:
        manager = raw_ws.BridgedRedisManager(
            registry, app.config["REDIS_URL"], channel=app.config["SOCKETIO_CHANNEL"],
            write_only=app.config.get("SOCKETIO_WRITE_ONLY", False))
    else:
        manager = raw_ws.BridgedManager(registry)
    socketio.init_app(
        app,
        client_manager=manager,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        cors_allowed_origins=app.config["CORS_ALLOWED_ORIGINS"],
        logger=False,
        engineio_logger=False,
    )
    # Each connection's writer (raw_ws.RawConnection) sends the pings, not
    # simple-websocket's reader: events and pings come from one thread, in order.
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": app.config["WS_MAX_MESSAGE_BYTES"]}
    sock.init_app(app)
    sock.route("/ws/", endpoint="raw_ws")(raw_ws.serve)  # "/ws" too: strict_slashes is off


def stats(app):
    """This process's raw WebSocket connections and groups."""
    return app.extensions["raw_ws"].stats()


def start_listening():
    """Start the message-queue listener now, not at the first Socket.IO connect:
    a process whose clients are all raw must hear remote emits too."""
    server = socketio.server
    if not server.manager_initialized:
        server.manager_initialized = True
        server.manager.initialize()
