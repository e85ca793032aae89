"""Real processes for tests: the web server as the Procfile runs it, and a Celery worker."""
import os
import signal
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(database_url, media_root, redis_url=None, channel=None, **extra):
    env = dict(os.environ)
    for key in ("REDIS_URL", "PUBLIC_BASE_URL", "FLASK_APP"):
        env.pop(key, None)
    env.update({
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media_root),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "JWT_SECRET_KEY": "test-jwt-secret-key-that-is-long-enough-0123456789",
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
    def __init__(self, args, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class LiveServer(Process):
    """``gunicorn -k eventlet`` serving wsgi:app on a free loopback port."""

    def __init__(self, env, log_path, port=None):
        self.port = port or free_port()  # a port again: a restarted server on the same address
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        args = [os.path.join(BIN, "gunicorn"), "-k", "eventlet", "-w", "1", "--worker-connections", "10000",
                "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "2", "wsgi:app"]
        super().__init__(args, env, log_path)
        self._wait_ready()

    def _wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.output()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.output()}")


class CeleryWorker(Process):
    """``celery -A celery_worker.celery worker``, as the Procfile runs it (one process)."""

    def __init__(self, env, log_path):
        args = [os.path.join(BIN, "celery"), "-A", "celery_worker.celery", "worker", "--pool", "solo",
                "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        super().__init__(args, env, log_path)
        self._wait_ready()

    def _wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.output()}")
            if "ready." in self.output():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"worker did not start:\n{self.output()}")


def register(base_url, email, password="correct-horse", display_name=None):
    """A new account on a live server: ``(user_dict, access_token)``."""
    response = requests.post(f"{base_url}/auth/register", json={
        "email": email, "password": password, "display_name": display_name or email.split("@")[0]},
        timeout=10)
    response.raise_for_status()
    body = response.json()
    return body["user"], body["access_token"]
