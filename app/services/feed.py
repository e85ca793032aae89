"""The feed, cached per user and page for ``FEED_CACHE_SECONDS`` (5 minutes).

Two layers, both keyed by the current feed version, page, page size and host:

- ``ventroom_feed_{user_id}:...`` holds the page exactly as that user gets it (their own
  ``user_reaction`` on each post, their own anonymous posts shown as theirs, every author
  shown to an admin). A hit costs two cache reads and no query.
- ``ventroom_feed_all:...`` holds the page as everybody sees it (``user_reaction`` null,
  anonymous authors hidden; who they are is kept beside the page, server-side, for the
  personal copies). A user's miss takes it from here and adds their own reactions with
  one small query (``personalize``), so after a write the database builds each page once,
  not once per reader.

A user from whom someone is hidden (a block either way, a mute) cannot share that page:
theirs is built for them alone, filtered in SQL, and cached under their key *and* their
``filter_token``, which every change of who is hidden from them renews (and clears when
nobody is): a block or unblock never leaves a page of the old set in use.

Every write a reader of the feed could notice (a post created, edited, deleted or done
processing its media; a comment or a reaction added or removed) calls ``invalidate()``
after its commit, which gives the feed a new version: one SET, however many users have
cached pages, and no scan of keys. Pages cached under an older version are never read
again and expire by their TTL, so no clean-up task is needed: Redis drops expired keys
itself (in memory, the cache prunes them), and memory holds at most the pages written
in the last ``FEED_CACHE_SECONDS``.

Why a page is never stale after an acknowledged write: a reader reads the version
*before* it queries the database, and a writer sets a new version *after* its commit
and before it answers. A page cached under version V was therefore built after V was
set, so it holds every write acknowledged before V; and once a write is acknowledged,
readers see V or a later version. Versions are random tokens, never reused: if the
version key is lost (evicted, or Redis restarted empty), the next reader makes a new
one, so a page of an older version can never come back into use (a counter restarting
at zero would reuse old numbers and serve pages cached before the loss).

Views may lag by up to the cache lifetime, as API.md allows. A cache that cannot be
reached serves the feed uncached (and logs it) rather than failing the request.
"""
import hashlib
import logging
import secrets

from flask import current_app

from app.extensions import cache
from app.urls import base_url

log = logging.getLogger(__name__)

VERSION_KEY = "ventroom_feed_version"


def _new_version():
    return secrets.token_hex(8)


def current_version():
    """The feed version now, created if there is none (first use, or the key was lost)."""
    version = cache.get(VERSION_KEY)
    if version is None:
        fresh = _new_version()
        cache.add(VERSION_KEY, fresh, timeout=0)  # SET NX: the first reader's token wins
        version = cache.get(VERSION_KEY) or fresh
    return version


def page_key(user_id, version, page, page_size, filter_token=None):
    """The key of one user's page; ``user_id=None`` names the page everybody shares."""
    # The page holds absolute media URLs: keep pages built for different hosts apart.
    host = hashlib.blake2s(base_url().encode(), digest_size=4).hexdigest()
    owner = "all" if user_id is None else user_id
    filtered = f":f{filter_token}" if filter_token else ""
    return f"ventroom_feed_{owner}:v{version}{filtered}:p{page}:s{page_size}:h{host}"


def _store(key, value):
    try:
        cache.set(key, value, timeout=current_app.config["FEED_CACHE_SECONDS"])
    except Exception:
        log.warning("feed cache unreachable; page not cached", exc_info=True)


def cached_page(viewer_id, page, page_size, build, personalize):
    """``(results, count)`` of one feed page for ``viewer_id``.

    ``build()`` -> ``{"results", "count", ...}`` as everybody sees them (other keys are kept
    with the shared page for ``personalize``); ``personalize(shared)`` -> the results for
    this viewer. Both run only on a miss.
    """
    try:
        version = current_version()  # first: a page must not be older than its version
        key = page_key(viewer_id, version, page, page_size)
        shared_key = page_key(None, version, page, page_size)
        mine = cache.get(key)
        shared = None if mine is not None else cache.get(shared_key)
    except Exception:  # the cache is down: the database still answers
        log.warning("feed cache unreachable; serving the feed uncached", exc_info=True)
        shared = build()
        return personalize(shared), shared["count"]
    if mine is not None:
        return mine["results"], mine["count"]
    if shared is None:
        shared = build()
        _store(shared_key, shared)
    mine = {"results": personalize(shared), "count": shared["count"]}
    _store(key, mine)
    return mine["results"], mine["count"]


def private_page(viewer_id, filter_token, page, page_size, build):
    """``(results, count)`` of one feed page built for ``viewer_id`` alone (someone is
    hidden from them): ``build()`` -> ``(results, count)``, run only on a miss."""
    try:
        key = page_key(viewer_id, current_version(), page, page_size, filter_token)
        mine = cache.get(key)
    except Exception:
        log.warning("feed cache unreachable; serving the feed uncached", exc_info=True)
        return build()
    if mine is None:
        results, count = build()
        mine = {"results": results, "count": count}
        _store(key, mine)
    return mine["results"], mine["count"]


def invalidate():
    """Every cached feed page is stale from now on. Call it after the commit.

    A cache that cannot be reached is logged, not raised: the write has committed and its
    client must hear so (a 500 would invite a duplicate retry). Pages cached before the
    outage can then be served until their TTL ends.
    """
    try:
        cache.set(VERSION_KEY, _new_version(), timeout=0)  # one SET; 0 = no expiry
    except Exception:
        log.error("feed cache unreachable: the feed version was not renewed", exc_info=True)
