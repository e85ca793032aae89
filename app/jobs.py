"""Background work, enqueued by task name after the commit that makes it needed.

Services call ``enqueue(jobs.PROCESS_MEDIA, "post", 7)``; nothing but the app factory
and the worker imports ``app.tasks``, whose tasks call services (one direction only).
Embedded mode runs the task in this process once the request's app context ends
(``celery_init_app``). A broker that cannot be reached is logged, not raised: the write
has committed and its client must hear so, and the periodic sweeps (stuck media, pending
pushes) enqueue the work again later.
"""
import logging

from flask import current_app

log = logging.getLogger(__name__)

PROCESS_MEDIA = "app.tasks.media.process_media"
SEND_PUSH = "app.tasks.push.send_push"
# A short wait for a broker that blinks; the sweeps cover longer outages.
RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def enqueue(name, *args):
    task = current_app.extensions["celery"].tasks[name]
    try:
        task.apply_async(args, retry=True, retry_policy=RETRY_POLICY)
    except Exception:  # the broker is unreachable
        log.warning("%s%r not enqueued; the periodic sweep will retry it", name, args, exc_info=True)
