"""Reactions: add, change, remove; the documented 400 bodies; summaries and user_reaction
wherever posts and comments appear; feed freshness; statement counts; events."""
import uuid

from flask_jwt_extended import create_access_token
from sqlalchemy import func, select

from app.extensions import db
from app.models import Comment, Post, Reaction, User

REACTIONS = "/ventroom/reactions/"
CONTENT_TYPE_ERROR = ["Invalid content type. Must be 'ventpost' or 'ventcomment'."]
REACTION_TYPE_ERROR = ["Must be one of: 👍, ❤️, 😂, 😢 (or like, love, haha, sad)."]
REQUIRED = ["This field is required."]
MISSING = {"object_id": ["Object does not exist."]}


class Account:
    def __init__(self, user_id, token):
        self.id = user_id
        self.headers = {"Authorization": f"Bearer {token}"}


def accounts(app, n):
    """``n`` users straight into the table (no password hashing), each with a token."""
    with app.app_context():
        made = []
        for _ in range(n):
            user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="!", display_name="someone")
            db.session.add(user)
            db.session.flush()
            made.append((user.id, create_access_token(identity=user.id)))
        db.session.commit()
    return [Account(user_id, token) for user_id, token in made]


def make_post(client, user):
    response = client.post("/ventroom/posts/", json={"title": "A post", "content": "text"}, headers=user.headers)
    assert response.status_code == 201
    assert response.json["reaction_summary"] == [] and response.json["user_reaction"] is None
    return response.json["id"]


def make_comment(client, user, post_id, parent=None):
    response = client.post(f"/ventroom/posts/{post_id}/comments/", json={"text": "c", "parent": parent},
                           headers=user.headers)
    assert response.status_code == 201
    assert response.json["reaction_summary"] == [] and response.json["user_reaction"] is None
    return response.json["id"]


def react(client, user, object_id, kind="👍", content_type="ventpost"):
    return client.post(REACTIONS, json={"content_type": content_type, "object_id": object_id,
                                        "reaction_type": kind}, headers=user.headers)


def unreact(client, user, object_id, content_type="ventpost"):
    return client.delete(f"{REACTIONS}?content_type={content_type}&object_id={object_id}", headers=user.headers)


def rows(app):
    with app.app_context():
        return sorted(db.session.execute(
            select(Reaction.user_id, Reaction.content_type, Reaction.object_id, Reaction.reaction_type)).all())


def summary(*pairs):
    return [{"reaction_type": kind, "count": count} for kind, count in pairs]


def detail(client, user, post_id):
    return client.get(f"/ventroom/posts/{post_id}/", headers=user.headers).json


def in_feed(client, user, post_id):
    results = client.get("/ventroom/posts/", headers=user.headers).json["results"]
    return next(post for post in results if post["id"] == post_id)


def comment_node(client, user, post_id, comment_id):
    def walk(nodes):
        for node in nodes:
            yield node
            yield from walk(node["replies"])
    tree = client.get(f"/ventroom/posts/{post_id}/comments/", headers=user.headers).json
    return next(node for node in walk(tree) if node["id"] == comment_id)


# Add, change, remove

def test_add_reaction(client, app, alice, bob):
    post_id = make_post(client, alice)
    response = react(client, bob, post_id, "👍")
    assert response.status_code == 201
    assert response.json == {"content_type": "ventpost", "object_id": post_id, "reaction_type": "👍",
                             "reaction_summary": summary(("👍", 1))}
    assert rows(app) == [(bob.id, "ventpost", post_id, "👍")]


def test_names_and_spellings_are_stored_as_emoji(client, app, alice):
    post_id = make_post(client, alice)
    for given, stored in (("like", "👍"), ("love", "❤️"), ("haha", "😂"), ("sad", "😢"), ("LOVE", "❤️"),
                          (" Haha ", "😂"), ("\u2764", "❤️"), ("😢", "😢"), ("❤️", "❤️"), ("👍", "👍")):
        response = react(client, alice, post_id, given)
        assert response.status_code == 201, given
        assert response.json["reaction_type"] == stored
        assert rows(app) == [(alice.id, "ventpost", post_id, stored)], given


def test_changing_the_type_replaces_the_reaction(client, app, alice, bob):
    post_id = make_post(client, alice)
    assert react(client, bob, post_id, "👍").status_code == 201
    with app.app_context():
        first_id = db.session.scalar(select(Reaction.id))
    response = react(client, bob, post_id, "😢")
    assert response.status_code == 201 and response.json["reaction_summary"] == summary(("😢", 1))
    assert react(client, bob, post_id, "😢").status_code == 201  # the same again: still one
    assert rows(app) == [(bob.id, "ventpost", post_id, "😢")]
    with app.app_context():
        assert db.session.scalar(select(Reaction.id)) == first_id
    assert detail(client, bob, post_id)["user_reaction"] == "😢"


def test_form_encoded_reaction(client, app, alice):
    post_id = make_post(client, alice)
    response = client.post(REACTIONS, data={"content_type": "ventpost", "object_id": str(post_id),
                                            "reaction_type": "love"},
                           headers=alice.headers, content_type="multipart/form-data")
    assert response.status_code == 201 and response.json["reaction_type"] == "❤️"


def test_remove_reaction(client, app, alice, bob):
    post_id = make_post(client, alice)
    comment_id = make_comment(client, alice, post_id)
    react(client, alice, post_id, "😂")
    react(client, bob, post_id, "👍")
    react(client, bob, comment_id, "❤️", "ventcomment")

    response = unreact(client, bob, post_id)
    assert response.status_code == 204 and response.data == b""
    assert rows(app) == sorted([(alice.id, "ventpost", post_id, "😂"), (bob.id, "ventcomment", comment_id, "❤️")])
    assert unreact(client, bob, post_id).status_code == 204  # none left: still 204
    assert unreact(client, bob, 424242).status_code == 204  # no such object: nothing to remove
    assert unreact(client, bob, comment_id, "ventcomment").status_code == 204
    assert rows(app) == [(alice.id, "ventpost", post_id, "😂")]
    assert detail(client, bob, post_id)["reaction_summary"] == summary(("😂", 1))
    # A body is read too, for clients that send one with DELETE.
    response = client.delete(REACTIONS, json={"content_type": "ventpost", "object_id": post_id}, headers=alice.headers)
    assert response.status_code == 204 and rows(app) == []


# Validation

def test_add_validation(client, app, alice):
    post_id = make_post(client, alice)
    comment_id = make_comment(client, alice, post_id)
    valid = {"content_type": "ventpost", "object_id": post_id, "reaction_type": "👍"}
    cases = [
        ({}, {"content_type": REQUIRED, "object_id": REQUIRED, "reaction_type": REQUIRED}),
        ({**valid, "content_type": ""}, {"content_type": CONTENT_TYPE_ERROR}),
        ({**valid, "content_type": "post"}, {"content_type": CONTENT_TYPE_ERROR}),
        ({**valid, "content_type": "VentPost"}, {"content_type": CONTENT_TYPE_ERROR}),
        ({**valid, "content_type": None}, {"content_type": CONTENT_TYPE_ERROR}),
        ({**valid, "content_type": 1}, {"content_type": CONTENT_TYPE_ERROR}),
        ({**valid, "object_id": "abc"}, {"object_id": ["A valid integer is required."]}),
        ({**valid, "object_id": True}, {"object_id": ["A valid integer is required."]}),
        ({**valid, "object_id": None}, {"object_id": ["This field may not be null."]}),
        ({**valid, "object_id": 424242}, MISSING),
        ({**valid, "object_id": 0}, MISSING),
        ({**valid, "object_id": -1}, MISSING),
        ({**valid, "object_id": 10**30}, MISSING),
        ({**valid, "content_type": "ventcomment", "object_id": comment_id + 1000}, MISSING),
        ({**valid, "reaction_type": "angry"}, {"reaction_type": REACTION_TYPE_ERROR}),
        ({**valid, "reaction_type": "👎"}, {"reaction_type": REACTION_TYPE_ERROR}),
        ({**valid, "reaction_type": ""}, {"reaction_type": REACTION_TYPE_ERROR}),
        ({**valid, "reaction_type": None}, {"reaction_type": REACTION_TYPE_ERROR}),
        ({**valid, "reaction_type": 1}, {"reaction_type": REACTION_TYPE_ERROR}),
        ({"content_type": "ventpost", "object_id": post_id}, {"reaction_type": REQUIRED}),
    ]
    for payload, errors in cases:
        response = client.post(REACTIONS, json=payload, headers=alice.headers)
        assert (response.status_code, response.json) == (400, errors), payload
    assert rows(app) == []


def test_remove_validation(client, alice):
    for query, errors in (("", {"content_type": REQUIRED, "object_id": REQUIRED}),
                          ("?content_type=&object_id=1", {"content_type": CONTENT_TYPE_ERROR}),
                          ("?content_type=comment&object_id=1", {"content_type": CONTENT_TYPE_ERROR}),
                          ("?content_type=ventpost&object_id=x", {"object_id": ["A valid integer is required."]}),
                          ("?content_type=ventpost", {"object_id": REQUIRED})):
        response = client.delete(REACTIONS + query, headers=alice.headers)
        assert (response.status_code, response.json) == (400, errors), query


def test_login_required(client):
    for response in (client.post(REACTIONS, json={}), client.delete(REACTIONS + "?content_type=ventpost&object_id=1")):
        assert response.status_code == 401
        assert response.json == {"detail": "Authentication credentials were not provided."}


def test_deleted_objects_take_no_reactions(client, app, alice):
    post_id = make_post(client, alice)
    comment_id = make_comment(client, alice, post_id)
    assert client.delete(f"/ventroom/posts/{post_id}/comments/{comment_id}/", headers=alice.headers).status_code == 204
    assert react(client, alice, comment_id, content_type="ventcomment").json == MISSING
    assert client.delete(f"/ventroom/posts/{post_id}/", headers=alice.headers).status_code == 204
    response = react(client, alice, post_id)
    assert response.status_code == 400 and response.json == MISSING
    assert rows(app) == []


# Summaries and user_reaction everywhere

def test_summary_order_with_ties(client, app, alice):
    post_id = make_post(client, alice)
    comment_id = make_comment(client, alice, post_id)
    people = accounts(app, 8)
    # Inserted least-favoured first, so neither insertion order nor code-point order passes.
    for person, kind in zip(people, ["😢", "😢", "❤️", "👍", "👍", "😂", "😂", "😂"]):
        assert react(client, person, post_id, kind).status_code == 201
    for person, kind in zip(people, ["😢", "😂", "❤️", "👍"]):
        last = react(client, person, comment_id, kind, "ventcomment")
    post_order = summary(("😂", 3), ("👍", 2), ("😢", 2), ("❤️", 1))
    comment_order = summary(("👍", 1), ("❤️", 1), ("😂", 1), ("😢", 1))
    assert last.json["reaction_summary"] == comment_order
    assert react(client, people[0], post_id, "😢").json["reaction_summary"] == post_order
    assert detail(client, alice, post_id)["reaction_summary"] == post_order
    assert in_feed(client, alice, post_id)["reaction_summary"] == post_order
    assert comment_node(client, alice, post_id, comment_id)["reaction_summary"] == comment_order


def test_user_reaction_is_the_viewers(client, app, alice, bob, admin):
    post_id = make_post(client, alice)
    comment_id = make_comment(client, bob, post_id)
    reply_id = make_comment(client, alice, post_id, parent=comment_id)
    react(client, alice, post_id, "👍")
    react(client, bob, post_id, "❤️")
    react(client, alice, comment_id, "😂", "ventcomment")
    react(client, bob, reply_id, "😢", "ventcomment")
    expected = {alice: ("👍", "😂", None), bob: ("❤️", None, "😢"), admin: (None, None, None)}
    for viewer, (on_post, on_comment, on_reply) in expected.items():
        assert detail(client, viewer, post_id)["user_reaction"] == on_post
        assert in_feed(client, viewer, post_id)["user_reaction"] == on_post
        assert comment_node(client, viewer, post_id, comment_id)["user_reaction"] == on_comment
        assert comment_node(client, viewer, post_id, reply_id)["user_reaction"] == on_reply
    # A comment's reactions are not the post's, even when the ids coincide.
    assert detail(client, admin, post_id)["reaction_summary"] == summary(("👍", 1), ("❤️", 1))


def test_feed_reflects_reactions_at_once(client, app, alice, bob):
    post_id = make_post(client, alice)
    comment_id = make_comment(client, alice, post_id)
    assert in_feed(client, bob, post_id)["reaction_summary"] == []  # now cached for bob
    react(client, alice, post_id, "😂")
    assert in_feed(client, bob, post_id)["reaction_summary"] == summary(("😂", 1))
    react(client, alice, post_id, "😢")
    assert in_feed(client, bob, post_id)["reaction_summary"] == summary(("😢", 1))
    react(client, bob, comment_id, "👍", "ventcomment")
    assert in_feed(client, alice, post_id)["user_reaction"] == "😢"
    unreact(client, alice, post_id)
    assert in_feed(client, bob, post_id)["reaction_summary"] == []
    assert in_feed(client, alice, post_id)["user_reaction"] is None


def test_feed_page_with_reactions_uses_a_fixed_number_of_statements(client, app, alice, count_queries):
    people = accounts(app, 4)
    with app.app_context():
        for i in range(60):
            post = Post(user_id=people[i % 4].id, title=f"p{i}", content="c")
            db.session.add(post)
            db.session.flush()
            db.session.add(Comment(post_id=post.id, user_id=alice.id, text="c"))
            for j, person in enumerate(people[: 1 + i % 4]):
                db.session.add(Reaction(user_id=person.id, content_type="ventpost", object_id=post.id,
                                        reaction_type=("👍", "❤️", "😂", "😢")[(i + j) % 4]))
            db.session.add(Reaction(user_id=alice.id, content_type="ventpost", object_id=post.id, reaction_type="😂"))
        db.session.commit()
    counts = {}
    for size in (5, 50):
        response, counts[size] = count_queries.uncached_feed_page(app, client, alice.headers, size)
        results = response.json["results"]
        assert len(results) == size
        assert all(post["reaction_summary"] and post["user_reaction"] == "😂" for post in results)
    # The user, the count, the page (authors joined), the summaries, the viewer's reactions.
    assert counts[5] == counts[50] <= 5, counts


# Events

def test_events(client, app, alice, bob, events):
    post_id = make_post(client, alice)
    comment_id = make_comment(client, alice, post_id)
    post_group, bob_group, alice_group = f"vent_post_{post_id}", f"user_{bob.id}", f"user_{alice.id}"

    events.clear()
    react(client, bob, post_id, "👍")
    data = {"content_type": "ventpost", "object_id": post_id, "reaction_summary": summary(("👍", 1)),
            "user_reaction": "👍", "user_id": bob.id}
    assert events == [("ventroom_reaction_updated", data, [post_group, bob_group]),
                      ("new_reaction_on_user_post", data, [alice_group])]

    events.clear()
    react(client, bob, post_id, "like")  # the same reaction again: nothing changed, nothing said
    assert events == []

    react(client, bob, comment_id, "😢", "ventcomment")
    data = {"content_type": "ventcomment", "object_id": comment_id, "reaction_summary": summary(("😢", 1)),
            "user_reaction": "😢", "user_id": bob.id}
    assert events == [("ventroom_reaction_updated", data, [post_group, bob_group]),
                      ("new_reaction_on_user_comment", data, [alice_group])]

    events.clear()
    react(client, alice, post_id, "❤️")  # her own post: no "reaction on your post"
    assert [(kind, groups) for kind, _, groups in events] == [("ventroom_reaction_updated", [post_group, alice_group])]

    events.clear()
    assert unreact(client, bob, post_id).status_code == 204
    assert events == [("ventroom_reaction_updated",
                       {"content_type": "ventpost", "object_id": post_id, "reaction_summary": summary(("❤️", 1)),
                        "user_reaction": None, "user_id": bob.id},
                       [post_group, bob_group])]
    events.clear()
    assert unreact(client, bob, post_id).status_code == 204  # nothing to remove: nothing said
    assert events == []


def test_counts_match_the_table(client, app, alice):
    post_id = make_post(client, alice)
    people = accounts(app, 5)
    for i, person in enumerate(people):
        react(client, person, post_id, ("👍", "😂")[i % 2])
    react(client, people[0], post_id, "😂")
    unreact(client, people[2], post_id)
    with app.app_context():
        table = dict(db.session.execute(
            select(Reaction.reaction_type, func.count()).where(Reaction.object_id == post_id)
            .group_by(Reaction.reaction_type)).all())
    assert table == {"😂": 3, "👍": 1}
    assert detail(client, alice, post_id)["reaction_summary"] == summary(("😂", 3), ("👍", 1))
