"""SQLAlchemy models. Constraints live in the database, not in Python checks."""
from app.models.comments import Comment
from app.models.devices import Device
from app.models.moderation import ModerationAction, Report
from app.models.notifications import Notification, NotificationPreference
from app.models.posts import Post
from app.models.reactions import Reaction
from app.models.relationships import Relationship
from app.models.users import User

__all__ = ["Comment", "Device", "ModerationAction", "Notification", "NotificationPreference", "Post", "Reaction",
           "Relationship", "Report", "User"]
