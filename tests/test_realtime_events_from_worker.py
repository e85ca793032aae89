"""An event emitted inside a task run by a real ``celery worker`` reaches raw and Socket.IO clients."""
import pytest

from tests.support.media import image_bytes

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def deployed(stack):
    return stack(workers=1, database="postgres", redis=True)


def test_media_task_in_the_worker_broadcasts_the_update(deployed):
    author, token = deployed.user("author")
    _, watcher_token = deployed.user("watcher")
    raw = deployed.raw(watcher_token)
    raw.request("join_ventroom", reply="ventroom_joined")
    sio = deployed.sio(watcher_token)
    sio.request("join_ventroom", reply="ventroom_joined")

    response = deployed.api("POST", "/ventroom/posts/", token, data={"title": "photo", "media_type": "image"},
                              files={"media": ("p.jpg", image_bytes(size=(900, 600)), "image/jpeg")})
    assert response.status_code == 201, response.text
    post = response.json()
    assert post["media_status"] == "processing"
    assert raw.expect("new_ventroom_post")["data"]["id"] == post["id"]
    assert sio.expect("new_ventroom_post")["data"]["id"] == post["id"]

    # Processing runs in the worker process, which emits through the Redis message queue.
    update = raw.expect("ventroom_post_updated", timeout=30)
    assert update["data"]["id"] == post["id"] and update["data"]["media_status"] == "ready"
    assert update["data"]["thumbnail"]
    assert sio.expect("ventroom_post_updated", timeout=10)["event_id"] == update["event_id"]
    assert "process_media" in deployed.worker.output()
    raw.assert_silent()
