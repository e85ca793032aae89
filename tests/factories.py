"""Data builders for tests: they go through the services, as the API does."""
import io
from pathlib import Path

from flask_jwt_extended import create_access_token, create_refresh_token
from PIL import Image

from app.services import users


class UserFactory:
    def __init__(self, app):
        self.app = app

    def __call__(self, email, password="correct-horse", display_name=None, admin=False):
        with self.app.app_context():
            user = users.create_user(email=email, password=password,
                                     display_name=display_name or email.split("@")[0], is_admin=admin)
            user.token = create_access_token(identity=user.id)
            user.refresh = create_refresh_token(identity=user.id)
            user.headers = {"Authorization": f"Bearer {user.token}"}
            user.password = password
            return user


def image_bytes(fmt="JPEG", size=(64, 48), color=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


DATA = Path(__file__).parent / "data"
# Real, tiny media made with ffmpeg (0.2 s each): tools that parse them accept them.
MP4_BYTES = (DATA / "tiny.mp4").read_bytes()
MP3_BYTES = (DATA / "tiny.mp3").read_bytes()
# A valid 8-sample PCM WAV.
WAV_BYTES = (b"RIFF" + (36 + 8).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
             + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
             + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
             + b"data" + (8).to_bytes(4, "little") + b"\x80" * 8)
# Only an ftyp box: sniffed as MP4, but no movie inside.
MP4_HEADER_ONLY = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" + b"\x00" * 64)


def upload(data, name="file.bin"):
    return (io.BytesIO(data), name)
