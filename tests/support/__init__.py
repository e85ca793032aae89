"""Everything the tests use besides pytest fixtures (those are in ``tests/conftest.py``).

services   where PostgreSQL and Redis are, whether they (and Chromium) answer; a Redis slot
databases  create and drop a database (SQLite or PostgreSQL), an app on it, statement counts
processes  the web server and the Celery worker as the Procfile runs them
stack      web processes and workers on one database (and Redis): what ``stack(...)`` starts
clients    REST helpers, raw ``/ws/`` and Socket.IO clients
wire       WebSocket by hand on a bare socket, for clients that misbehave on purpose
push       a fake push service, a browser subscription, VAPID keys
media      images, audio and video to upload
factories  users made through the services
"""
