"""Parallel writes against a live server process (gunicorn + eventlet) on PostgreSQL.

View counts, reactions (one per user per object) and their counts stay exact, and
``total_comment`` stays equal to the rows, however the requests interleave.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support.clients import bearer, register

pytestmark = pytest.mark.postgres

PARALLEL = 10


def in_parallel(calls):
    """Run the callables at the same moment (a barrier releases them together); their results."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def sql(database_url, statement, **params):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(statement), params).all()
    finally:
        engine.dispose()


@pytest.fixture
def deployed(stack):
    """One web process on a new PostgreSQL database, without Redis."""
    return stack(database="postgres")


@pytest.fixture
def server(deployed):
    return deployed.server


@pytest.fixture
def live_db(deployed):
    return deployed.database_url


def new_post(server, token):
    response = requests.post(f"{server.url}/ventroom/posts/", json={"title": "race", "content": "c"},
                             headers=bearer(token), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def react_call(server, token, object_id, kind, content_type="ventpost"):
    def call():
        return requests.post(f"{server.url}/ventroom/reactions/", headers=bearer(token), timeout=30, json={
            "content_type": content_type, "object_id": object_id, "reaction_type": kind})
    return call


def reaction_rows(live_db, content_type, object_id):
    return sql(live_db, "SELECT user_id, reaction_type FROM reactions WHERE content_type = :ct AND object_id = :id",
               ct=content_type, id=object_id)


def test_parallel_detail_gets_add_exactly_their_views(server):
    _, token = register(server.url, "viewer@example.com")
    headers = bearer(token)
    post = requests.post(f"{server.url}/ventroom/posts/", json={"title": "t", "content": "c"},
                         headers=headers, timeout=10).json()

    def view(_):
        response = requests.get(f"{server.url}/ventroom/posts/{post['id']}/", headers=headers, timeout=30)
        assert response.status_code == 200
        return response.json()["views"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        seen = list(pool.map(view, range(20)))
    assert sorted(seen) == list(range(1, 21))  # every response shows a distinct new count
    final = requests.get(f"{server.url}/ventroom/posts/{post['id']}/", headers=headers, timeout=10).json()
    assert final["views"] == 21


def test_parallel_reactions_by_one_user_leave_one_row(server, live_db):
    _, token = register(server.url, "solo@example.com")
    post_id = new_post(server, token)
    responses = in_parallel([react_call(server, token, post_id, "👍") for _ in range(PARALLEL)])
    assert [r.status_code for r in responses] == [201] * PARALLEL, [r.text for r in responses]
    assert len(reaction_rows(live_db, "ventpost", post_id)) == 1
    detail = requests.get(f"{server.url}/ventroom/posts/{post_id}/", headers=bearer(token), timeout=10).json()
    assert detail["reaction_summary"] == [{"reaction_type": "👍", "count": 1}]
    assert detail["user_reaction"] == "👍"

    # Changing the type in parallel: still one row, of one of the types sent.
    kinds = ["👍", "❤️", "😂", "😢", "like"] * 2
    responses = in_parallel([react_call(server, token, post_id, kind) for kind in kinds])
    assert [r.status_code for r in responses] == [201] * PARALLEL
    (row,) = reaction_rows(live_db, "ventpost", post_id)
    detail = requests.get(f"{server.url}/ventroom/posts/{post_id}/", headers=bearer(token), timeout=10).json()
    assert detail["reaction_summary"] == [{"reaction_type": row.reaction_type, "count": 1}]


def test_parallel_reactions_by_ten_users_count_ten(server, live_db):
    owner, owner_token = register(server.url, "owner@example.com")
    post_id = new_post(server, owner_token)
    comment = requests.post(f"{server.url}/ventroom/posts/{post_id}/comments/", json={"text": "c"},
                            headers=bearer(owner_token), timeout=10).json()
    tokens = [token for _, token in in_parallel(
        [lambda i=i: register(server.url, f"user{i}@example.com") for i in range(PARALLEL)])]

    calls = [react_call(server, token, post_id, "❤️") for token in tokens]
    calls += [react_call(server, token, comment["id"], "😂", "ventcomment") for token in tokens]
    responses = in_parallel(calls)
    assert [r.status_code for r in responses] == [201] * len(calls), [r.text for r in responses]

    assert len(reaction_rows(live_db, "ventpost", post_id)) == PARALLEL
    assert len(reaction_rows(live_db, "ventcomment", comment["id"])) == PARALLEL
    detail = requests.get(f"{server.url}/ventroom/posts/{post_id}/", headers=bearer(owner_token), timeout=10).json()
    assert detail["reaction_summary"] == [{"reaction_type": "❤️", "count": PARALLEL}]
    tree = requests.get(f"{server.url}/ventroom/posts/{post_id}/comments/", headers=bearer(tokens[0]),
                        timeout=10).json()
    assert tree[0]["reaction_summary"] == [{"reaction_type": "😂", "count": PARALLEL}]
    assert tree[0]["user_reaction"] == "😂"


def test_total_comment_survives_racing_creates_and_deletes(server, live_db):
    _, token = register(server.url, "talker@example.com")
    post_id = new_post(server, token)
    base = f"{server.url}/ventroom/posts/{post_id}/comments/"
    doomed = requests.post(base, json={"text": "doomed"}, headers=bearer(token), timeout=10).json()
    requests.post(base, json={"text": "reply", "parent": doomed["id"]}, headers=bearer(token), timeout=10)

    def reply():
        return requests.post(base, json={"text": "racing reply", "parent": doomed["id"]}, headers=bearer(token),
                             timeout=30)

    def top_level():
        return requests.post(base, json={"text": "racing top"}, headers=bearer(token), timeout=30)

    def delete():
        return requests.delete(f"{base}{doomed['id']}/", headers=bearer(token), timeout=30)

    responses = in_parallel([reply] * 6 + [top_level] * 3 + [delete])
    statuses = [r.status_code for r in responses]
    assert statuses[-1] == 204
    assert statuses[6:9] == [201] * 3
    # A reply either landed before the delete (and went with it) or found its parent gone.
    for r in responses[:6]:
        assert r.status_code == 201 or (r.status_code == 400 and list(r.json()) == ["parent"]), r.text

    ((rows,),) = sql(live_db, "SELECT count(*) FROM comments WHERE post_id = :id", id=post_id)
    ((counter,),) = sql(live_db, "SELECT comment_count FROM posts WHERE id = :id", id=post_id)
    assert rows == counter == 3
    detail = requests.get(f"{server.url}/ventroom/posts/{post_id}/", headers=bearer(token), timeout=10).json()
    assert detail["total_comment"] == 3
