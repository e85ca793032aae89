"""Media tasks: thin wrappers over ``app.services.media_processing``.

``process_media`` is enqueued after the commit that stored a post's or comment's file
(``jobs.PROCESS_MEDIA``); ``requeue_stuck_media`` runs from Celery beat and enqueues again whatever
is still ``processing`` long after its upload (a lost message, a broker that was down at
enqueue time, a worker killed mid-task). Both are safe to run any number of times.
"""
import logging

import redis.exceptions
import sqlalchemy.exc
from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from app import jobs
from app.services import media_processing

log = logging.getLogger(__name__)

# Worth another try: the database, Redis or the disk may be back in a moment.
TRANSIENT = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,  # FileNotFoundError included: shared storage may lag behind the web process
)
MAX_RETRIES = 6
BACKOFF_FACTOR = 2  # seconds: 2, 4, 8, ... with full jitter
BACKOFF_MAX = 300
TIME_LIMIT = 600  # seconds for one file; a hung decoder is killed, the task retried


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, ignore_result=True,
             soft_time_limit=TIME_LIMIT - 30, time_limit=TIME_LIMIT)
def process_media(self, kind, object_id):
    """Process the media of one post (``kind='post'``) or comment (``'comment'``)."""
    if kind not in media_processing.MODELS:
        log.error("process_media: unknown kind %r (object %s)", kind, object_id)
        return None
    try:
        return media_processing.process(kind, object_id)
    except TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            log.error("process_media: giving up on %s %s after %d retries: %r",
                      kind, object_id, self.request.retries, exc)
            _give_up(kind, object_id)
            raise
        countdown = get_exponential_backoff_interval(
            BACKOFF_FACTOR, self.request.retries, BACKOFF_MAX, full_jitter=True)
        log.warning("process_media: %s %s hit %r; retry %d in %ss",
                    kind, object_id, exc, self.request.retries + 1, countdown)
        raise self.retry(exc=exc, countdown=countdown)
    except Exception:
        log.exception("process_media: %s %s failed", kind, object_id)
        _give_up(kind, object_id)
        raise


def _give_up(kind, object_id):
    try:
        media_processing.mark_failed(kind, object_id)
    except Exception:  # the database may be what failed; the sweep will try again later
        log.exception("process_media: could not mark %s %s failed", kind, object_id)


@shared_task(ignore_result=True)
def requeue_stuck_media():
    """Enqueue again every object still ``processing`` well after its upload; returns how many."""
    stuck = media_processing.stuck()
    for kind, object_id in stuck:
        jobs.enqueue(jobs.PROCESS_MEDIA, kind, object_id)
    if stuck:
        log.warning("requeue_stuck_media: enqueued %d objects again", len(stuck))
    return len(stuck)
