"""A fake push service (a loopback HTTP server standing in for a Web Push service, or for FCM
and its token URL), a browser's push subscription that decrypts what it is sent, VAPID keys."""
import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushEndpoint:
    """A loopback HTTP server standing in for a push service (or FCM and its token URL).

    Records every request; answers each path with ``statuses[path]`` (default 201),
    ``headers[path]`` (e.g. a ``Location``) and ``bodies[path]`` (JSON, default empty), or
    with ``huge[path]`` bytes of body, written until the client stops reading (how many were
    taken: ``bytes_taken[path]``). A request to a path of ``hold`` waits for that Event
    before it is answered (``holding`` counts those waiting). ``connections`` counts every
    TCP connection accepted, whether or not a request came on it.
    """

    def __init__(self):
        self.requests = []
        self.statuses, self.headers, self.bodies, self.huge, self.hold = {}, {}, {}, {}, {}
        self.bytes_taken = {}
        self.holding = 0
        self.connections = 0
        self.arrived = threading.Condition()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                with endpoint.arrived:
                    endpoint.requests.append({"path": path, "headers": dict(self.headers), "body": body})
                    endpoint.arrived.notify_all()
                if path in endpoint.hold:
                    with endpoint.arrived:
                        endpoint.holding += 1
                    endpoint.hold[path].wait(120)
                    with endpoint.arrived:
                        endpoint.holding -= 1
                status = endpoint.statuses.get(path, 201)
                self.send_response(status)
                for name, value in endpoint.headers.get(path, {}).items():
                    self.send_header(name, value)
                if path in endpoint.huge:
                    self._send_huge(path, endpoint.huge[path])
                    return
                reply = json.dumps(endpoint.bodies.get(path, {})).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def _send_huge(self, path, size):
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk, sent = b" " * 65536, 0
                try:
                    while sent < size:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                        endpoint.bytes_taken[path] = sent
                except OSError:  # the client closed: it read no more
                    pass

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address):
                with endpoint.arrived:
                    endpoint.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def to(self, path):
        return [r for r in self.requests if r["path"] == path]

    def wait_for(self, path, count=1, timeout=20):
        deadline = time.time() + timeout
        with self.arrived:
            while len(self.to(path)) < count:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"{count} request(s) to {path} expected, got {len(self.to(path))}")
                self.arrived.wait(left)
        return self.to(path)

    def close(self):
        for event in self.hold.values():
            event.set()
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """A browser's push subscription: its own P-256 key pair and auth secret."""

    def __init__(self, endpoint_url):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        self.subscription = {"endpoint": endpoint_url, "expirationTime": None,
                             "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}

    def decrypt(self, body):
        return json.loads(http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth,
                                           version="aes128gcm"))


def vapid_keys():
    """``(private key as base64url raw, public key as base64url uncompressed point)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return b64url(raw), b64url(public)
