"""Celery tasks: thin wrappers over services, registered when the worker imports this package."""
from app.tasks import push  # noqa: F401
from app.tasks import media  # noqa: F401
