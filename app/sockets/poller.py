"""How raw WebSocket connections wait for data without a thread each.

After its handshake a raw connection is only a file descriptor watched by the poller:
the poller calls back when it can be read (or written, when a slow client has frames
pending), and the connection's work that may block (a database check, a replay) is
spawned as a short task. An idle connection costs its socket and a few small objects,
no stack of its own.

``SelectorPoller`` is the portable implementation (one thread around ``selectors``);
``wsgi.py`` installs one built on eventlet's hub for the web process. A poller also
knows how to take a connection's socket from its WSGI server (``take_socket``) and what
to answer the server afterwards (``handled``).
"""
import errno
import os
import selectors
import socket
import threading
import time

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class SelectorPoller:
    """Callbacks run on the poller's thread; ``spawn`` runs a task on a new thread."""

    single_threaded = False

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._callbacks = {}  # fd -> {READ: cb, WRITE: cb}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._selector.register(self._wake_r, READ)
        self._timers = []  # [next_at, interval, fn]
        threading.Thread(target=self._run, name="ws-poller", daemon=True).start()

    def _update(self, fd, kind, callback):
        with self._lock:
            callbacks = self._callbacks.setdefault(fd, {})
            if callback is None:
                callbacks.pop(kind, None)
            else:
                callbacks[kind] = callback
            mask = sum(callbacks)
            try:
                if not callbacks:
                    del self._callbacks[fd]
                    self._selector.unregister(fd)
                elif self._selector.get_map().get(fd) is None:
                    self._selector.register(fd, mask)
                else:
                    self._selector.modify(fd, mask)
            except (KeyError, ValueError, OSError):
                self._callbacks.pop(fd, None)
        os.write(self._wake_w, b"x")

    def add_reader(self, fd, callback):
        self._update(fd, READ, callback)

    def remove_reader(self, fd):
        self._update(fd, READ, None)

    def add_writer(self, fd, callback):
        self._update(fd, WRITE, callback)

    def remove_writer(self, fd):
        self._update(fd, WRITE, None)

    def every(self, seconds, fn):
        with self._lock:
            self._timers.append([time.monotonic() + seconds, seconds, fn])
        os.write(self._wake_w, b"x")

    @staticmethod
    def spawn(fn, *args):
        threading.Thread(target=fn, args=args, daemon=True).start()

    read = staticmethod(os.read)
    write = staticmethod(os.write)

    def close(self, fd):
        self.remove_reader(fd)
        self.remove_writer(fd)
        _close(fd)

    def _run(self):
        while True:
            with self._lock:
                due = min((timer[0] for timer in self._timers), default=None)
            timeout = None if due is None else max(0.0, due - time.monotonic())
            for key, events in self._selector.select(timeout):
                if key.fd == self._wake_r:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                with self._lock:
                    callbacks = dict(self._callbacks.get(key.fd, {}))
                for kind in (READ, WRITE):
                    if events & kind and kind in callbacks:
                        callbacks[kind]()
            now = time.monotonic()
            with self._lock:
                due_timers = [timer for timer in self._timers if timer[0] <= now]
                for timer in due_timers:
                    timer[0] = now + timer[1]
            for timer in due_timers:
                timer[2]()

    @staticmethod
    def take_socket(environ):
        """The client socket's file descriptor, now owned by the caller."""
        sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
        if sock is None:
            raise RuntimeError("this WSGI server does not hand over its sockets")
        fd = os.dup(sock.fileno())
        sock.shutdown = lambda *args: None  # the server's close must not end the connection
        return fd

    @staticmethod
    def handled():
        return []


def _close(fd):
    try:
        os.close(fd)
    except OSError as exc:
        if exc.errno != errno.EBADF:
            raise


def shutdown(fd):
    """End the TCP connection on ``fd`` (both ways) without closing the descriptor."""
    try:
        socket.socket(fileno=os.dup(fd)).shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


_current = None


def use(poller):
    global _current
    _current = poller


def current():
    """The installed poller, or a SelectorPoller made on first use."""
    global _current
    if _current is None:
        _current = SelectorPoller()
    return _current
