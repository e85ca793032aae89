"""The WebSocket wire format, as far as the raw transport writes it: the handshake's 101
answer, unmasked server frames, and the close codes it uses."""
import base64
import hashlib
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
NORMAL, GOING_AWAY, POLICY, TOO_BIG, SERVER_ERROR = 1000, 1001, 1008, 1009, 1011
UNAUTHORIZED, FORBIDDEN, TOO_MANY = 4401, 4403, 4429


def encode_frame(payload, opcode=TEXT):
    """One unmasked server frame (the same bytes for every connection: no extensions)."""
    if isinstance(payload, str):
        payload = payload.encode()
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def close_frame(code, reason=""):
    return encode_frame(struct.pack("!H", code) + reason.encode()[:120], CLOSE)


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def handshake_response(environ):
    """The 101 answer to a WebSocket upgrade request, or None if it is not one."""
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
    upgrade = environ.get("HTTP_UPGRADE", "").lower()
    if upgrade != "websocket" or environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13" or len(key) != 24:
        return None
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode()
