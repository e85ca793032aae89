"""Browser test support: a restartable web server and helpers that act in a page (Playwright
driving Debian's Chromium)."""
import io
import json
import time

from axe_playwright_python.base import AXE_FILE_PATH
from PIL import Image, ImageDraw

from tests.support.databases import create_database
from tests.support.processes import WebServer as LiveServer
from tests.support.processes import base_env

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "long-enough-password"


class WebServer:
    """A live server on a SQLite file that can be stopped and started again on the same
    port and database (what a dropped connection looks like to a browser)."""

    def __init__(self, root):
        self.root = root
        self.env = base_env(create_database("sqlite", root), root / "media", SUPPORT_RESOURCES=json.dumps(
            [{"name": "Crisis line", "url": "https://example.org/help", "phone": "+1 555 0100"}]))
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
    page.evaluate(AXE_FILE_PATH.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]

