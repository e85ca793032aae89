"""Real clients for real-time tests: raw WebSocket (websocket-client) and Socket.IO."""
import json
import queue
import threading
import time

import socketio
import websocket

QUIET = 0.6  # how long "nothing arrives" is watched for


class RawClient:
    """A ``/ws/`` connection whose frames a background thread collects."""

    def __init__(self, server, token=None, header_auth=False, path="/ws/"):
        url = f"{server.ws_url}{path}"
        headers = []
        if token and header_auth:
            headers = [f"Authorization: Bearer {token}"]
        elif token:
            url += f"?token={token}"
        self.ws = websocket.create_connection(url, header=headers, timeout=10)
        self.frames = queue.Queue()
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
                self.frames.put(json.loads(data))

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
            frame = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {message_type!r} frame within {timeout}s") from None
        assert frame["type"] == message_type, frame
        return frame

    def request(self, message_type, data=None, reply=None):
        self.send(message_type, data)
        return self.expect(reply or message_type)

    def assert_silent(self, within=QUIET):
        time.sleep(within)
        leftovers = []
        while not self.frames.empty():
            leftovers.append(self.frames.get())
        assert leftovers == [], leftovers

    def wait_closed(self, timeout=5):
        self._reader.join(timeout)
        assert not self._reader.is_alive(), "connection still open"
        return self.close_code

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


class SioClient:
    """A Socket.IO client over WebSocket whose events are collected as ``(event, payload)``."""

    def __init__(self, server, token):
        self.events = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", lambda event, payload=None: self.events.put((event, payload)))
        self.sio.connect(server.url, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    def send(self, event, data=None):
        if data is None:
            self.sio.emit(event)
        else:
            self.sio.emit(event, data)

    def expect(self, event, timeout=5):
        try:
            name, payload = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {event!r} event within {timeout}s") from None
        assert name == event, (name, payload)
        assert payload["type"] == event
        return payload

    def request(self, event, data=None, reply=None):
        self.send(event, data)
        return self.expect(reply or event)

    def assert_silent(self, within=QUIET):
        time.sleep(within)
        leftovers = []
        while not self.events.empty():
            leftovers.append(self.events.get())
        assert leftovers == [], leftovers

    def close(self):
        self.sio.disconnect()
