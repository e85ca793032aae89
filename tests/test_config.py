"""Configuration: production refuses weak secrets (in a process too); embedded defaults."""
import os
import subprocess
import sys

import pytest

from app.config import DEFAULT_SECRET, load_config
from tests.support.processes import ROOT


@pytest.mark.parametrize("secret", [None, "", DEFAULT_SECRET, "short"])
def test_production_refuses_weak_secrets(monkeypatch, secret):
    overrides = {"APP_ENV": "production", "JWT_SECRET_KEY": "a-strong-jwt-secret-0123456789"}
    overrides["SECRET_KEY"] = DEFAULT_SECRET if secret is None else secret
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config(overrides)


def test_production_accepts_strong_secrets():
    settings = load_config({"APP_ENV": "production", "SECRET_KEY": "s" * 32, "JWT_SECRET_KEY": "j" * 32})
    assert settings["APP_ENV"] == "production"


def test_embedded_defaults():
    settings = load_config({"REDIS_URL": None})
    assert settings["CELERY"]["task_always_eager"] is True
    assert settings["MAX_CONTENT_LENGTH"] > settings["MAX_MEDIA_BYTES"] == 10 * 1024 * 1024


def test_production_process_refuses_to_start_with_default_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "JWT_SECRET_KEY", "REDIS_URL")}
    env.update(APP_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'p.sqlite3'}")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
