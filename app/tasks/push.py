"""Push tasks: thin wrappers over ``app.services.push``.

``send_push`` is enqueued after the commit that stored the notification;
``sweep_pushes`` runs every minute (Celery beat, see ``CELERY`` in app/config.py) and
re-enqueues pushes still pending after ``PUSH_SWEEP_AFTER_SECONDS``: a lost task, a
dead worker or a broker outage delays a push but does not lose it.
"""
from celery import shared_task

from app.services import push

# Seconds for one notification to all of a recipient's devices (each send has its own
# PUSH_TIMEOUT_SECONDS); past it the task is killed and the sweep tries again later.
TIME_LIMIT = 120
# Retries sooner than this wait in the broker as a countdown; later ones are left to the
# sweep (the row's push_next_at): a message held unacknowledged past the broker's
# visibility timeout would be handed to a second worker.
BROKER_RETRY_MAX_SECONDS = 300


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True,
             soft_time_limit=TIME_LIMIT - 10, time_limit=TIME_LIMIT)
def send_push(self, notification_id, attempt=0):
    """Push one notification. Idempotent: one that is sent (or being sent) is skipped."""
    outcome = push.deliver(notification_id, attempt, redelivered=self.redelivered)
    if outcome.state == push.RETRY and not self.request.is_eager and outcome.retry_in <= BROKER_RETRY_MAX_SECONDS:
        # The attempt counter is the claim token: the retry carries the value it expects.
        raise self.retry(args=(notification_id, outcome.attempts), countdown=outcome.retry_in)
    # Run eagerly (no broker), or later than the broker should hold it: the sweep sends it.
    return outcome.state


@shared_task(ignore_result=True)
def sweep_pushes():
    """Re-enqueue every pending push whose next attempt is due; returns how many."""
    due = push.due_pushes()
    for notification_id, attempts in due:
        send_push.delay(notification_id, attempts)
    return len(due)
