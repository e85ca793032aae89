"""A bounded property-based run of schemathesis over ``GET /openapi.json`` against a live
server (gunicorn and eventlet, as deployed): every operation, with requests generated from
the document (valid and invalid ones, boundaries, sequences that follow its links), as an
admin with a real token (an admin reaches every endpoint). It passes with no server error
and every response conforming to the document: status code, content type, headers and body
schema, the ``Allow`` header, authentication enforced where the document says so.

It is schemathesis's own runner (``st run``) in a subprocess: its pytest plugin does not
work with this pytest. The run is deterministic (a fixed seed), so a failure reproduces.

Left out, and why:

- ``positive_data_acceptance`` (a request valid by the schema must be accepted): the API
  refuses, with its documented 400s, requests the schema cannot tell apart: an email already
  taken, blocking, muting or suspending oneself, an ``object_id`` that names nothing, media
  with no ``media_type``, a file that is not really an image, a NUL character in a key.
- ``negative_data_rejection`` on the operations whose booleans are read as DRF reads them
  (``"false"``, ``0``, ``"off"`` too: multipart forms can only send strings) and on
  ``/auth/me``, whose fields are all optional, so a multipart body without any part is read
  as no change: a request the schema calls invalid is accepted there on purpose.
- ``allow_header_conformance`` on ``/devices/webpush-key``: ``DELETE /devices/{token}``
  matches it too (a device whose token is ``webpush-key``), so ``Allow`` rightly lists DELETE;
  OpenAPI cannot say that a templated path also matches a literal one.
- ``/auth/refresh`` is sent the access token like every other operation, so it answers its
  documented 401 (the refresh itself is tested in tests/test_auth.py).
"""
import json
import os
import re
import subprocess
import sys
import time

import pytest
import requests

from tests.support.clients import bearer
from tests.support.databases import make_app

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))  # per operation and phase
MAX_SECONDS = 150  # a ceiling for the whole run (it takes about 30 s; not st's --max-time, which
#                    makes fuzzing go on until the time is spent)
SEED = 20261202
# Where a request the schema calls invalid is accepted on purpose (see the docstring).
LENIENT = [("PATCH", "/notifications/preferences"), ("POST", "/ventroom/posts/"),
           ("POST", "/ventroom/posts/{post_id}/comments/"), ("PATCH", "/auth/me"), ("PUT", "/auth/me")]


@pytest.fixture(scope="module")
def fuzzed(module_stack, tmp_path_factory):
    """One embedded web process (no push credentials: nothing leaves this machine); an admin
    with a post of theirs."""
    stack = module_stack()
    body = requests.post(f"{stack.server.url}/auth/register", timeout=10, json={
        "email": "fuzzer@example.com", "password": "long-enough-password", "display_name": "Fuzzer"}).json()
    app = make_app(stack.database_url, tmp_path_factory.mktemp("fuzz-admin"))
    with app.app_context():
        from app.services import users

        users.set_admin("fuzzer@example.com")
    stack.new_post(body["access_token"])
    return stack, body


def _toml(value):
    return json.dumps(value)  # TOML's basic strings and arrays of them are JSON's


def config():
    """The run's settings file: checks per operation need one (the runner's defaults run
    every check). Headers go on the command line: given here they slow the run down."""
    lines = ["[checks]", "positive_data_acceptance.enabled = false"]
    for method, path in LENIENT:
        lines += ["[[operations]]", f"include-method = {_toml(method)}", f"include-path = {_toml(path)}",
                  "checks.negative_data_rejection.enabled = false"]
    lines += ["[[operations]]", 'include-path = "/devices/webpush-key"',
              "checks.allow_header_conformance.enabled = false"]
    return "\n".join(lines) + "\n"


def test_every_operation_conforms_to_the_document_and_none_fails(fuzzed, tmp_path):
    stack, tokens = fuzzed
    settings = tmp_path / "schemathesis.toml"
    settings.write_text(config())
    started = time.monotonic()
    run = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "st"), "--config-file", str(settings), "run",
         f"{stack.server.url}/openapi.json", "--max-examples", str(EXAMPLES), "--seed", str(SEED),
         "--workers", "1", "--continue-on-failure", "--request-timeout", "15",
         "--header", f"Authorization: Bearer {tokens['access_token']}"],
        capture_output=True, text=True, timeout=MAX_SECONDS, env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path)  # its cache (.schemathesis/) stays out of the repository
    elapsed = time.monotonic() - started
    summary = run.stdout[run.stdout.rfind("SUMMARY"):]
    print(f"schemathesis: {elapsed:.0f}s\n{summary}")  # with -s: the run's size and time
    failures = run.stdout[run.stdout.find("FAILURES"):run.stdout.rfind("WARNINGS")]
    assert run.returncode == 0, failures[:20000] + summary + run.stderr[-5000:]
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", summary)
    assert selected and len(set(selected.groups())) == 1 and int(selected[1]) >= 45, summary  # all of them
    # The server logged no unhandled error either (a 500 the run would have reported).
    assert "Unhandled error" not in stack.server.output()
    assert requests.get(f"{stack.server.url}/healthz", headers=bearer(tokens["access_token"]),
                        timeout=10).status_code == 200
