"""Files under one root directory: uploads received into quarantine, published files
written atomically under new random names, paths that cannot escape the root.

Nothing under a dotted directory (``.quarantine/``) is ever public: an upload waits
there, unserved, until it has been cleaned and written out under a name that never
named anything else.
"""
import os
import secrets
import tempfile
from datetime import UTC, datetime

import filetype

CHUNK = 64 * 1024
QUARANTINE = ".quarantine"


class TooLarge(Exception):
    """The stream is longer than the limit it was received with."""

    def __init__(self, limit):
        super().__init__(f"over {limit} bytes")
        self.limit = limit


class Storage:
    def __init__(self, root):
        self.root = os.path.realpath(root)

    def path(self, relative):
        """The absolute path of ``relative``; ValueError if it would leave the root."""
        full = os.path.realpath(os.path.join(self.root, relative))
        if not full.startswith(self.root + os.sep):
            raise ValueError("path escapes the storage root")
        return full

    def public_path(self, relative):
        """The absolute path of a file clients may fetch, or None: nothing outside the
        root, nothing under a dotted name (the quarantine included), files only."""
        if any(part.startswith(".") or not part for part in relative.split("/")):
            return None
        try:
            full = self.path(relative)
        except ValueError:
            return None
        return full if os.path.isfile(full) else None

    def receive(self, stream, limit):
        """Copy ``stream`` into the quarantine, at most ``limit`` bytes (else TooLarge);
        returns ``(relative_path, size)``."""
        folder = self.path(QUARANTINE)
        os.makedirs(folder, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            size = 0
            with os.fdopen(fd, "wb") as target:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(limit)
                    target.write(chunk)
            relative = f"{QUARANTINE}/{secrets.token_hex(16)}"
            os.replace(temp, self.path(relative))
            return relative, size
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def sniff(self, relative):
        """``(mime, extension)`` of a stored file by its bytes, or None when unknown."""
        guess = filetype.guess(self.path(relative))
        return (guess.mime, guess.extension) if guess else None

    @staticmethod
    def new_name(folder, extension):
        """A path that never named anything: ``folder/yyyy/mm/<128 random bits>.ext``."""
        now = datetime.now(UTC)
        return f"{folder}/{now:%Y}/{now:%m}/{secrets.token_hex(16)}.{extension}"

    def write(self, relative, data):
        """Write ``data`` (bytes) through a temporary file, then rename it into place."""
        temp = self.temporary("tmp")
        try:
            with open(temp, "wb") as out:
                out.write(data)
            self.publish(temp, relative)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def temporary(self, extension):
        """A new empty file's absolute path in the quarantine, for a tool to write into
        before ``publish`` moves it into place."""
        folder = self.path(QUARANTINE)
        os.makedirs(folder, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, suffix=f".{extension}")
        os.close(fd)
        return temp

    def publish(self, temp, relative):
        """Move the finished file at absolute path ``temp`` to ``relative``, atomically."""
        target = self.path(relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.chmod(temp, 0o644)
        os.replace(temp, target)

    def delete(self, *relatives):
        for relative in relatives:
            if not relative:
                continue
            try:
                os.unlink(self.path(relative))
            except (FileNotFoundError, ValueError):
                pass
