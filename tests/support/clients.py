"""Clients of a live server: REST helpers, a raw ``/ws/`` client (websocket-client) and a
Socket.IO client, each collecting what arrives on a background thread."""
import json
import queue
import threading
import time

import requests
import socketio
import websocket

QUIET = 0.6  # how long "nothing arrives" is watched for
ENVELOPE_KEYS = {"type", "data", "timestamp", "event_id"}  # of every frame and Socket.IO event


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def register(base_url, email, password="correct-horse", display_name=None):
    """A new account on a live server: ``(user_dict, access_token)``."""
    response = requests.post(f"{base_url}/auth/register", json={
        "email": email, "password": password, "display_name": display_name or email.split("@")[0]},
        timeout=10)
    response.raise_for_status()
    body = response.json()
    return body["user"], body["access_token"]


class _Collecting:
    """What both real-time clients share: ``self.received`` is the queue of what arrived."""

    def request(self, message_type, data=None, reply=None, timeout=5):
        self.send(message_type, data)
        return self.expect(reply or message_type, timeout=timeout)

    def assert_silent(self, within=QUIET):
        time.sleep(within)
        leftovers = []
        while not self.received.empty():
            leftovers.append(self.received.get())
        assert leftovers == [], leftovers


class RawClient(_Collecting):
    """A ``/ws/`` connection whose text frames arrive, parsed, in ``received``."""

    def __init__(self, server, token=None, header_auth=False, path="/ws/"):
        url = f"{server.ws_url}{path}"
        headers = []
        if token and header_auth:
            headers = [f"Authorization: Bearer {token}"]
        elif token:
            url += f"?token={token}"
        self.ws = websocket.create_connection(url, header=headers, timeout=10)
        self.received = queue.Queue()
        self.close_code = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                opcode, data = self.ws.recv_data(control_frame=False)
            except Exception:  # closed, reset or timed out: the client is done
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                return
            if opcode == websocket.ABNF.OPCODE_TEXT:
                self.received.put(json.loads(data))

    def send(self, message_type, data=None):
        message = {"type": message_type}
        if data is not None:
            message["data"] = data
        self.ws.send(json.dumps(message))

    def send_raw(self, text):
        self.ws.send(text)

    def expect(self, message_type, timeout=5):
        """The next frame, which must be of ``message_type``."""
        try:
            frame = self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {message_type!r} frame within {timeout}s") from None
        assert frame["type"] == message_type, frame
        return frame

    def wait_closed(self, timeout=5):
        self._reader.join(timeout)
        assert not self._reader.is_alive(), "connection still open"
        return self.close_code

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


class SioClient(_Collecting):
    """A Socket.IO client over WebSocket whose events arrive in ``received`` as ``(event, payload)``."""

    def __init__(self, server, token, last_event_id=None):
        self.received = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", lambda event, payload=None: self.received.put((event, payload)))
        auth = {"token": token} if last_event_id is None else {"token": token, "last_event_id": last_event_id}
        self.sio.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=10)

    def send(self, event, data=None):
        if data is None:
            self.sio.emit(event)
        else:
            self.sio.emit(event, data)

    def expect(self, event, timeout=5):
        try:
            name, payload = self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {event!r} event within {timeout}s") from None
        assert name == event, (name, payload)
        assert payload["type"] == event
        return payload

    def close(self):
        self.sio.disconnect()
