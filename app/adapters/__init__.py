"""Adapters: wrappers around libraries (PyAV, Pillow, push providers, storage). They take
paths or bytes and return results; they never touch the database, Flask or the request,
so a service decides what a result means and an adapter can be tested on files alone.
"""


class Rejected(Exception):
    """The file cannot be made safe to publish."""
