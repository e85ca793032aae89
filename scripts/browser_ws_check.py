"""A browser's native WebSocket against /ws/, in headless Chromium (run by hand).

    .venv/bin/python scripts/browser_ws_check.py [--chromium /usr/bin/chromium]

Starts a real server (embedded mode), serves a page from another origin whose script
opens ``new WebSocket(".../ws/?token=...")``, joins the feed, creates a post with
``fetch`` (CORS) and waits for the ``new_ventroom_post`` frame. Chromium's --dump-dom
prints the page's log, which this script shows and checks.
"""
import argparse
import http.server
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.clients import register  # noqa: E402
from tests.support.databases import create_database  # noqa: E402
from tests.support.processes import WebServer, base_env, free_port  # noqa: E402

PAGE = """<!doctype html><html><body><pre id="log"></pre><script>
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
const ws = new WebSocket(%(ws_url)s);
ws.onopen = () => { log("open"); ws.send(JSON.stringify({type: "join_ventroom"})); };
ws.onclose = (e) => log("close " + e.code);
ws.onmessage = async (message) => {
  const frame = JSON.parse(message.data);
  log("frame " + frame.type + " keys=" + Object.keys(frame).join(","));
  if (frame.type === "ventroom_joined") {
    const response = await fetch(%(api)s + "/ventroom/posts/", {method: "POST",
      headers: {"Authorization": "Bearer " + %(token)s, "Content-Type": "application/json"},
      body: JSON.stringify({title: "from the browser", content: "hello"})});
    log("rest " + response.status);
  }
  if (frame.type === "new_ventroom_post") { log("event title=" + frame.data.title); log("DONE"); }
};
</script></body></html>"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="browser-ws-"))
    server = WebServer(base_env(create_database("sqlite", directory), directory / "media"), directory / "web.log")
    try:
        _, token = register(server.url, "browser@example.com")
        page = PAGE % {"ws_url": json.dumps(f"{server.ws_url}/ws/?token={token}"),
                       "api": json.dumps(server.url), "token": json.dumps(token)}
        (directory / "index.html").write_text(page)
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(directory), **k)  # noqa: E731
        page_port = free_port()
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        result = subprocess.run(
            [args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={directory / 'profile'}", "--virtual-time-budget=15000", "--dump-dom",
             f"http://127.0.0.1:{page_port}/index.html"],
            check=False, capture_output=True, text=True, timeout=120)
        httpd.shutdown()
        log = result.stdout.split('<pre id="log">')[-1].split("</pre>")[0]
        print(log)
        ok = "DONE" in log and "frame new_ventroom_post keys=type,data,timestamp,event_id" in log
        print("browser check:", "OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
