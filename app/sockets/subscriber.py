"""What the hub knows of one connection, whichever its transport."""


class Subscriber:
    """What the hub knows of one connection; transports subclass it."""

    __slots__ = ("__weakref__", "buffers", "checked_posts", "closed", "floors", "groups", "hidden", "user_id")
    kind = None

    def __init__(self, user_id, hidden=frozenset()):
        self.user_id = user_id
        self.hidden = hidden  # user ids whose content this subscriber does not see
        self.groups = set()
        self.buffers = None  # group -> [Event] while that group is being resumed
        self.floors = None  # group -> (ms, seq): a finished replay covered it up to there
        self.checked_posts = set()  # post ids this connection joined before (no second query)
        self.closed = False

    def hides(self, event):
        return bool(self.hidden) and not self.hidden.isdisjoint(event.users)

    def send_frame(self, frame, wire=None):
        """Send one serialized envelope (``wire``: the same, framed for raw sockets)."""
        raise NotImplementedError

    def close(self, code, reason):
        raise NotImplementedError
