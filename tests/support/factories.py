"""Data builders for tests: they go through the services, as the API does."""
from flask_jwt_extended import create_access_token, create_refresh_token

from app.services import users


class UserFactory:
    """``UserFactory(app)(email, ...)`` -> a User with ``.token``, ``.refresh``, ``.headers`` and ``.password``."""

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
