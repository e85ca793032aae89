"""Read by gunicorn from the working directory; the Procfile's flags set the rest."""
import json
import os
import tempfile

# Every worker writes its metric samples here; a scrape of any worker sums them (app.metrics).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="ventroom-metrics-"))

# Request lines up to 8 KiB (gunicorn's largest); longer ones, and headers that are too
# large, are answered in the API's JSON error shape (``json_parse_errors``), not HTML.
limit_request_line = 8190
limit_request_field_size = 8190
# Every worker also listens on a socket of its own (``own_listeners``), bound with
# SO_REUSEPORT: the kernel spreads new connections over the sockets, so a burst of
# connections is not all accepted by whichever worker wakes first.
reuse_port = True
PARSE_ERRORS = {
    "LimitRequestLine": (414, "URI Too Long", "The request line is longer than 8190 bytes."),
    "LimitRequestHeaders": (431, "Request Header Fields Too Large", "The request headers are too large."),
}


LINGER_SECONDS, LINGER_BYTES = 2, 1024 * 1024


def _linger(client):
    """Read what the client is still sending (the rest of a request line too long to
    parse) before the socket closes: closing with unread input resets the connection, and
    the client would lose the answer it was just sent."""
    import socket
    import time

    client.shutdown(socket.SHUT_WR)
    client.settimeout(0.5)
    deadline, drained = time.monotonic() + LINGER_SECONDS, 0
    while time.monotonic() < deadline and drained < LINGER_BYTES:
        try:
            chunk = client.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return
        drained += len(chunk)


def json_parse_errors(worker):
    """Answer what gunicorn itself refuses (the HTTP parser's errors, or an app that
    raised past Flask) with JSON ``{"detail": ...}``, never its HTML pages."""

    def handle_error(req, client, addr, exc):
        name = type(exc).__name__
        if name in PARSE_ERRORS:
            status, reason, detail = PARSE_ERRORS[name]
        elif type(exc).__module__.startswith("gunicorn.http"):
            status, reason, detail = 400, "Bad Request", "The request could not be parsed."
        else:
            worker.log.exception("Error handling request")
            status, reason, detail = 500, "Internal Server Error", "Internal server error."
        body = json.dumps({"detail": detail}).encode()
        head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        try:
            client.sendall(head + body)
            _linger(client)
        except OSError:
            pass

    worker.handle_error = handle_error


def own_listeners(worker):
    """A listening socket per worker beside the shared one (TCP only; the shared
    socket keeps serving whatever the kernel hands it)."""
    from gunicorn.sock import TCPSocket

    for listener in list(worker.sockets):
        if isinstance(listener, TCPSocket) and worker.cfg.reuse_port and worker.cfg.workers > 1:
            worker.sockets.append(TCPSocket(listener.cfg_addr, worker.cfg, worker.log))


def post_worker_init(worker):
    from app.sockets import start_listening
    from app.tasks import run_periodic_in_process

    own_listeners(worker)
    json_parse_errors(worker)
    start_listening(worker.wsgi)  # deliver the event log's messages to this process's clients
    if not worker.wsgi.config["REDIS_URL"]:
        run_periodic_in_process(worker.wsgi)  # embedded mode: no Celery beat elsewhere


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # its live gauges no longer count
