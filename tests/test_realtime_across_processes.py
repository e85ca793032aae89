"""Events cross web processes through Redis: what one process emits reaches clients on every process."""
import pytest


@pytest.fixture
def cluster(stack):
    return stack(web=2, database="postgres", redis=True)


@pytest.mark.redis
@pytest.mark.postgres
def test_an_event_from_one_process_reaches_clients_on_both(cluster):
    web1, web2 = cluster.servers
    author, author_token = cluster.user("author")
    _, reader_token = cluster.user("reader")
    raw_on_2 = cluster.raw(reader_token, server=web2)
    raw_on_2.request("join_ventroom", reply="ventroom_joined")
    sio_on_1 = cluster.sio(reader_token, server=web1)
    sio_on_1.request("join_ventroom", reply="ventroom_joined")
    author_raw_on_2 = cluster.raw(author_token, server=web2)  # user_{author} lives on process 2

    post = cluster.api("POST", "/ventroom/posts/", author_token, server=web1,
                       json={"title": "Across", "content": "processes"}).json()
    events = [raw_on_2.expect("new_ventroom_post"), sio_on_1.expect("new_ventroom_post"),
              author_raw_on_2.expect("new_ventroom_post")]
    assert all(e["data"]["id"] == post["id"] for e in events)
    assert len({e["event_id"] for e in events}) == 1

    # And the other way round, to a post group joined on process 2.
    raw_on_2.request("join_ventroom_post", {"post_id": post["id"]}, reply="ventroom_post_joined")
    sio_on_1.request("join_ventroom_post", {"post_id": post["id"]}, reply="ventroom_post_joined")
    cluster.api("PATCH", f"/ventroom/posts/{post['id']}/", author_token, server=web2, json={"title": "Edited"})
    updates = [raw_on_2.expect("ventroom_post_updated"), sio_on_1.expect("ventroom_post_updated")]
    assert {u["event_id"] for u in updates} == {updates[0]["event_id"]}
    for client in (raw_on_2, sio_on_1, author_raw_on_2):
        client.assert_silent()
