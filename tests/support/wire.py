"""WebSocket by hand on a bare socket: a handshake and frames, for clients that misbehave on
purpose (vanish without a close frame, never answer a ping) and for the fan-out bench."""
import json
import socket


def handshake(server, token):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    sock.sendall((f"GET /ws/?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


def read_upgrade(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "server closed during the handshake"
        data += chunk
    assert data.startswith(b"HTTP/1.1 101"), data[:100]


def read_text_frames(sock, count):
    """The next ``count`` server text frames (payloads under 64 KiB) as parsed JSON."""
    frames, buffer = [], b""
    while len(frames) < count:
        while True:
            if len(buffer) >= 2:
                length, offset = buffer[1] & 0x7F, 2
                if length == 126 and len(buffer) >= 4:
                    length, offset = int.from_bytes(buffer[2:4], "big"), 4
                if length != 126 and len(buffer) >= offset + length:
                    break
            chunk = sock.recv(65536)
            assert chunk, "connection closed"
            buffer += chunk
        if buffer[0] == 0x81:
            frames.append(json.loads(buffer[offset:offset + length]))
        else:  # a ping from the server (not answered: that comes later)
            assert buffer[0] == 0x89, buffer[:2]
        buffer = buffer[offset + length:]
    return frames


def masked_text(text):
    payload = text.encode()
    assert len(payload) < 126
    mask = b"\x11\x22\x33\x44"
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
