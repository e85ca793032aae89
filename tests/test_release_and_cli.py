"""The release step (``flask db upgrade``) on an empty database, and the ``flask users`` CLI."""
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from tests.support.databases import create_database, drop_database, make_app
from tests.support.processes import ROOT


def _flask(args, database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("FLASK_APP", "REDIS_URL")}
    env.update(DATABASE_URL=database_url, MEDIA_ROOT=str(tmp_path / "media"), APP_ENV="development")
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    """A new database without tables, for the release step to build."""
    url = create_database(request.param, tmp_path, schema=False)
    yield url
    drop_database(url)


def test_release_step_builds_the_schema_and_the_cli_makes_admins(empty_database, tmp_path):
    """``flask db upgrade`` (the release step) on an empty database, found through wsgi.py."""
    upgrade = _flask(["db", "upgrade"], empty_database, tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr
    check = _flask(["db", "check"], empty_database, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr  # models and migrations agree

    created = _flask(["users", "create", "Root@Example.com", "--password", "long-enough",
                      "--display-name", "Root", "--admin"], empty_database, tmp_path)
    assert created.returncode == 0, created.stderr

    # The rest of the CLI in this process (each ``flask`` process costs two seconds).
    cli = make_app(empty_database, tmp_path).test_cli_runner()
    plain = cli.invoke(args=["users", "create", "mod@example.com", "--password", "long-enough",
                             "--display-name", "Mod"])
    assert plain.exit_code == 0, plain.output
    promoted = cli.invoke(args=["users", "set-admin", "MOD@example.com"])
    assert promoted.exit_code == 0, promoted.output
    duplicate = cli.invoke(args=["users", "create", "root@example.com", "--password", "long-enough",
                                 "--display-name", "Again"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    short = cli.invoke(args=["users", "create", "x@example.com", "--password", "short", "--display-name", "X"])
    assert short.exit_code != 0
    unknown = cli.invoke(args=["users", "set-admin", "ghost@example.com"])
    assert unknown.exit_code != 0

    app = make_app(empty_database, tmp_path)
    with app.app_context():
        users = {u.email: u.is_admin for u in db.session.scalars(select(User))}
        db.engine.dispose()
    assert users == {"root@example.com": True, "mod@example.com": True}
