"""Browser tests: Debian's Chromium driven by Playwright against a real server process.

Tests marked ``browser`` are skipped with a reason when /usr/bin/chromium is absent and
fail under REQUIRE_SERVICES=1 (the conftest's marker hook). The server is
``gunicorn -k eventlet`` on a SQLite file, restartable on the same port.
"""
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import CHROMIUM_ARGS, WebServer
from tests.support.services import CHROMIUM

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def web_server(tmp_path_factory):
    server = WebServer(tmp_path_factory.mktemp("web"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        # launch() gives the browser a fresh, temporary user-data dir of its own.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def open_page(browser, web_server):
    """``open_page(width=1280)`` -> a page in a new browser context (its own session),
    at the client, with browser errors collected in ``page.errors`` and every response in
    ``page.responses``."""
    contexts = []

    def open_(width=1280, height=800):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=web_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.responses = []
        page.on("response", lambda response: page.responses.append(response))
        page.on("pageerror", lambda err: page.errors.append(str(err)))
        page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
        page.goto("/")
        page.wait_for_selector("html[data-ready]")
        return page

    yield open_
    for context in contexts:
        context.close()
