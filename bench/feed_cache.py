"""Feed cache benchmark: time per page cached vs uncached, and the hit ratio under writes.

Run by hand from the repo root (not a test):

    .venv/bin/python bench/feed_cache.py                       # SQLite + in-memory cache
    .venv/bin/python bench/feed_cache.py --database-url postgresql://postgres@127.0.0.1:5432/DB \
        --redis-url redis://127.0.0.1:6379/9                   # PostgreSQL + Redis

``--database-url`` must name an empty database you own (its tables are created and
dropped); ``--redis-url`` a Redis database you own (only this bench's keys are removed
at the end). Each request goes through the whole app (routing, JWT, the user lookup,
JSON), as a client's would; "service" times are ``posts.feed_page`` alone.

A read is served from the reader's own cached page (no query), from the page shared by
all readers plus one query for the reader's reactions, or built from the database
(four queries); the hit ratios count the first, and the first two.
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_jwt_extended import create_access_token  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import cache, db  # noqa: E402
from app.models.base import utcnow  # noqa: E402
from app.models.posts import Post  # noqa: E402
from app.models.reactions import REACTION_TYPES, VENTPOST, Reaction  # noqa: E402
from app.models.users import User  # noqa: E402
from app.services import feed, posts  # noqa: E402


def build_app(args, workdir):
    database_url = args.database_url or f"sqlite:///{os.path.join(workdir, 'bench.sqlite3')}"
    app = create_app({
        "APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": args.redis_url,
        "MEDIA_ROOT": os.path.join(workdir, "media"), "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "bench-secret-key-long-enough-0123456789",
        "JWT_SECRET_KEY": "bench-jwt-secret-key-long-enough-0123456789",
    })
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


def seed(app, n_users, n_posts, rng):
    """Users, posts (newest first in the feed) and a few reactions per post."""
    with app.app_context():
        users = [User(email=f"bench{i}@example.com", display_name=f"Bench {i}") for i in range(n_users)]
        users[0].set_password("bench-password")
        for user in users[1:]:
            user.password_hash = users[0].password_hash  # one slow hash is enough
        db.session.add_all(users)
        db.session.flush()
        now = utcnow()
        db.session.add_all(
            Post(user_id=rng.choice(users).id, title=f"Post {i}", content="Something to get off my chest. " * 8,
                 created_at=now, updated_at=now, views=rng.randint(0, 500), comment_count=rng.randint(0, 30))
            for i in range(n_posts))
        db.session.flush()
        post_ids = db.session.scalars(db.select(Post.id)).all()
        reactions = set()
        for post_id in post_ids:
            for user in rng.sample(users, k=min(len(users), rng.randint(0, 6))):
                reactions.add((post_id, user.id))
        db.session.add_all(Reaction(content_type=VENTPOST, object_id=post_id, user_id=user_id,
                                    reaction_type=rng.choice(REACTION_TYPES)) for post_id, user_id in reactions)
        db.session.commit()
        tokens = {user.id: create_access_token(identity=user.id) for user in users}
        return tokens


def get_page(client, token, page, page_size):
    started = time.perf_counter()
    response = client.get(f"/ventroom/posts/?page={page}&page_size={page_size}",
                          headers={"Authorization": f"Bearer {token}"})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_json()
    return elapsed


def timings(app, tokens, page_size, rounds):
    """Per-page times, through the API and in the service alone: uncached (built from the
    database), shared (another reader's miss: the shared page plus one query) and cached."""
    client = app.test_client()
    (user_id, token), (other_id, other_token) = list(tokens.items())[:2]
    found = {name: [] for name in ("request uncached", "request shared", "request cached",
                                   "service uncached", "service shared", "service cached")}
    for index in range(rounds):
        page = 1 + index % 3
        with app.app_context():
            feed.invalidate()
        found["request uncached"].append(get_page(client, token, page, page_size))
        found["request shared"].append(get_page(client, other_token, page, page_size))
        found["request cached"].append(get_page(client, token, page, page_size))
        with app.test_request_context("/ventroom/posts/"):
            feed.invalidate()
            for name, viewer_id in (("uncached", user_id), ("shared", other_id), ("cached", user_id)):
                viewer = db.session.get(User, viewer_id)
                started = time.perf_counter()
                posts.feed_page(viewer, page, page_size)
                found[f"service {name}"].append(time.perf_counter() - started)
    return found


def hit_ratio(app, tokens, page_size, reads, write_every, *, rng):
    """Readers spread over users and pages (most read page 1); one new post every
    ``write_every`` reads (0: no writes). Returns ``(user_hits, shared_hits, builds)``:
    reads served from the reader's own page, reads that took the shared page (plus one
    query for the reader's reactions), and pages built from the database."""
    client = app.test_client()
    counted = {"builds": 0, "personalized": 0}
    original = feed.cached_page

    def counting(viewer_id, page, size, build, personalize):
        def build_and_count():
            counted["builds"] += 1
            return build()

        def personalize_and_count(results):
            counted["personalized"] += 1
            return personalize(results)
        return original(viewer_id, page, size, build_and_count, personalize_and_count)

    feed.cached_page = counting
    try:
        users = list(tokens.items())
        with app.app_context():
            feed.invalidate()
            author = db.session.get(User, users[0][0])
        for index in range(1, reads + 1):
            _, token = rng.choice(users)
            page = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
            get_page(client, token, page, page_size)
            if write_every and index % write_every == 0:
                with app.test_request_context("/ventroom/posts/", method="POST"):
                    author = db.session.merge(author)
                    posts.create_post(author, title="bench", content="new")
    finally:
        feed.cached_page = original
    user_misses = counted["personalized"]
    return reads - user_misses, user_misses - counted["builds"], counted["builds"]


def ms(values):
    p95 = sorted(values)[int(len(values) * 0.95)]
    return f"median {statistics.median(values) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms"


def cleanup(app, args):
    with app.app_context():
        if args.redis_url:
            backend = cache.cache
            client = backend._write_client
            keys = list(client.scan_iter(f"{backend.key_prefix}ventroom_feed_*"))
            if keys:
                client.delete(*keys)
        db.drop_all()
        db.engine.dispose()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200, help="timed misses and hits")
    parser.add_argument("--reads", type=int, default=3000, help="reads per hit-ratio scenario")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory() as workdir:
        app = build_app(args, workdir)
        try:
            started = time.perf_counter()
            tokens = seed(app, args.users, args.posts, rng)
            print(f"database {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}, "
                  f"cache {'Redis' if args.redis_url else 'in-process memory'}; "
                  f"{args.users} users, {args.posts} posts, page size {args.page_size} "
                  f"(seeded in {time.perf_counter() - started:.1f} s)")

            found = timings(app, tokens, args.page_size, args.rounds)
            print(f"\nper page, {args.rounds} rounds (pages 1-3):")
            for name, values in found.items():
                print(f"  {name:<17} {ms(values)}")
            for layer in ("request", "service"):
                uncached = statistics.median(found[f"{layer} uncached"])
                cached = uncached / statistics.median(found[f"{layer} cached"])
                shared = uncached / statistics.median(found[f"{layer} shared"])
                print(f"  {layer} speed-up (median): cached x{cached:.1f}, shared x{shared:.1f}")

            print(f"\nhit ratio, {args.reads} reads by {args.users} users (page 1: 80%, 2: 15%, 3: 5%):")
            print(f"  {'':<24} {'own page':>9} {'shared page':>12} {'built':>7}   hit ratio (own / any cache)")
            for write_every in (0, 100, 20, 5):
                own, shared, built = hit_ratio(app, tokens, args.page_size, args.reads, write_every, rng=rng)
                label = "no writes" if not write_every else f"1 write per {write_every} reads"
                print(f"  {label:<24} {own:9d} {shared:12d} {built:7d}   "
                      f"{own / args.reads:6.1%} / {(own + shared) / args.reads:6.1%}")
        finally:
            cleanup(app, args)


if __name__ == "__main__":
    main()
