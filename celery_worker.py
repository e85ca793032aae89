"""The worker process: ``celery -A celery_worker.celery worker``.

Tasks run inside this app's context; real-time events leave through a write-only
SocketIO on the same Redis channel the web processes listen on.
"""
from app import create_app

app = create_app({"SOCKETIO_WRITE_ONLY": True})
celery = app.extensions["celery"]
