"""Module-scoped real servers for the real-time tests, shared by their test modules."""
import itertools

import pytest
import requests

from tests.live import LiveServer, base_env, register
from tests.realtime_clients import RawClient, SioClient
from tests.services import create_database, create_schema, drop_database

_emails = itertools.count()


def make_database(kind, directory):
    return create_schema(f"sqlite:///{directory / 'rt.sqlite3'}" if kind == "sqlite" else create_database())


class Deployment:
    """One or more web processes on one database (and one Redis channel in Redis mode)."""

    def __init__(self, mode, directory, redis_slot=None, processes=1, **extra_env):
        self.mode = mode
        self.directory = directory
        self.database_url = make_database("sqlite" if mode == "embedded" else "postgres", directory)
        redis_url = redis_slot.url if redis_slot else None
        channel = redis_slot.channel if redis_slot else None
        self.env = base_env(self.database_url, directory / "media", redis_url, channel, **extra_env)
        self.servers = []
        self.clients = []
        for index in range(processes):
            self.servers.append(LiveServer(self.env, directory / f"web-{index}.log"))
        self.server = self.servers[0]

    def user(self, name=None):
        """A new account: ``(user_dict, token)``."""
        name = name or f"user{next(_emails)}"
        return register(self.server.url, f"{name}-{next(_emails)}@example.com", display_name=name)

    def raw(self, token, server=None, **kwargs):
        client = RawClient(server or self.server, token, **kwargs)
        self.clients.append(client)
        return client

    def sio(self, token, server=None):
        client = SioClient(server or self.server, token)
        self.clients.append(client)
        return client

    def api(self, method, path, token, server=None, **kwargs):
        response = requests.request(method, f"{(server or self.server).url}{path}",
                                    headers={"Authorization": f"Bearer {token}"}, timeout=15, **kwargs)
        return response

    def close_clients(self):
        for client in self.clients:
            client.close()
        self.clients.clear()

    def stop(self):
        self.close_clients()
        for server in self.servers:
            server.stop()
        if self.mode != "embedded":
            drop_database(self.database_url)


@pytest.fixture(scope="module",
                params=["embedded", pytest.param("redis", marks=[pytest.mark.redis, pytest.mark.postgres])])
def deployment(request, tmp_path_factory):
    """One web process, embedded (SQLite, no Redis) and on Redis and PostgreSQL; a module
    that imports this fixture gets its own pair."""
    slot = request.getfixturevalue("redis_slot") if request.param == "redis" else None
    deployment = Deployment(request.param, tmp_path_factory.mktemp(f"rt-{request.param}"), slot)
    yield deployment
    deployment.stop()


@pytest.fixture(autouse=True)
def close_clients(deployment):
    """Each test's clients are closed after it."""
    yield
    deployment.close_clients()
