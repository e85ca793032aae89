"""The per-user feed cache: hits, never stale after an acknowledged write, cheap invalidation."""
import pytest
import redis

from app.extensions import cache
from app.extensions import db as _db
from app.services import feed
from tests.support.databases import SQLITE_ONLY, make_app


def feed_page(client, user, **params):
    response = client.get("/ventroom/posts/", headers=user.headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def post(client, user, title="hello", content="body"):
    response = client.post("/ventroom/posts/", headers=user.headers, json={"title": title, "content": content})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def feed_queries(counter):
    return [s for s in counter.statements if "FROM posts" in s or "FROM reactions" in s]


def test_second_read_is_a_hit(client, alice, count_queries):
    post(client, alice)
    count_queries.reset()
    first = feed_page(client, alice)
    assert feed_queries(count_queries)  # built from the database
    count_queries.reset()
    assert feed_page(client, alice) == first
    assert feed_queries(count_queries) == []  # served from the cache


@SQLITE_ONLY
def test_after_a_write_the_page_is_built_once_for_everybody(client, alice, bob, make_user, count_queries):
    carol = make_user("carol@example.com")
    created = post(client, alice)
    client.post("/ventroom/reactions/", headers=carol.headers, json={
        "content_type": "ventpost", "object_id": created["id"], "reaction_type": "😢"})
    count_queries.reset()
    assert feed_page(client, alice)["results"][0]["user_reaction"] is None  # builds the shared page
    assert any("FROM posts" in s for s in count_queries.statements)
    for user, expected in ((bob, None), (carol, "😢")):
        count_queries.reset()
        page = feed_page(client, user)
        assert page["results"][0]["user_reaction"] == expected
        assert page["results"][0]["reaction_summary"] == [{"reaction_type": "😢", "count": 1}]
        # From the shared page plus the reader's own reactions: one query, no page query.
        assert feed_queries(count_queries) == [s for s in count_queries.statements if "FROM reactions" in s]
        assert len(feed_queries(count_queries)) == 1


@SQLITE_ONLY
def test_pages_and_page_sizes_are_cached_apart(client, alice, count_queries):
    for index in range(3):
        post(client, alice, title=f"p{index}")
    one = feed_page(client, alice, page_size=2)
    two = feed_page(client, alice, page=2, page_size=2)
    assert [p["title"] for p in one["results"]] == ["p2", "p1"]
    assert [p["title"] for p in two["results"]] == ["p0"]
    assert feed_page(client, alice)["count"] == 3
    count_queries.reset()
    assert feed_page(client, alice, page=2, page_size=2) == two
    assert feed_queries(count_queries) == []


@SQLITE_ONLY
def test_each_user_has_their_own_pages(client, alice, bob):
    created = post(client, alice)
    assert client.post("/ventroom/reactions/", headers=bob.headers, json={
        "content_type": "ventpost", "object_id": created["id"], "reaction_type": "👍"}).status_code == 201
    assert feed_page(client, bob)["results"][0]["user_reaction"] == "👍"
    assert feed_page(client, alice)["results"][0]["user_reaction"] is None
    assert feed_page(client, bob)["results"][0]["user_reaction"] == "👍"


def test_fresh_after_every_kind_of_write(client, alice, bob):
    """Alice's cached feed reflects each write as soon as it is acknowledged, hers or Bob's."""
    def top():
        return feed_page(client, alice)["results"][0]

    created = post(client, bob, title="first")
    assert top()["title"] == "first"

    post(client, bob, title="second")  # another user's create
    assert top()["title"] == "second"
    second_id = top()["id"]

    assert client.patch(f"/ventroom/posts/{second_id}/", headers=bob.headers,
                        json={"title": "edited"}).status_code == 200
    assert top()["title"] == "edited"

    response = client.post(f"/ventroom/posts/{second_id}/comments/", headers=alice.headers, json={"text": "hi"})
    assert response.status_code == 201
    comment_id = response.get_json()["id"]
    assert top()["total_comment"] == 1

    assert client.post("/ventroom/reactions/", headers=bob.headers, json={
        "content_type": "ventpost", "object_id": second_id, "reaction_type": "❤️"}).status_code == 201
    assert top()["reaction_summary"] == [{"reaction_type": "❤️", "count": 1}]
    assert client.post("/ventroom/reactions/", headers=alice.headers, json={
        "content_type": "ventpost", "object_id": second_id, "reaction_type": "😂"}).status_code == 201
    assert top()["user_reaction"] == "😂"
    assert client.delete("/ventroom/reactions/", headers=alice.headers, query_string={
        "content_type": "ventpost", "object_id": second_id}).status_code == 204
    assert top()["user_reaction"] is None
    assert top()["reaction_summary"] == [{"reaction_type": "❤️", "count": 1}]

    assert client.delete(f"/ventroom/posts/{second_id}/comments/{comment_id}/",
                         headers=alice.headers).status_code == 204
    assert top()["total_comment"] == 0

    assert client.delete(f"/ventroom/posts/{second_id}/", headers=bob.headers).status_code == 204
    page = feed_page(client, alice)
    assert page["count"] == 1 and page["results"][0]["id"] == created["id"]


@SQLITE_ONLY
def test_views_may_lag_until_the_next_write(client, alice, bob):
    created = post(client, alice)
    assert feed_page(client, bob)["results"][0]["views"] == 0
    assert client.get(f"/ventroom/posts/{created['id']}/", headers=bob.headers).get_json()["views"] == 1
    assert feed_page(client, bob)["results"][0]["views"] == 0  # a view is not a write: cached page
    post(client, alice, title="another")
    assert feed_page(client, bob)["results"][1]["views"] == 1


@SQLITE_ONLY
def test_a_lost_version_key_never_brings_back_an_old_page(app, client, alice):
    post(client, alice, title="before")
    assert feed_page(client, alice)["count"] == 1  # cached under the first version
    post(client, alice, title="after")
    assert feed_page(client, alice)["count"] == 2  # cached under the second version
    with app.app_context():
        cache.delete(feed.VERSION_KEY)  # evicted, or Redis restarted with the pages still there
    page = feed_page(client, alice)
    assert page["count"] == 2 and page["results"][0]["title"] == "after"
    post(client, alice, title="third")  # a counter would be back at an old number here
    page = feed_page(client, alice)
    assert page["count"] == 3 and page["results"][0]["title"] == "third"


@SQLITE_ONLY
def test_invalidation_is_one_write_whatever_the_number_of_users(app, client, make_user, monkeypatch):
    users = [make_user(f"u{index}@example.com") for index in range(5)]
    for user in users:
        feed_page(client, user)
    calls = []
    backend = cache.cache
    for name in ("set", "delete", "delete_many", "inc", "clear"):
        original = getattr(backend, name)
        monkeypatch.setattr(backend, name, lambda *a, _n=name, _o=original, **k: (calls.append(_n), _o(*a, **k))[1])
    with app.app_context():
        feed.invalidate()
    assert calls == ["set"]


@SQLITE_ONLY
def test_a_cache_outage_serves_the_feed_uncached(client, alice, monkeypatch):
    post(client, alice)

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("cache is down")

    monkeypatch.setattr(cache.cache, "get", down)
    assert feed_page(client, alice)["count"] == 1


def redis_app(database_url, tmp_path, redis_slot, index):
    return make_app(database_url, tmp_path, REDIS_URL=redis_slot.url, SOCKETIO_CHANNEL=redis_slot.channel,
                    MEDIA_ROOT=str(tmp_path / f"media{index}"))


@pytest.mark.redis
@SQLITE_ONLY
def test_redis_cache_is_shared_by_processes_and_expires(app, alice, bob, redis_slot, database_url, tmp_path):
    """Two apps (as two web processes) on one Redis: a write through one is seen through the other."""
    first = redis_app(database_url, tmp_path, redis_slot, 1)
    second = redis_app(database_url, tmp_path, redis_slot, 2)
    store = redis.Redis.from_url(redis_slot.url)
    store.flushdb()
    one, two = first.test_client(), second.test_client()

    post(one, alice, title="a")
    assert feed_page(one, bob)["count"] == 1
    assert feed_page(two, bob)["count"] == 1  # same host, same version: the page cached by the first
    post(two, alice, title="b")  # written through the other process
    assert feed_page(one, bob)["results"][0]["title"] == "b"

    version_key = b"ventroom:" + feed.VERSION_KEY.encode()
    pages = [key for key in store.scan_iter(b"ventroom:ventroom_feed_*") if key != version_key]
    assert pages and all(0 < store.ttl(key) <= 300 for key in pages)
    assert store.ttl(version_key) == -1  # the version never expires
    for application in (first, second):
        with application.app_context():
            _db.engine.dispose()
