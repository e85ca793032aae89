"""Live deployments for tests: web processes and Celery workers on one new database (and one
Redis), with the clients tests open on them; ``Stacks`` is what the ``stack`` fixtures hand out."""
import itertools

import requests

from tests.support.clients import RawClient, SioClient, bearer, register
from tests.support.databases import create_database, drop_database
from tests.support.processes import CeleryWorker, WebServer, base_env

_names = itertools.count()


class Stack:
    """``web`` web processes and ``workers`` Celery workers, started in that order, on a new
    ``database`` ("sqlite" or "postgres"), and on ``redis_slot`` when one is given."""

    def __init__(self, directory, web=1, workers=0, database="sqlite", redis_slot=None, **env):
        if workers and not redis_slot:
            raise ValueError("a Celery worker needs Redis (redis=True) for its broker")
        self.database_url = create_database(database, directory)
        self.env = base_env(self.database_url, directory / "media", redis_slot and redis_slot.url,
                            redis_slot and redis_slot.channel, **env)
        self.clients = []
        self.servers, self.workers = [], []
        try:
            for index in range(web):
                self.servers.append(WebServer(self.env, directory / f"web-{index}.log"))
            for index in range(workers):
                self.workers.append(CeleryWorker(self.env, directory / f"worker-{index}.log"))
        except BaseException:
            self.stop()
            raise
        self.server = self.servers[0] if self.servers else None
        self.worker = self.workers[0] if self.workers else None

    def user(self, name=None):
        """A new account: ``(user_dict, token)``."""
        name = name or f"user{next(_names)}"
        return register(self.server.url, f"{name}-{next(_names)}@example.com", display_name=name)

    def api(self, method, path, token, server=None, **kwargs):
        return requests.request(method, f"{(server or self.server).url}{path}", headers=bearer(token),
                                timeout=15, **kwargs)

    def new_post(self, token, **fields):
        """A new post (``title`` and ``content`` filled in unless given), as the API answered it."""
        fields.setdefault("title", "A post")
        fields.setdefault("content", "Some content")
        response = self.api("POST", "/ventroom/posts/", token, json=fields)
        assert response.status_code == 201, response.text
        return response.json()

    def raw(self, token, server=None, **kwargs):
        """A raw ``/ws/`` client, closed with the others by ``close_clients``."""
        client = RawClient(server or self.server, token, **kwargs)
        self.clients.append(client)
        return client

    def sio(self, token, server=None, last_event_id=None):
        """A Socket.IO client (resuming from ``last_event_id`` at connect when given), closed with
        the others by ``close_clients``."""
        client = SioClient(server or self.server, token, last_event_id)
        self.clients.append(client)
        return client

    def close_clients(self):
        for client in self.clients:
            client.close()
        self.clients.clear()

    def stop(self):
        self.close_clients()
        for process in self.workers + self.servers:
            process.stop()
        drop_database(self.database_url)


class Stacks:
    """``stacks(web=1, workers=0, database="sqlite", redis=False, **env)`` -> a running Stack.

    ``redis=True`` puts it on this run's Redis slot (``get_redis_slot()``). With ``shared``,
    a call with the same arguments as an earlier one returns the stack that call started.
    ``stop()`` stops every stack started."""

    def __init__(self, directory, get_redis_slot, shared=False):
        self.directory = directory
        self.get_redis_slot = get_redis_slot
        self.shared = shared
        self.stacks, self.by_arguments = [], {}

    def __call__(self, web=1, workers=0, database="sqlite", redis=False, **env):
        arguments = (web, workers, database, redis, tuple(sorted((name, str(value)) for name, value in env.items())))
        if self.shared and arguments in self.by_arguments:
            return self.by_arguments[arguments]
        directory = self.directory / f"stack-{len(self.stacks)}"
        directory.mkdir()
        stack = Stack(directory, web, workers, database, self.get_redis_slot() if redis else None, **env)
        self.stacks.append(stack)
        self.by_arguments[arguments] = stack
        return stack

    def stop(self):
        for stack in self.stacks:
            stack.stop()
