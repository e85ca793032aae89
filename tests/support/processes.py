"""The one way tests run real processes: the web server and the Celery worker as the Procfile
runs them, each in its own process group with its output in a log file."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.databases import SECRETS

ROOT = Path(__file__).resolve().parents[2]
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(database_url, media_root, redis_url=None, channel=None, **extra):
    """This environment with the app's settings for a test process (embedded unless ``redis_url``)."""
    env = dict(os.environ)
    for key in ("REDIS_URL", "PUBLIC_BASE_URL", "FLASK_APP"):
        env.pop(key, None)
    env.update({
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media_root),
        **SECRETS,
        "RATELIMIT_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    if redis_url:
        env["REDIS_URL"] = redis_url
    if channel:
        env["SOCKETIO_CHANNEL"] = channel
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Process:
    """``args`` run in the project directory; started when the constructor returns."""

    name, timeout, poll_interval = "process", 30, 0.1
    stop_signal = signal.SIGTERM  # what ``stop`` sends: a test's processes need no graceful end

    def __init__(self, args, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready()

    def ready(self):
        raise NotImplementedError

    def _wait_ready(self):
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()}")
            if self.ready():
                return
            time.sleep(self.poll_interval)
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.output()}")

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, self.stop_signal)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class WebServer(Process):
    """``gunicorn -k eventlet`` serving wsgi:app on a free loopback port; ready once /healthz answers."""

    name = "server"
    stop_signal = signal.SIGQUIT  # gunicorn's quick shutdown (SIGTERM waits out open connections)

    def __init__(self, env, log_path, port=None):
        self.port = port or free_port()  # a port again: a restarted server on the same address
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        super().__init__([os.path.join(BIN, "gunicorn"), "-k", "eventlet", "-w", "1", "--worker-connections",
                          "10000", "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "2", "wsgi:app"],
                         env, log_path)

    def ready(self):
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False


class CeleryWorker(Process):
    """``celery -A celery_worker.celery worker -Q <queues>``, as the Procfile runs its ``worker``
    (media) and ``pushworker`` (push): one process, both queues by default."""

    name, timeout, poll_interval = "worker", 60, 0.2
    stop_signal = signal.SIGQUIT  # Celery's cold shutdown

    def __init__(self, env, log_path, queues="media,push"):
        super().__init__([os.path.join(BIN, "celery"), "-A", "celery_worker.celery", "worker", "-Q", queues,
                          "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                          "--without-heartbeat"], env, log_path)

    def ready(self):
        return "ready." in self.output()
