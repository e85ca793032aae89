"""Browser tests: Debian's Chromium driven by Playwright against a real server process.

Tests marked ``browser`` are skipped with a reason when /usr/bin/chromium is absent and
fail under REQUIRE_SERVICES=1 (the conftest's marker hook). The server is
``gunicorn -k eventlet`` on a SQLite file, restartable on the same port.
"""
import io
import time
from pathlib import Path

import pytest

from tests.support.databases import create_database
from tests.support.processes import WebServer as LiveServer
from tests.support.processes import base_env
from tests.support.services import CHROMIUM
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "long-enough-password"


class WebServer:
    """A live server on a SQLite file that can be stopped and started again on the same
    port and database (what a dropped connection looks like to a browser)."""

    def __init__(self, root):
        self.root = root
        self.env = base_env(create_database("sqlite", root), root / "media")
        self.starts = 0
        self.server = None
        self.start()

    def start(self):
        port = self.server.port if self.server else None
        self.starts += 1
        self.server = LiveServer(self.env, self.root / f"server-{self.starts}.log", port=port)
        self.url = self.server.url

    def stop(self):
        self.server.stop()

    def restart(self):
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory):
    server = WebServer(tmp_path_factory.mktemp("web"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

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


def register_in_page(page, name):
    """Create an account through the page's own form; lands on the feed."""
    page.get_by_role("button", name="create an account").click()
    page.get_by_label("Name others see").fill(name)
    page.get_by_label("Email").fill(f"{name.lower()}-{time.time_ns()}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Recent posts").wait_for()
    page.locator("#connection[data-status=live]").wait_for()


def jpeg_bytes(width=640, height=320):
    """A calm picture (an evening sky over water) as a JPEG."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    top, bottom = (122, 160, 190), (240, 214, 180)
    for y in range(height):
        t = y / (height - 1)
        draw.line([(0, y), (width, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    draw.ellipse([width * 0.62, height * 0.38, width * 0.74, height * 0.62], fill=(250, 236, 205))
    draw.rectangle([0, height * 0.7, width, height], fill=(74, 110, 128))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def axe_violations(page):
    """axe-core (the copy the axe-playwright-python package ships) run in the page."""
    from axe_playwright_python.base import AXE_FILE_PATH

    page.evaluate(AXE_FILE_PATH.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]

