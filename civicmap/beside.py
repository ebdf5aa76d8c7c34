"""Reads run beside a request's own: slow reads sent on other connections while the
request's thread goes on with the rest, so that the request waits for the slowest of them,
not for their sum (the governance map's heat cells, hotspots and case counts, docs/DECISIONS.md
D-095).

``THREADS`` threads a process, started when first needed (so after gunicorn's or Celery's
fork), each with connections of its own (Django's are per thread), kept as a request thread
keeps its: each read first closes those past ``CONN_MAX_AGE`` or broken, as Django does when a
request starts. The read runs in a copy of the caller's context: the replica chosen by
``replica_reads`` and the request's state come along. A read started from one of those
threads runs there and then (the threads must not wait for each other)."""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from django.db import close_old_connections, connections

T = TypeVar("T")
THREAD_NAME = "civicmap-beside"
THREADS = 3

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None


def _executor() -> ThreadPoolExecutor:
    """This process's threads, new ones in a forked child (threads do not survive a fork)."""
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix=THREAD_NAME)
            _pool_pid = os.getpid()
        return _pool


def _run(read: Callable[[], T]) -> T:
    close_old_connections()
    return read()


def read_beside(read: Callable[[], T]) -> Future[T]:
    """Start ``read()`` on one of this process's threads and return its future. Only for
    reads that need not see the caller's uncommitted writes: the thread's connection is another
    session (a caller inside a transaction reads on its own connection instead)."""
    if threading.current_thread().name.startswith(THREAD_NAME):
        done: Future[T] = Future()
        done.set_result(read())
        return done
    return _executor().submit(contextvars.copy_context().run, _run, read)


def cores_to_spare(*, below_load: int) -> bool:
    """Whether reads beside can expect a core: the machine's 1-minute load average is below
    ``below_load`` (0: never). With every core busy, a read beside only waits for one, and
    its thread and the request's contend for the core and Python's lock (D-095)."""
    return below_load > 0 and os.getloadavg()[0] < below_load


def reads_beside_close() -> None:
    """Close the threads' connections and stop them (a test database about to be dropped; a
    process about to end). The next ``read_beside`` starts new ones."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None and _pool_pid == os.getpid():
        # One closing a thread: each waits at the barrier until every thread holds one.
        barrier = threading.Barrier(THREADS)
        closing = [pool.submit(_close_and_wait, barrier) for _ in range(THREADS)]
        for future in closing:
            future.result()
        pool.shutdown(wait=True)


def _close_and_wait(barrier: threading.Barrier) -> None:
    connections.close_all()
    barrier.wait(timeout=30)
