"""CPU-heavy calls (password hashing, image cleaning) run where they cannot hold up
every other request of the process.

Under eventlet one green thread runs at a time: a 100 ms scrypt or a photo re-encode in
a request would stall every socket of the process for that long. ``wsgi.py`` installs
eventlet's pool of real threads here (hashlib and Pillow release the GIL, so the work
also goes to the other core); elsewhere (threads, the Celery worker, tests) the call
runs as it is.
"""

_runner = None


def use(runner):
    """Install ``runner(fn, *args, **kwargs)``, e.g. ``eventlet.tpool.execute``."""
    global _runner
    _runner = runner


def run(fn, *args, **kwargs):
    if _runner is None:
        return fn(*args, **kwargs)
    return _runner(fn, *args, **kwargs)
