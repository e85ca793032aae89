"""Two web processes on one Redis: a block made on one filters the other's open
connection, a hidden post vanishes from a client on the other process (its delete event)
and from every list, and a suspension closes the user's sockets on both within a second
and makes their tokens fail on REST and sockets."""
import time

import pytest
import socketio
from sqlalchemy import create_engine, text

from tests.support.safety import joined, person


def make_admin(cluster, user):
    engine = create_engine(cluster.database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE users SET is_admin = true WHERE id = :id"), {"id": user.id})
    engine.dispose()


@pytest.fixture(scope="module")
def cluster(module_stack):
    return module_stack(web=2, database="postgres", redis=True)


@pytest.mark.redis
@pytest.mark.postgres
def test_across_processes_blocks_hiding_and_suspension(cluster):
    web1, web2 = cluster.servers
    alice, bob, moderator = (person(cluster, name) for name in ("alicecl", "bobcl", "modcl"))
    make_admin(cluster, moderator)
    watcher = joined(cluster.raw(alice.token, server=web2))
    assert cluster.api("POST", f"/users/{bob.id}/block", alice.token, server=web1).status_code == 204
    cluster.api("POST", "/ventroom/posts/", bob.token, server=web1, json={"title": "hidden", "content": "c"})
    post = cluster.api("POST", "/ventroom/posts/", moderator.token, server=web1,
                       json={"title": "to hide", "content": "c"}).json()
    assert watcher.expect("new_ventroom_post")["data"]["id"] == post["id"]
    watcher.request("join_ventroom_post", {"post_id": post["id"]}, reply="ventroom_post_joined")

    assert cluster.api("POST", f"/moderation/posts/{post['id']}/hide", moderator.token, server=web1).status_code \
        == 200
    assert watcher.expect("ventroom_post_deleted")["data"] == {"post_id": post["id"]}
    for server in (web1, web2):
        listed = cluster.api("GET", "/ventroom/posts/", alice.token, server=server).json()
        assert listed["count"] == 0, listed
        assert cluster.api("GET", f"/ventroom/posts/{post['id']}/", alice.token, server=server).status_code == 404

    sockets = [cluster.raw(alice.token, server=web1), cluster.raw(alice.token, server=web2),
               cluster.sio(alice.token, server=web1), cluster.sio(alice.token, server=web2)]
    started = time.monotonic()
    assert cluster.api("POST", f"/moderation/users/{alice.id}/suspend", moderator.token, server=web1,
                       json={"reason": "test"}).status_code == 200
    assert [client.wait_closed(timeout=1) for client in (watcher, *sockets[:2])] == [4403, 4403, 4403]
    while any(client.sio.connected for client in sockets[2:]) and time.monotonic() - started < 1:
        time.sleep(0.02)
    assert not any(client.sio.connected for client in sockets[2:])
    assert time.monotonic() - started < 1.5  # the REST call included
    for server in (web1, web2):
        assert cluster.api("GET", "/auth/me", alice.token, server=server).status_code == 401
        assert cluster.raw(alice.token, server=server).wait_closed() == 4401
        with pytest.raises(socketio.exceptions.ConnectionError):
            cluster.sio(alice.token, server=server)

