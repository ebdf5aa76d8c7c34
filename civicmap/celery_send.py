"""Celery's ``send_task`` for the jobs a web request hands over, without the work that is the
same for every message.

``app.send_task(name, args=args, retry=True, retry_policy=policy)`` works out, for each
message, the task's options and route, takes a producer from the pool and gives it back, and
binds the queue to the channel to find it in kombu's cache of declarations: half of its
CPU, paid on every intake (docs/BENCHMARKS.md §2; docs/DECISIONS.md D-082). ``task_send``
builds and sends the message with Celery's own ``create_task_message`` and
``send_task_message``: the same body, headers, properties, exchange, routing key, retry policy
and publish signals (tests/civicmap/test_celery_send.py compares them, read back from Redis).
What does not change is worked out once per process: the task's options and route (once per
task name), the setting of sent events, and the producer (its connection and channel, kept
instead of going back to the pool after each message). The queue is declared as Celery
declares it, once per connection: the declaration is left out when kombu's cache for the
producer's connection (emptied whenever that connection is closed or revived) already holds
it, where kombu would skip it too; only the ``declare`` that ``before_task_publish`` receivers
see is then empty.

Celery's own ``send_task`` still sends when this shortcut would not be exact or safe: inside a
worker's task (the message then names its parent and root, and joins the parent's trail),
when another thread holds the kept producer (kombu's producers are not thread-safe), with task
routes configured (a router may look at the arguments), or a task whose own options set an
expiry or time limits. A fork (gunicorn's workers, Celery's pool) or a new producer pool (a
test pointing the app at another broker) makes the process take a new producer.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from celery.utils.nodenames import anon_nodename
from celery.utils.saferepr import saferepr
from kombu.utils.uuid import uuid

from civicmap.celery import app


class _Kept:
    """This process's producer and the per-task-name routes, for ``task_send``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = 0
        self.pool: Any = None
        self.producer: Any = None
        self.routes: dict[str, dict | None] = {}
        self.sent_event = False
        self.repr_maxlevels = 0
        self.origin = ""
        self.kwargsrepr = ""


_kept = _Kept()


def task_send(*, name: str, args: list, retry_policy: dict) -> None:
    """Send the task ``name`` with positional ``args`` as ``app.send_task(name,
    args=args, retry=True, retry_policy=retry_policy)`` does; raises what it raises (the
    broker's errors once the policy's retries are spent)."""
    if app.current_worker_task is not None or not _kept.lock.acquire(blocking=False):
        app.send_task(name, args=args, retry=True, retry_policy=retry_policy)
        return
    try:
        pool = app.producer_pool
        if _kept.pid != os.getpid() or _kept.pool is not pool:
            _kept_reset(pool)
        options = _kept.routes.get(name, False)
        if options is False:
            options = _kept.routes[name] = _route(name)
        if options is None:  # not one this shortcut sends exactly as Celery would
            app.send_task(name, args=args, retry=True, retry_policy=retry_policy)
            return
        _send(name, args, retry_policy, options)
    finally:
        _kept.lock.release()


def _kept_reset(pool) -> None:
    previous, previous_pid = _kept.producer, _kept.pid
    _kept.producer = None
    if previous is not None and previous_pid == os.getpid():
        try:
            previous.release()  # back to its pool (closed with it, if the pool was reset)
        except Exception:  # noqa: BLE001 - a closed pool's producer: nothing to keep
            pass
    _kept.routes.clear()
    _kept.sent_event = bool(app.conf.task_send_sent_event)
    _kept.repr_maxlevels = app.conf.task_repr_maxlevels
    _kept.origin = anon_nodename()  # what create_task_message names: gen<pid>@<host>
    _kept.kwargsrepr = saferepr({}, app.amqp.kwargsrepr_maxsize, maxlevels=_kept.repr_maxlevels)
    _kept.producer = pool.acquire(block=True)
    _kept.pool, _kept.pid = pool, os.getpid()


def _route(name: str) -> dict | None:
    """The options ``send_task`` would publish a message of ``name`` with (its task's
    execution options, then the router's), or None where they may change from one message to
    the next: task routes configured, or options that ``send_task`` turns into per-message
    values (expiry, time limits) or that decide whether a result is awaited."""
    if app.conf.task_routes:
        return None
    task_type = app._tasks.get(name)  # as send_task: without finalizing the app
    options: dict = {}
    if task_type is not None and hasattr(task_type, "_get_exec_options"):
        options = {key: value for key, value in task_type._get_exec_options().items()
                   if value is not None}
    if {"expires", "time_limit", "soft_time_limit", "ignore_result"} & set(options):
        return None
    return app.amqp.router.route(options, name, args=None, kwargs=None, task_type=task_type)


def _send(name: str, args: list, retry_policy: dict, options: dict) -> None:
    """``send_task``'s message and publish, for a route worked out before."""
    amqp = app.amqp
    producer = _kept.producer
    task_id = uuid()
    # The arguments' repr and the origin as create_task_message makes them, from settings read
    # once: it reads them from the configuration for every message.
    message = amqp.create_task_message(
        task_id, name, args, None, reply_to=app.thread_oid,
        create_sent_event=_kept.sent_event, ignore_result=None, origin=_kept.origin,
        argsrepr=saferepr(args, amqp.argsrepr_maxsize, maxlevels=_kept.repr_maxlevels),
        kwargsrepr=_kept.kwargsrepr,
        **options)
    declare = None  # send_task_message's default: the route's queue
    queue = options.get("queue")
    if (queue is not None and queue.can_cache_declaration
            and hash(queue) in producer.connection.declared_entities):
        declare = []  # declared on this connection already: kombu would skip it too
    with producer.connection._reraise_as_library_errors():
        app.backend.on_task_call(producer, task_id)  # as send_task, the result not ignored
        amqp.send_task_message(producer, name, message, retry=True, retry_policy=retry_policy,
                               declare=declare, **options)
