"""The feed, cached per user and page for ``FEED_CACHE_SECONDS`` (5 minutes).

Keys start with ``ventroom_feed_{user_id}`` and include a feed version. Every write a
reader of the feed could notice (a post created, edited or deleted; a comment or
reaction added or removed) calls ``invalidate()`` after its commit, which bumps the
version: one atomic INCR, however many users have cached pages. Pages cached under an
older version are never read again and expire by their TTL. Views may lag by up to
the cache lifetime, as API.md allows.
"""
from flask import current_app

from app.extensions import cache

VERSION_KEY = "ventroom_feed_version"


def _version():
    return int(cache.get(VERSION_KEY) or 0)


def page_key(user_id, version, page, page_size):
    return f"ventroom_feed_{user_id}:v{version}:p{page}:s{page_size}"


def cached_page(viewer_id, page, page_size, build):
    """``(results, count)`` of one feed page: cached if fresh, else ``build()`` and cache it."""
    key = page_key(viewer_id, _version(), page, page_size)
    cached = cache.get(key)
    if cached is not None:
        return cached["results"], cached["count"]
    results, count = build()
    cache.set(key, {"results": results, "count": count}, timeout=current_app.config["FEED_CACHE_SECONDS"])
    return results, count


def invalidate():
    """Every cached feed page is stale from now on."""
    cache.cache.inc(VERSION_KEY)  # atomic INCR on Redis; under a lock in memory
