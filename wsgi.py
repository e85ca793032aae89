"""The web process: ``gunicorn -k eventlet -w 1 wsgi:app`` (and what ``flask`` finds).

eventlet patches the standard library before anything else is imported, and the
PostgreSQL driver is made cooperative, so one slow query never stalls the sockets
of the process. Only this file knows about eventlet: it installs the pool of real
threads for CPU-heavy calls (``app.offload``) and the poller raw WebSocket connections
wait in (``app.sockets.poller``), built on eventlet's hub.

What the poller relies on beyond documented APIs (checked against gunicorn 25.3.0 and
eventlet 0.41.3, the pinned versions): ``environ["gunicorn.socket"]`` is the client's
GreenSocket, whose ``.fd`` is the real socket (detached, gunicorn's close of the green
socket does nothing); ``eventlet.wsgi.WSGI_LOCAL.already_handled`` tells gunicorn's
eventlet worker to write no response of its own; ``hubs.get_hub().add/remove`` register
readiness callbacks, which run in the hub and so must never block.
"""
import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

from eventlet import hubs, tpool, wsgi  # noqa: E402

from app import create_app, offload  # noqa: E402
from app.sockets import poller  # noqa: E402

_os = eventlet.patcher.original("os")


class EventletPoller:
    """Readiness callbacks from eventlet's hub (they must not block: they only read,
    write and spawn); timers and tasks as green threads."""

    single_threaded = True
    read, write = staticmethod(_os.read), staticmethod(_os.write)

    def __init__(self):
        self._listeners = {}  # (fd, READ | WRITE) -> hub listener

    def _add(self, kind, fd, callback):
        hub = hubs.get_hub()
        self._remove(kind, fd)
        self._listeners[fd, kind] = hub.add(kind, fd, lambda _fd: callback(), lambda *_: None, None)

    def _remove(self, kind, fd):
        listener = self._listeners.pop((fd, kind), None)
        if listener is not None:
            hubs.get_hub().remove(listener)

    def add_reader(self, fd, callback):
        self._add(hubs.hub.READ, fd, callback)

    def remove_reader(self, fd):
        self._remove(hubs.hub.READ, fd)

    def add_writer(self, fd, callback):
        self._add(hubs.hub.WRITE, fd, callback)

    def remove_writer(self, fd):
        self._remove(hubs.hub.WRITE, fd)

    def close(self, fd):
        self.remove_reader(fd)
        self.remove_writer(fd)
        try:
            _os.close(fd)
        except OSError:
            pass

    @staticmethod
    def spawn(fn, *args):
        eventlet.spawn_n(fn, *args)

    @staticmethod
    def every(seconds, fn):
        def loop():
            while True:
                eventlet.sleep(seconds)
                try:
                    fn()
                except Exception:  # a timer must outlive one bad run
                    app.logger.exception("periodic %s failed", fn)
        eventlet.spawn_n(loop)

    @staticmethod
    def take_socket(environ):
        """The client socket's descriptor, detached from the server's green socket (gunicorn's
        eventlet worker, or eventlet.wsgi), whose close and shutdown then do nothing."""
        sock = environ.get("gunicorn.socket") or environ["eventlet.input"].get_socket()
        return sock.fd.detach()

    @staticmethod
    def handled():
        wsgi.WSGI_LOCAL.already_handled = True  # eventlet.wsgi writes no response of its own
        return []


offload.use(tpool.execute)  # CPU-heavy calls go to real threads, not the event loop
poller.use(EventletPoller())
app = create_app({"SOCKETIO_ASYNC_MODE": "eventlet"})
