"""Celery tasks: thin wrappers over services, registered when the worker imports this package."""
import logging
import threading
import time

from app.tasks import (
    media,  # noqa: F401
    push,  # noqa: F401
)

log = logging.getLogger(__name__)


def run_periodic_in_process(app):
    """Embedded mode has no beat: run the beat schedule's tasks from a background loop of
    this process, so pending pushes and stuck media are swept there too. Returns an Event
    that stops the loop when set."""
    celery = app.extensions["celery"]
    schedule = celery.conf.beat_schedule
    stop = threading.Event()

    def loop():
        due_at = {name: time.monotonic() + entry["schedule"] for name, entry in schedule.items()}
        while not stop.wait(max(0.05, min(due_at.values()) - time.monotonic())):
            for name, entry in schedule.items():
                if due_at[name] > time.monotonic():
                    continue
                due_at[name] = time.monotonic() + entry["schedule"]
                try:
                    celery.tasks[entry["task"]].apply()
                except Exception:  # a failed run is logged; the next one comes on schedule
                    log.exception("periodic task %s failed", entry["task"])

    threading.Thread(target=loop, name="embedded-beat", daemon=True).start()
    return stop
