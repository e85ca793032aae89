"""The web process: ``gunicorn -k eventlet -w 1 wsgi:app`` (and what ``flask`` finds).

eventlet patches the standard library before anything else is imported, and the
PostgreSQL driver is made cooperative, so one slow query never stalls the sockets
of the process. Only this file knows about eventlet.
"""
import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

from eventlet import tpool  # noqa: E402

from app import create_app, offload  # noqa: E402

offload.use(tpool.execute)  # CPU-heavy calls go to real threads, not the event loop
app = create_app({"SOCKETIO_ASYNC_MODE": "eventlet"})
