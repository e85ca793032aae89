"""Configuration fails closed: production (also when APP_ENV is unset) refuses weak secrets,
needs PUBLIC_BASE_URL or TRUSTED_HOSTS and refuses test switches; an unknown APP_ENV refuses
to start; development and testing say so explicitly."""
import os
import subprocess
import sys

import pytest

from app.config import DEFAULT_SECRET, load_config
from tests.support.processes import ROOT

STRONG = {"SECRET_KEY": "s" * 32, "JWT_SECRET_KEY": "j" * 32}


@pytest.mark.parametrize("secret", [None, "", DEFAULT_SECRET, "short"])
def test_production_refuses_weak_secrets(secret):
    overrides = {"APP_ENV": "production", "JWT_SECRET_KEY": "a-strong-jwt-secret-0123456789",
                 "PUBLIC_BASE_URL": "https://api.example.com"}
    overrides["SECRET_KEY"] = DEFAULT_SECRET if secret is None else secret
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config(overrides)


def test_production_accepts_strong_secrets_with_a_public_base_url_or_trusted_hosts():
    assert load_config({"APP_ENV": "production", "PUBLIC_BASE_URL": "https://api.example.com", **STRONG})
    assert load_config({"APP_ENV": "production", "TRUSTED_HOSTS": ["api.example.com"], **STRONG})


def test_production_needs_a_public_base_url_or_trusted_hosts():
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL or TRUSTED_HOSTS"):
        load_config({"APP_ENV": "production", **STRONG})


def test_production_refuses_the_private_push_endpoint_switch():
    with pytest.raises(RuntimeError, match="PUSH_ALLOW_PRIVATE_ENDPOINTS"):
        load_config({"APP_ENV": "production", "PUBLIC_BASE_URL": "https://a.example", **STRONG,
                     "PUSH_ALLOW_PRIVATE_ENDPOINTS": True})


def test_an_unset_app_env_is_production(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config({"SECRET_KEY": DEFAULT_SECRET})


@pytest.mark.parametrize("env", ["prod", "Production", "dev", "staging"])
def test_an_unknown_app_env_refuses_to_start(env):
    with pytest.raises(RuntimeError, match="unknown APP_ENV"):
        load_config({"APP_ENV": env, **STRONG})


def test_development_runs_on_the_embedded_defaults():
    settings = load_config({"APP_ENV": "development", "REDIS_URL": None})
    assert settings["SECRET_KEY"] == DEFAULT_SECRET
    assert settings["CELERY"]["task_always_eager"] is True
    assert settings["MAX_CONTENT_LENGTH"] > settings["MAX_MEDIA_BYTES"] == 10 * 1024 * 1024


def _start(env, tmp_path, module="wsgi"):
    env = {**{k: v for k, v in os.environ.items()
              if k not in ("SECRET_KEY", "JWT_SECRET_KEY", "REDIS_URL", "APP_ENV", "PUBLIC_BASE_URL")},
           "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}", **env}
    return subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("module", ["wsgi", "celery_worker"])
def test_the_procfile_processes_refuse_to_start_with_the_default_secret(tmp_path, module):
    result = _start({"APP_ENV": "production"}, tmp_path, module)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_a_process_without_app_env_refuses_the_default_secret(tmp_path):
    result = _start({}, tmp_path)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_a_process_says_development_explicitly_to_run_on_defaults(tmp_path):
    assert _start({"APP_ENV": "development"}, tmp_path).returncode == 0


# Every Procfile process, as it starts: importing its module (web: wsgi; worker, pushworker and
# beat: celery_worker) or running the release command. Run side by side: each takes a second.
STRONG_ENV = {"SECRET_KEY": "s" * 32, "JWT_SECRET_KEY": "j" * 32}
PROCESS_CASES = {  # what the tests above leave out
    "worker without APP_ENV, default secret": ({}, "celery_worker", "SECRET_KEY must be set"),
    "release without APP_ENV": ({}, "flask db upgrade", "SECRET_KEY must be set"),
    "web, unknown APP_ENV": ({"APP_ENV": "prod", **STRONG_ENV}, "wsgi", "unknown APP_ENV"),
    "worker, neither base URL nor trusted hosts": ({"APP_ENV": "production", **STRONG_ENV}, "celery_worker",
                                                   "PUBLIC_BASE_URL or TRUSTED_HOSTS"),
    "web, production done right": ({"APP_ENV": "production", **STRONG_ENV, "TRUSTED_HOSTS": "api.example.com"},
                                   "wsgi", None),
}


def test_every_procfile_process_fails_closed(tmp_path):
    base = {k: v for k, v in os.environ.items()
            if k not in ("SECRET_KEY", "JWT_SECRET_KEY", "REDIS_URL", "APP_ENV", "PUBLIC_BASE_URL", "TRUSTED_HOSTS")}
    running = {}
    for name, (env, target, _) in PROCESS_CASES.items():
        database = tmp_path / f"{len(running)}.sqlite3"
        args = ([os.path.join(os.path.dirname(sys.executable), "flask"), "db", "upgrade"] if target.startswith("flask")
                else [sys.executable, "-c", f"import {target}"])
        running[name] = subprocess.Popen(args, cwd=ROOT, env={**base, "DATABASE_URL": f"sqlite:///{database}", **env},
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outcomes = {}
    for name, process in running.items():
        _, stderr = process.communicate(timeout=120)
        outcomes[name] = (process.returncode, stderr)
    for name, (_, _, refusal) in PROCESS_CASES.items():
        code, stderr = outcomes[name]
        if refusal is None:
            assert code == 0, (name, stderr[-2000:])
        else:
            assert code != 0 and refusal in stderr, (name, stderr[-2000:])
