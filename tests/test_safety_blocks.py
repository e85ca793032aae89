"""Block and mute: the endpoints, no interaction across a block, hidden content left out
of feeds (exact pages, constant statements), comment trees, notifications and events."""
import uuid

import pytest

from app.extensions import db
from app.models.posts import Post
from app.models.users import User
from tests.support import safety as s

LISTS = {"block": "blocked", "mute": "muted"}


@pytest.fixture
def carol(make_user):
    return make_user("carol@example.com", display_name="Carol")


def test_the_endpoints(client, alice, bob, carol):
    for kind in ("block", "mute"):
        for _ in range(2):  # idempotent both ways
            s.relate(client, alice, bob, kind)
        s.relate(client, alice, carol, kind)
        listed = client.get(f"/users/{LISTS[kind]}?page_size=1", headers=alice.headers).json
        assert listed["count"] == 2 and listed["next"] and listed["results"] == [
            {"id": carol.id, "display_name": "Carol", "profile_photo": None}]
        assert client.get(f"/users/{LISTS[kind]}", headers=bob.headers).json["count"] == 0
        for _ in range(2):
            s.relate(client, alice, carol, kind, "delete")
        assert [u["id"] for u in client.get(f"/users/{LISTS[kind]}", headers=alice.headers).json["results"]] == [bob.id]
        own = client.post(f"/users/{alice.id}/{kind}", headers=alice.headers)
        assert own.status_code == 400 and own.json == {"detail": f"You cannot {kind} yourself."}
        for unknown in (str(uuid.uuid4()), "nope"):
            assert client.post(f"/users/{unknown}/{kind}", headers=alice.headers).status_code == 404
    assert client.post(f"/users/{bob.id}/block").status_code == 401


def test_no_interaction_across_a_block_either_way(client, alice, bob, carol):
    alices = s.post(client, alice)
    bobs = s.post(client, bob)
    alices_comment = s.comment(client, alice, bobs["id"])
    carols_post = s.post(client, carol)
    alice_on_carol = s.comment(client, alice, carols_post["id"])
    s.relate(client, alice, bob, "block")
    refused = {"detail": "You cannot interact with this user."}
    for actor, target_post in ((bob, alices), (alice, bobs)):
        response = client.post(f"/ventroom/posts/{target_post['id']}/comments/", json={"text": "x"},
                               headers=actor.headers)
        assert (response.status_code, response.json) == (403, refused)
        response = s.react(client, actor, "ventpost", target_post["id"])
        assert (response.status_code, response.json) == (403, refused)
    response = client.post(f"/ventroom/posts/{carols_post['id']}/comments/", headers=bob.headers,
                           json={"text": "x", "parent": alice_on_carol["id"]})
    assert (response.status_code, response.json) == (403, refused)  # replying to her comment
    assert s.react(client, bob, "ventcomment", alices_comment["id"]).status_code == 403
    s.comment(client, bob, carols_post["id"])  # carol's post is not alice's
    s.relate(client, alice, bob, "block", "delete")
    s.comment(client, bob, alices["id"])


def _seed(app, authors, per_author):
    with app.app_context():
        for index in range(per_author):
            for author in authors:
                db.session.add(Post(user_id=author.id, title=f"{author.display_name} {index}", content="c"))
        db.session.commit()


def _all_pages(client, user, page_size):
    first = s.feed(client, user, page_size=page_size)
    pages, page = [first], 1
    while pages[-1]["next"]:
        page += 1
        pages.append(s.feed(client, user, page_size=page_size, page=page))
    return first["count"], pages


def test_feed_pages_stay_exact_under_blocks_and_mutes(app, client, alice, bob, carol, make_user):
    dave = make_user("dave@example.com", display_name="Dave")
    _seed(app, [alice, bob, carol, dave], 9)
    s.relate(client, alice, bob, "block")
    s.relate(client, alice, carol, "mute")
    count, pages = _all_pages(client, alice, 4)
    assert count == 18 and [len(p["results"]) for p in pages] == [4, 4, 4, 4, 2]  # never a short page
    authors = {item["user"]["id"] for page in pages for item in page["results"]}
    assert authors == {alice.id, dave.id}
    ids = [item["id"] for page in pages for item in page["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 18
    count, pages = _all_pages(client, bob, 5)  # the block hides alice from bob too; carol's mute is alice's own
    assert count == 27 and {i["user"]["id"] for p in pages for i in p["results"]} == {bob.id, carol.id, dave.id}
    assert client.get("/ventroom/posts/?page=7&page_size=5", headers=bob.headers).status_code == 404
    assert s.feed(client, carol)["count"] == 36


def test_a_block_leaves_no_stale_cached_page(app, client, alice, bob):
    bobs = s.post(client, bob)
    assert [i["id"] for i in s.feed(client, alice)["results"]] == [bobs["id"]]  # cached now
    s.relate(client, alice, bob, "block")
    assert s.feed(client, alice) == {"count": 0, "next": None, "previous": None, "results": []}
    assert s.feed(client, bob)["count"] == 1
    s.relate(client, alice, bob, "block", "delete")
    assert [i["id"] for i in s.feed(client, alice)["results"]] == [bobs["id"]]
    with app.app_context():
        assert db.session.get(User, alice.id).filter_token is None  # back on the shared page
    s.relate(client, alice, bob, "mute")
    assert s.feed(client, alice)["count"] == 0


def test_statements_per_feed_page_are_constant_with_blocks_and_mutes(app, client, alice, bob, carol, make_user,
                                                                     count_queries):
    people = [make_user(f"p{i}@example.com") for i in range(4)]
    _seed(app, [alice, bob, carol, *people], 10)
    s.relate(client, alice, bob, "block")
    s.relate(client, carol, alice, "block")
    s.relate(client, alice, people[0], "mute")
    counts = {}
    for size in (5, 40):
        response, counts[size] = count_queries.uncached_feed_page(app, client, alice.headers, size)
        results = response.json["results"]
        assert len(results) == size and response.json["count"] == 40
        assert not {bob.id, carol.id, people[0].id} & {item["user"]["id"] for item in results}
    assert counts[5] == counts[40] <= 5, counts  # the user, the count, the page, summaries, mine


def test_a_hidden_comment_takes_its_whole_subtree(client, alice, bob, carol, make_user, count_queries):
    dave = make_user("dave@example.com", display_name="Dave")
    post_id = s.post(client, dave)["id"]
    bobs = s.comment(client, bob, post_id, "bob's")
    carols_reply = s.comment(client, carol, post_id, "carol under bob", parent=bobs["id"])
    s.comment(client, dave, post_id, "dave under carol", parent=carols_reply["id"])
    anonymous = s.comment(client, bob, post_id, "bob, anonymously", anonymous=True)
    s.comment(client, carol, post_id, "carol's own")
    url = f"/ventroom/posts/{post_id}/comments/"
    s.relate(client, alice, bob, "block")
    count_queries.reset()
    tree = client.get(url, headers=alice.headers).json
    assert count_queries.count <= 5
    assert [(c["text"], len(c["replies"])) for c in tree] == [("carol's own", 0), ("bob, anonymously", 0)]
    assert anonymous["id"] in {c["id"] for c in tree}  # anonymity wins
    page = client.get(url + "?page_size=1", headers=alice.headers).json
    assert page["count"] == 2 and page["next"]
    assert len(client.get(url, headers=dave.headers).json) == 3
    s.relate(client, alice, carol, "mute")
    assert [c["text"] for c in client.get(url, headers=alice.headers).json] == ["bob, anonymously"]
    assert client.get(url + f"{carols_reply['id']}/", headers=alice.headers).status_code == 404  # under bob's
    assert client.get(url + f"{bobs['id']}/", headers=carol.headers).json["replies"][0]["id"] == carols_reply["id"]


def test_no_notification_or_personal_event_across_a_block_or_from_a_muted_user(app, client, alice, bob, carol):
    alices = s.post(client, alice)
    s.comment(client, bob, alices["id"], "before")
    assert client.get("/notifications/", headers=alice.headers).json["count"] == 1
    live = s.sio(app, alice)
    s.relate(client, alice, bob, "mute")
    assert client.get("/notifications/", headers=alice.headers).json["count"] == 0  # and the old one goes
    s.comment(client, bob, alices["id"], "muted")
    assert s.react(client, bob, "ventpost", alices["id"]).status_code == 201
    s.comment(client, bob, alices["id"], "anonymous, still muted", anonymous=True)
    s.comment(client, carol, alices["id"], "carol")
    assert s.names(s.received(live)) == ["new_comment_on_user_post"]  # carol's only
    body = client.get("/notifications/", headers=alice.headers).json
    assert [n["message"] for n in body["results"]] == ["Carol commented on your post."] and body["unread_count"] == 1
    s.relate(client, alice, bob, "mute", "delete")
    s.relate(client, bob, alice, "block")  # bob blocks alice: she hears nothing from him either
    carols = s.post(client, carol)
    alice_on_carol = s.comment(client, alice, carols["id"], anonymous=True)  # so bob may answer it
    s.comment(client, bob, carols["id"], "reply", parent=alice_on_carol["id"])
    assert [n["message"] for n in client.get("/notifications/", headers=alice.headers).json["results"]] == [
        "Carol commented on your post."]
    live.disconnect()


def test_a_block_filters_an_open_connections_very_next_event(app, client, alice, bob, carol):
    live = s.sio(app, alice)
    live.emit("join_ventroom")
    s.received(live)
    s.post(client, bob, title="before")
    assert s.names(s.received(live)) == ["new_ventroom_post"]
    s.relate(client, alice, bob, "block")
    s.post(client, bob, title="hidden")
    s.post(client, carol, title="visible")
    assert [(n, e["data"]["title"]) for n, e in s.received(live)] == [("new_ventroom_post", "visible")]
    bobs_live = s.sio(app, bob)  # and the other way round, from his next connection on
    bobs_live.emit("join_ventroom")
    s.received(bobs_live)
    s.post(client, alice, title="alice's")
    assert s.received(bobs_live) == []
    s.relate(client, alice, bob, "block", "delete")
    s.post(client, bob, title="again")
    assert [e["data"]["title"] for _, e in s.received(live)] == ["alice's", "again"]
    live.disconnect()
    bobs_live.disconnect()
