"""The web client at /, in headless Chromium against a real server: two people live,
a dropped connection that heals itself, keyboard only, axe-core, first-load cost.

The tests of this module share one server and one browser and run in order (about a
minute in all); screenshots go to tests/artifacts/.
"""
import json
import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.support.browser import axe_violations, jpeg_bytes, register_in_page
from tests.support.clients import register

pytestmark = pytest.mark.browser

SERIOUS = {"serious", "critical"}


def assert_accessible(page, where):
    violations = axe_violations(page)
    print(f"\naxe-core on {where}: {violations or 'no violations'}")
    assert not [v for v in violations if v["impact"] in SERIOUS], violations


def test_first_load_is_small_gzipped_and_interactive(open_page, web_server):
    page = open_page()  # a new browser context: nothing cached
    responses = {response.url: response for response in page.responses}
    timing = page.evaluate("""() => {
        const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')];
        return {
            transferred: entries.reduce((sum, e) => sum + e.transferSize, 0),
            encoded: entries.reduce((sum, e) => sum + e.encodedBodySize, 0),
            decoded: entries.reduce((sum, e) => sum + e.decodedBodySize, 0),
            files: entries.length,
            interactive: performance.getEntriesByName('interactive')[0].startTime,
            domContentLoaded: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
        };
    }""")
    print(f"\nfirst load: {timing['files']} files, {timing['transferred']} bytes transferred "
          f"({timing['encoded']} gzip bodies, {timing['decoded']} uncompressed); interactive after "
          f"{timing['interactive']:.0f} ms (DOMContentLoaded {timing['domContentLoaded']:.0f} ms)")

    page_response = responses[web_server.url + "/"]
    assert page_response.headers["cache-control"] == "no-cache"
    policy = page_response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and f"ws://127.0.0.1:{web_server.server.port}" in policy
    assets = [r for url, r in responses.items() if "/app/" in url]
    assert len(assets) >= 10
    for response in [page_response, *assets]:
        assert response.headers.get("content-encoding") == "gzip", response.url
    assert all("immutable" in r.headers["cache-control"] for r in assets)
    assert page.errors == []  # nothing refused by the CSP, no script error
    assert_accessible(page, "the login page")


@pytest.fixture(scope="module")
def ana_and_ben(open_page):
    """Two people, each in a browser context of their own, logged in on the feed."""
    ana = open_page()
    register_in_page(ana, "Ana")
    ben = open_page()
    register_in_page(ben, "Ben")
    return ana, ben


def test_two_people_see_each_other_live(ana_and_ben, artifacts, tmp_path):
    ana, ben = ana_and_ben

    # Ana posts with an image; the upload shows its progress.
    ana.get_by_role("button", name="Write a post").click()
    ana.get_by_label("Title").fill("A heavy week")
    ana.get_by_label("What weighs on you?").fill("Work, family, all at once.\nI just needed to say it somewhere.")
    photo = tmp_path / "window.jpg"
    photo.write_bytes(jpeg_bytes())
    ana.get_by_label("Add an image, audio or video (optional)").set_input_files(str(photo))
    ana.evaluate("""() => {
        window.progressSeen = [];
        const bar = document.querySelector('progress');
        new MutationObserver(() => progressSeen.push(bar.value)).observe(bar, {attributes: true});
        new MutationObserver(() => progressSeen.push(bar.parentElement.hidden ? 'hidden' : 'shown'))
            .observe(bar.parentElement, {attributes: true, attributeFilter: ['hidden']});
    }""")
    ana.get_by_role("button", name="Post", exact=True).click()
    ana_post = ana.locator("article.post", has_text="A heavy week")
    ana_post.wait_for()
    assert ana.evaluate("progressSeen.includes('shown') && progressSeen.includes(100)"), ana.evaluate("progressSeen")
    ana_post.locator("img[src*='/media/']").wait_for()

    # Ben sees it arrive as a pill, not as a jump, and opens it.
    pill = ben.get_by_role("button", name="1 new post")
    pill.wait_for()
    assert ben.locator("article.post").count() == 0
    pill.click()
    ben_post = ben.locator("article.post", has_text="A heavy week")
    ben_post.wait_for()
    assert ben.evaluate("document.activeElement.matches('article.post')")
    ben.wait_for_function("() => { const img = document.querySelector('article.post img'); return img && img.complete && img.naturalWidth > 0; }")
    ben.set_viewport_size({"width": 360, "height": 800})
    ben.screenshot(path=artifacts / "feed-360.png")
    ben.set_viewport_size({"width": 1280, "height": 800})
    ben.screenshot(path=artifacts / "feed-1280.png")
    assert_accessible(ben, "the feed")

    ben_post.get_by_role("link", name="A heavy week").click()
    ben.get_by_role("heading", level=1, name="A heavy week").wait_for()
    ben.get_by_label("Write a comment").fill("That sounds exhausting. I hear you.")
    ben.get_by_role("button", name="Comment", exact=True).click()
    ben.locator("li[data-comment-id]", has_text="I hear you").wait_for()
    ben.locator("article.post").get_by_role("button", name=re.compile("^Love")).click()

    # Ana, still on the feed, sees the comment count and the reaction count change.
    ana_post.get_by_role("link", name="1 comment").wait_for()
    ana_post.get_by_role("button", name="Love: 1 reaction").wait_for()
    ana.get_by_role("link", name="Notifications, 2 unread").wait_for()

    # In the thread she replies; Ben sees the reply nested under his comment, live.
    ana_post.get_by_role("link", name="A heavy week").click()
    ana.get_by_role("heading", level=1, name="A heavy week").wait_for()
    ana_comment = ana.locator("li[data-comment-id]", has_text="I hear you")
    ana_comment.get_by_role("button", name="Reply").click()
    ana.get_by_label("Reply to Ben").fill("Thank you. It helps to be heard.")
    ana_comment.get_by_role("button", name="Reply", exact=True).last.click()
    ben.locator("li[data-comment-id] .replies li", has_text="It helps to be heard").wait_for()

    # Ben reacts to the reply and edits his comment; Ana sees both without a reload.
    ben_reply = ben.locator(".replies li", has_text="It helps to be heard")
    ben_reply.get_by_role("button", name=re.compile("^Like")).click()
    ana.locator(".replies li", has_text="It helps to be heard").get_by_role("button", name="Like: 1 reaction").wait_for()
    ben_comment = ben.locator("li[data-comment-id]", has_text="I hear you").first
    ben_comment.locator(":scope > article").get_by_role("button", name="Edit").click()
    ben.get_by_label("Edit your comment").fill("That sounds exhausting. I hear you, really.")
    ben.get_by_role("button", name="Save").click()
    ana.locator("li[data-comment-id]", has_text="I hear you, really").wait_for()
    ben_comment.get_by_role("button", name="Edit").wait_for()  # the form closed on save
    assert ana.get_by_role("heading", name="Comments (2)").is_visible()

    ben.evaluate("window.scrollTo(0, 0)")
    ben.screenshot(path=artifacts / "thread-1280.png")
    ben.set_viewport_size({"width": 360, "height": 800})
    ben.screenshot(path=artifacts / "thread-360.png")
    ben.set_viewport_size({"width": 1280, "height": 800})
    assert_accessible(ben, "a thread")

    # Ana reads her notifications and marks them read.
    ana.get_by_role("link", name=re.compile("^Notifications")).click()
    ana.get_by_role("heading", name="Notifications").wait_for()
    ana.locator("li.notification.unread").first.wait_for()
    assert_accessible(ana, "notifications")
    ana.get_by_role("button", name="Mark all as read").click()
    ana.get_by_role("link", name="Notifications", exact=True).wait_for()
    assert ana.locator("li.notification.unread").count() == 0

    # Ana deletes her post; Ben, in its thread, is told at once.
    ana.get_by_role("link", name="Feed").click()
    ana_post.get_by_role("button", name="Delete").click()
    ana.get_by_role("button", name="Delete post").click()
    ana_post.wait_for(state="detached")
    ben.get_by_role("heading", level=1, name="This post was deleted.").wait_for()
    assert ana.errors == [] and ben.errors == []


def test_a_dropped_connection_heals_itself_and_events_flow_again(ana_and_ben, web_server):
    ana, ben = ana_and_ben
    _, cara_token = register(web_server.url, f"cara-{time.time_ns()}@example.com", display_name="Cara")
    cara = {"Authorization": f"Bearer {cara_token}"}
    post_id = requests.post(f"{web_server.url}/ventroom/posts/", json={"title": "Waiting room", "content": "."},
                            headers=cara, timeout=10).json()["id"]
    ana.goto(f"/#/post/{post_id}")  # Ana waits in a thread, Ben on the feed
    ana.get_by_role("heading", level=1, name="Waiting room").wait_for()
    ben.goto("/#/")
    ben.get_by_role("heading", name="Recent posts").wait_for()
    ben.locator("#connection[data-status=live]").wait_for()
    ben.evaluate("window.sameDocument = true")
    feed_reads = []
    ben.on("request", lambda r: "/ventroom/posts/?" in r.url and feed_reads.append(r.url))

    web_server.stop()
    ben.locator("#connection[data-status=reconnecting]").wait_for()
    web_server.start()  # same port, same database
    # Written before the clients are back: only a refetch can show it.
    requests.post(f"{web_server.url}/ventroom/posts/", json={"title": "While you were away", "content": "."},
                  headers=cara, timeout=10).raise_for_status()

    ben.locator("#connection[data-status=live]").wait_for(timeout=20_000)
    ana.locator("#connection[data-status=live]").wait_for(timeout=20_000)
    ben.get_by_role("button", name="1 new post").wait_for()
    assert feed_reads, "the feed was refetched after the reconnect"

    # Live events flow again, to the feed and to an open thread.
    requests.post(f"{web_server.url}/ventroom/posts/", json={"title": "Back again", "content": "."},
                  headers=cara, timeout=10).raise_for_status()
    ben.get_by_role("button", name="2 new posts").wait_for()
    requests.post(f"{web_server.url}/ventroom/posts/{post_id}/comments/", json={"text": "Still here with you."},
                  headers=cara, timeout=10).raise_for_status()
    ana.locator("li[data-comment-id]", has_text="Still here with you.").wait_for()
    assert ben.evaluate("window.sameDocument") is True  # no reload happened
    ben.get_by_role("button", name="2 new posts").click()
    assert ben.locator("article.post").first.inner_text().count("Back again") == 1


def test_keyboard_alone_posts_reacts_and_opens_a_thread(open_page):
    page = open_page(width=360)
    register_in_page(page, "Dee")

    def tab_to(predicate, key="Tab", limit=40):
        for _ in range(limit):
            page.keyboard.press(key)
            if page.evaluate(f"(() => {{ const el = document.activeElement; return {predicate}; }})()"):
                outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                assert outline != "none", "focus is visible"
                return
        raise AssertionError(f"no focusable element matched {predicate}")

    tab_to("el.textContent === 'Write a post'")
    page.keyboard.press("Enter")
    page.keyboard.type("Typed without a mouse")  # focus is in the title
    tab_to("el.name === 'content'")
    page.keyboard.type("Every control answers the keyboard.")
    tab_to("el.textContent === 'Post'")
    page.keyboard.press("Enter")
    post = page.locator("article.post", has_text="Typed without a mouse")
    post.wait_for()
    tab_to("(el.getAttribute('aria-label') || '').startsWith('Like')")
    page.keyboard.press("Space")
    post.get_by_role("button", name="Like: 1 reaction", pressed=True).wait_for()
    tab_to("el.textContent === 'Typed without a mouse'", key="Shift+Tab")
    page.keyboard.press("Enter")
    page.get_by_role("heading", level=1, name="Typed without a mouse").wait_for()
    assert page.evaluate("document.activeElement.tagName") == "H1"
    assert page.errors == []


def test_anonymous_authors_content_warnings_and_sensitive_media_are_shown_with_care(open_page, web_server, tmp_path):
    """An anonymous post with a content warning and an image (so sensitive), as the server
    answers it to someone else."""
    _, token = register(web_server.url, f"eve-{time.time_ns()}@example.com", display_name="Eve")
    headers = {"Authorization": f"Bearer {token}"}
    requests.post(f"{web_server.url}/ventroom/posts/", headers=headers, timeout=10,
                  data={"title": "Hard to look at", "media_type": "image", "anonymous": "true",
                        "content_warning": "loss"},
                  files={"media": ("p.jpg", jpeg_bytes(), "image/jpeg")}).raise_for_status()
    page = open_page()
    register_in_page(page, "Fay")
    post = page.locator("article.post", has_text="Content warning: loss")
    post.wait_for()
    assert post.get_attribute("aria-label") == "Post with a content warning: loss"
    assert post.locator(".author").inner_text() == "Anonymous"
    assert not post.get_by_role("heading", name="Hard to look at").is_visible()
    post.get_by_role("button", name="Show post", expanded=False).click()
    assert post.get_by_role("heading", name="Hard to look at").is_visible()
    media = post.locator(".media")
    assert "blurred" in media.get_attribute("class") and media.evaluate("el => el.inert")
    post.get_by_role("button", name="Show sensitive image").click()
    assert "blurred" not in media.get_attribute("class")
    assert page.evaluate("document.activeElement.tagName") == "IMG"
    assert_accessible(page, "a post behind a content warning")

    # Reporting it (an anonymous author cannot be muted or blocked: nothing names them).
    post.get_by_role("button", name="More actions for this post").click()
    assert post.get_by_role("button", name=re.compile("^(Mute|Block)")).count() == 0
    post.get_by_role("button", name="Report this post").click()
    post.get_by_label("Someone may be at risk of harming themselves").check()
    post.get_by_role("button", name="Send report").click()
    post.get_by_text("Thank you. The moderators will look at it.").wait_for()
    assert post.get_by_role("link", name="Crisis line").get_attribute("href") == "https://example.org/help"
    assert post.get_by_role("link", name="+1 555 0100").get_attribute("href") == "tel:+15550100"
    assert_accessible(page, "a report sent, with support resources")
    page.emulate_media(color_scheme="dark", reduced_motion="reduce")
    assert page.evaluate("getComputedStyle(document.documentElement).scrollBehavior") == "auto"
    assert_accessible(page, "the same, in the dark colour scheme")


def test_the_feed_scrolls_on_through_its_pages(open_page, web_server):
    _, token = register(web_server.url, f"gus-{time.time_ns()}@example.com", display_name="Gus")
    for n in range(25):
        requests.post(f"{web_server.url}/ventroom/posts/", json={"title": f"Note {n}", "content": "."},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()
    page = open_page(width=360)
    register_in_page(page, "Hal")
    page.locator("article.post", has_text="Note 24").wait_for()
    total = requests.get(f"{web_server.url}/ventroom/posts/?page_size=1", headers={"Authorization": f"Bearer {token}"},
                         timeout=10).json()["count"]
    for _ in range(100):
        if page.get_by_text("You’re all caught up.").is_visible():
            break
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(100)
    assert page.locator("article.post").count() == total
    ids = page.eval_on_selector_all("article.post", "els => els.map(el => Number(el.dataset.postId))")
    assert ids == sorted(ids, reverse=True)  # newest first, no repeats

    # Muting Gus takes his posts off the page at once (the endpoint answered as issue 15 has it).
    page.route("**/users/*/mute", lambda route: route.fulfill(status=204))
    gus_post = page.locator("article.post", has_text="Note 24")
    gus_post.get_by_role("button", name="More actions for this post").click()
    gus_post.get_by_role("button", name="Mute Gus").click()
    page.locator("article.post", has_text="Note ").first.wait_for(state="detached")
    assert page.locator("article.post").count() == total - 25


def test_the_access_token_is_refreshed_before_it_expires(open_page):
    page = open_page()
    register_in_page(page, "Ivo")
    before = page.evaluate("JSON.parse(sessionStorage.getItem('ventroom.session')).access")
    page.clock.install()
    with page.expect_request(lambda r: r.url.endswith("/auth/refresh") and r.method == "POST"):
        page.clock.fast_forward("59:30")  # a 60-minute token: refreshed a minute before its exp
    page.wait_for_function("before => JSON.parse(sessionStorage.getItem('ventroom.session')).access !== before",
                           arg=before)
    assert "token=" not in page.url
    page.get_by_role("link", name="Notifications").click()
    page.get_by_text("No notifications yet.").wait_for()  # the API answers with the new token
    assert page.errors == []


def test_resume_replays_instead_of_refetching_and_refetches_when_not_recovered(open_page, web_server):
    """The resume protocol of issue 14, answered by a stand-in for /ws/: the client resumes
    its personal group and the feed from the last id it saw, takes replayed events once, and
    refetches only when the answer is not `recovered: true`."""
    page = open_page()
    register_in_page(page, "Jo")
    connections = []
    recovered = {"answer": True}

    def event(event_id, title, post_id=None):
        post = {"id": post_id or 10_000 + int(event_id.split("-")[1]), "user": {"id": "kim", "display_name": "Kim", "profile_photo": None},
                "title": title, "content": ".", "media": None, "media_type": None, "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z", "views": 0, "total_comment": 0, "reaction_summary": [],
                "user_reaction": None}
        return json.dumps({"type": "new_ventroom_post", "data": post, "timestamp": "2026-01-01T00:00:00Z",
                           "event_id": event_id})

    def reply(kind, data):
        return json.dumps({"type": kind, "data": data, "timestamp": "2026-01-01T00:00:00Z", "event_id": "r"})

    routes = []

    def stand_in(ws):
        routes.append(ws)
        query = parse_qs(urlparse(ws.url).query)
        connections.append({"last_event_id": query.get("last_event_id"), "joins": []})
        if query.get("last_event_id"):
            ws.send(reply("ventroom_resumed", {"recovered": True, "replayed": 0}))

        def on_message(message):
            frame = json.loads(message)
            data = frame.get("data") or {}
            if frame["type"] == "join_ventroom_post":
                connections[-1]["post_joins"] = [*connections[-1].get("post_joins", []), data]
                ws.send(reply("ventroom_post_joined", {"post_id": data["post_id"], "recovered": True, "replayed": 0}))
            if frame["type"] != "join_ventroom":
                return
            connections[-1]["joins"].append(data.get("last_event_id"))
            if len(connections) == 1:  # the first join resumes from the feed read's Last-Event-ID
                resumed = {"recovered": True, "replayed": 0} if "last_event_id" in data else {}
                ws.send(reply("ventroom_joined", {"message": "Successfully joined Ventroom", "user_id": "jo",
                                                  **resumed}))
                ws.send(event("9900000000000-5", "Kim one"))
            else:
                ws.send(reply("ventroom_joined", {"message": "Successfully joined Ventroom", "user_id": "jo",
                                                  "recovered": recovered["answer"], "replayed": 1}))
                ws.send(event("9900000000000-6", "Kim two"))
                ws.send(event("9900000000000-5", "Kim copy", post_id=20_000))  # an id already seen: dropped

        ws.on_message(on_message)

    page.route_web_socket(re.compile(r".*/ws/.*"), stand_in)
    page.reload()
    page.get_by_role("button", name="1 new post").wait_for()
    feed_reads = []
    page.on("request", lambda r: "/ventroom/posts/?" in r.url and feed_reads.append(r.url))

    routes[-1].close(code=1012, reason="restart")  # the server goes away
    page.get_by_role("button", name="2 new posts").wait_for()
    assert connections[1]["last_event_id"] == ["9900000000000-5"]  # the personal group resumed
    assert connections[1]["joins"] == ["9900000000000-5"]  # the feed resumed from the same id
    page.wait_for_timeout(500)
    assert page.get_by_role("button", name="2 new posts").is_visible()  # the copy was dropped
    assert feed_reads == []  # replayed: nothing to refetch

    recovered["answer"] = False
    routes[-1].close(code=1012, reason="restart")
    page.wait_for_function("() => document.querySelector('#connection').dataset.status === 'live'")
    page.wait_for_timeout(300)
    assert len(connections) == 3 and connections[2]["joins"] == ["9900000000000-6"]
    assert feed_reads, "recovered: false -> the feed is read again"

    # A thread's reads carry Last-Event-ID: the position its group resumes from.
    def with_position(route):
        answer = route.fetch()
        route.fulfill(response=answer, headers={**answer.headers, "Last-Event-ID": "9900000000000-9"})

    page.route(re.compile(r".*/ventroom/posts/\d+/(comments/)?$"), with_position)
    _, token = register(web_server.url, f"kim-{time.time_ns()}@example.com", display_name="Kim")
    post_id = requests.post(f"{web_server.url}/ventroom/posts/", json={"title": "Kim's thread", "content": "."},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["id"]
    page.goto(f"/#/post/{post_id}")
    page.get_by_role("heading", level=1, name="Kim's thread").wait_for()

    def thread_joins():  # the feed's visible cards were joined on this connection too
        return [join for join in connections[-1].get("post_joins", []) if join["post_id"] == post_id]

    assert thread_joins() == [{"post_id": post_id}]  # joined before the read
    routes[-1].close(code=1012, reason="restart")
    page.wait_for_function("() => document.querySelector('#connection').dataset.status === 'live'")
    page.wait_for_timeout(300)
    assert thread_joins() == [{"post_id": post_id, "last_event_id": "9900000000000-9"}]
    assert page.errors == []
