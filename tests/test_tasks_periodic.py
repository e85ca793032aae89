"""Embedded mode runs the beat schedule from a loop of the web process."""
import time

from app.services import media_processing, push
from app.tasks import run_periodic_in_process


def test_the_schedule_runs_in_process(app, monkeypatch):
    calls = []
    monkeypatch.setattr(media_processing, "stuck", lambda: calls.append("media") or [])
    monkeypatch.setattr(push, "due_pushes", lambda: calls.append("push") or [])
    celery = app.extensions["celery"]
    monkeypatch.setitem(celery.conf, "beat_schedule", {
        "media": {"task": "app.tasks.media.requeue_stuck_media", "schedule": 0.1},
        "push": {"task": "app.tasks.push.sweep_pushes", "schedule": 0.25},
    })
    stop = run_periodic_in_process(app)
    try:
        time.sleep(0.8)
    finally:
        stop.set()
    assert 3 <= calls.count("media") <= 9, calls  # each on its own period
    assert 1 <= calls.count("push") <= 4, calls
    assert calls.count("media") > calls.count("push")
    time.sleep(0.3)
    settled = len(calls)
    time.sleep(0.3)
    assert len(calls) == settled  # stopped


def test_both_sweeps_are_scheduled():
    from app.config import BEAT_SCHEDULE, load_config

    for redis_url in (None, "redis://127.0.0.1:6379/9"):
        schedule = load_config({"APP_ENV": "testing", "REDIS_URL": redis_url})["CELERY"]["beat_schedule"]
        assert schedule == BEAT_SCHEDULE
    assert {entry["task"] for entry in BEAT_SCHEDULE.values()} == {
        "app.tasks.push.sweep_pushes", "app.tasks.media.requeue_stuck_media"}
