"""Wrappers around libraries (Pillow, PyAV, the file system, push services): they take
paths, bytes or payloads and return results; they never touch the database, Flask or
the request, so each is unit-tested alone."""


class Rejected(Exception):
    """The file cannot be made safe to publish."""
