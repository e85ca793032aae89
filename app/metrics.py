"""Prometheus metrics at ``GET /metrics``: request latency per endpoint, open real-time
connections per transport, events published / delivered / dropped, Celery queue depth.

Not public: without ``METRICS_TOKEN`` the endpoint does not exist (404), with it the
scraper sends ``Authorization: Bearer <METRICS_TOKEN>``. Under gunicorn every worker
writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` (``gunicorn.conf.py`` makes one),
and a scrape of any worker sums them all; queue depths are read from the broker at
scrape time.
"""
import os
import time

import redis
from flask import g, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
QUEUES = ("media", "push")

REQUEST_SECONDS = Histogram(
    "ventroom_http_request_duration_seconds", "REST request latency.", ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CONNECTIONS = Gauge("ventroom_realtime_connections", "Open real-time connections.", ["transport"],
                    multiprocess_mode="livesum")
EVENTS_PUBLISHED = Counter("ventroom_events_published_total", "Events published by this deployment's web processes.")
EVENTS_DELIVERED = Counter("ventroom_events_delivered_total", "Event copies handed to subscribers.", ["transport"])
DROPPED = Counter("ventroom_realtime_dropped_total", "Raw clients dropped for not reading fast enough.")

class QueueDepth:
    """Celery's queues are Redis lists named as the queues: their lengths, at scrape time."""

    def __init__(self, url):
        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def collect(self):
        family = GaugeMetricFamily("ventroom_celery_queue_depth", "Tasks waiting in each Celery queue.",
                                   labels=["queue"])
        try:
            for queue in QUEUES:
                family.add_metric([queue], self.redis.llen(queue))
        except redis.RedisError:
            return
        yield family


def _registry(app):
    registry = app.extensions.get("metrics_registry")
    if registry is None:
        if MULTIPROCESS:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = REGISTRY
        if app.config["REDIS_URL"]:
            registry.register(QueueDepth(app.config["REDIS_URL"]))
        app.extensions["metrics_registry"] = registry
    return registry


def init_app(app):
    """Time every request (by endpoint, method and status)."""

    @app.before_request
    def start_timer():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def observe(response):
        started = g.pop("metrics_started", None)
        if started is not None and request.endpoint not in (None, "metrics.scrape"):
            REQUEST_SECONDS.labels(request.endpoint, request.method, response.status_code).observe(
                time.perf_counter() - started)
        return response


def exposition(app):
    """``(body, content type)`` of every metric, in the Prometheus text format."""
    return generate_latest(_registry(app)), CONTENT_TYPE_LATEST
