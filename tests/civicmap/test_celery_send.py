"""civicmap.celery_send: a task sent with the work done once per process is the message Celery's
own send_task sends (body, headers, properties, exchange, routing key, declaration, retry policy
and publish signals), apart from the message's own id; read back from a Redis of the test's own
(tests.issues.faults.spare_broker_used)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import redis
from celery import signals
from celery._state import _task_stack

from civicmap.celery import app
from civicmap.celery_send import task_send
from issues.services.outbox import QUEUE_RETRY_POLICY
from issues.services.photos import PHOTO_RENDITIONS_TASK
from issues.tasks import photo_renditions_make_task  # registered: its options apply
from tests.issues.faults import spare_broker_used

# A name no module registers: send_task then applies no task options, only the router's
# (a web process has not registered the tasks either: it does not import issues.tasks).
UNREGISTERED_TASK = "civicmap.tests.unregistered_task"


@pytest.fixture
def spare() -> Iterator[redis.Redis]:
    with spare_broker_used() as url:
        yield redis.Redis.from_url(url)


def _queued(broker: redis.Redis) -> list[dict]:
    """The messages in Celery's default queue, oldest first, with their body decoded."""
    messages = [json.loads(raw) for raw in reversed(broker.lrange("celery", 0, -1))]
    for message in messages:
        message["body"] = json.loads(base64.b64decode(message["body"]))
    return messages


def _without_ids(message: dict) -> dict:
    """What two messages of one task with the same arguments share: all but their own id (the
    root's, the correlation's and kombu's delivery tag are the same id or one of its own)."""
    task_id = message["headers"]["id"]
    assert message["headers"]["root_id"] == task_id
    assert message["properties"]["correlation_id"] == task_id
    headers = {k: v for k, v in message["headers"].items() if k not in {"id", "root_id"}}
    properties = {k: v for k, v in message["properties"].items()
                  if k not in {"correlation_id", "delivery_tag"}}
    return {**message, "headers": headers, "properties": properties}


def _both_sent(name: str, args: list) -> None:
    app.send_task(name, args=args, retry=True, retry_policy=QUEUE_RETRY_POLICY)
    task_send(name=name, args=args, retry_policy=QUEUE_RETRY_POLICY)


@pytest.mark.parametrize("name", [PHOTO_RENDITIONS_TASK, UNREGISTERED_TASK])
def test_a_task_sent_is_the_message_celerys_send_task_sends(spare, name):
    _both_sent(name, [42])
    _both_sent(name, [43])  # the producer kept, the queue declared already
    celerys, ours, celerys_again, ours_again = _queued(spare)
    assert _without_ids(ours) == _without_ids(celerys)
    assert _without_ids(ours_again) == _without_ids(celerys_again)
    assert ours["body"] == [[42], {}, {"callbacks": None, "errbacks": None, "chain": None,
                                       "chord": None}]
    assert ours["properties"]["delivery_info"] == {"exchange": "", "routing_key": "celery"}
    assert ours["headers"]["task"] == name
    assert len({m["headers"]["id"] for m in (celerys, ours, celerys_again, ours_again)}) == 4


def test_the_publish_signals_see_what_they_see_of_celerys_send_task(spare):
    """All the same, but that once the queue is declared on the connection the signal's
    ``declare`` is empty: Celery passes its queue every time and kombu skips it there."""
    seen: list[dict] = []

    def before(sender, body, exchange, routing_key, headers, properties, declare, retry_policy,
               **_):
        seen.append({"sender": sender, "body": body, "exchange": exchange,
                     "routing_key": routing_key, "declare": [q.name for q in declare or ()],
                     "retry_policy": retry_policy, "headers": dict(headers, id=None, root_id=None),
                     "properties": dict(properties, correlation_id=None)})

    signals.before_task_publish.connect(before, weak=False)
    try:
        task_send(name=PHOTO_RENDITIONS_TASK, args=[1], retry_policy=QUEUE_RETRY_POLICY)
        app.send_task(PHOTO_RENDITIONS_TASK, args=[1], retry=True,
                      retry_policy=QUEUE_RETRY_POLICY)
        task_send(name=PHOTO_RENDITIONS_TASK, args=[1], retry_policy=QUEUE_RETRY_POLICY)
    finally:
        signals.before_task_publish.disconnect(before)
    ours, celerys, ours_again = seen
    assert ours == celerys
    assert ours["declare"] == ["celery"]  # the first on this connection
    assert spare.exists("_kombu.binding.celery")
    assert ours_again == dict(celerys, declare=[])


def test_the_queue_is_declared_again_on_a_new_connection(spare):
    """kombu forgets its declarations when a connection closes; so does task_send."""
    task_send(name=PHOTO_RENDITIONS_TASK, args=[1], retry_policy=QUEUE_RETRY_POLICY)
    spare.delete("_kombu.binding.celery")
    task_send(name=PHOTO_RENDITIONS_TASK, args=[2], retry_policy=QUEUE_RETRY_POLICY)
    assert not spare.exists("_kombu.binding.celery")  # cached for this connection, as Celery
    with spare_broker_used():  # the pools are built again: a new producer and connection
        task_send(name=PHOTO_RENDITIONS_TASK, args=[3], retry_policy=QUEUE_RETRY_POLICY)
        assert spare.exists("_kombu.binding.celery")
        assert [m["body"][0] for m in _queued(spare)] == [[3]]


def test_inside_a_workers_task_the_message_names_its_parent_as_celerys_does(spare):
    parent = photo_renditions_make_task
    parent.push_request(id="parent-id", root_id="root-id", called_directly=False,
                        delivery_info={})
    _task_stack.push(parent)
    try:
        _both_sent(PHOTO_RENDITIONS_TASK, [5])
    finally:
        _task_stack.pop()
        parent.pop_request()
    celerys, ours = _queued(spare)
    assert ours["headers"]["parent_id"] == celerys["headers"]["parent_id"] == "parent-id"
    assert ours["headers"]["root_id"] == celerys["headers"]["root_id"] == "root-id"
