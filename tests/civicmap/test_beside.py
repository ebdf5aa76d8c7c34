"""civicmap.beside: a read sent to another thread and connection, in the caller's context,
its connection replaced when it broke, closed on request."""

from __future__ import annotations

import math
import os
import threading
import time
from contextvars import ContextVar

import pytest
from django.db import connection

from civicmap.beside import THREAD_NAME, cores_to_spare, read_beside, reads_beside_close

pytestmark = pytest.mark.django_db

_seen: ContextVar[str] = ContextVar("test_beside_seen", default="unset")


def _backend() -> tuple[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return threading.current_thread().name, cursor.fetchone()[0]


def _alive(pid: int) -> bool:
    """Whether a backend ``pid`` is connected now: the test's transaction would otherwise see
    pg_stat_activity as it read it first, for the rest of the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = %s)", [pid])
        return cursor.fetchone()[0]


def test_a_read_runs_on_its_own_thread_and_connection():
    thread, pid = read_beside(_backend).result(timeout=30)
    assert thread.startswith(THREAD_NAME)
    assert pid != _backend()[1]


def test_each_thread_keeps_its_connection_from_read_to_read():
    """Django's connections are the thread's, not a read's: ten reads, a connection a thread."""
    pids: dict[str, set[int]] = {}
    for _ in range(10):
        thread, pid = read_beside(_backend).result(timeout=30)
        pids.setdefault(thread, set()).add(pid)
    assert all(len(seen) == 1 for seen in pids.values()), pids


def test_the_read_runs_in_the_callers_context():
    token = _seen.set("caller")
    try:
        assert read_beside(_seen.get).result(timeout=30) == "caller"
    finally:
        _seen.reset(token)


def test_a_read_started_beside_runs_there_and_then():
    def nested() -> tuple[tuple[str, int], tuple[str, int]]:
        return _backend(), read_beside(_backend).result(timeout=30)

    outer, inner = read_beside(nested).result(timeout=30)
    assert inner == outer  # the same thread and connection (another thread's could be idle)
    assert outer[0].startswith(THREAD_NAME)


def test_a_connection_that_broke_is_replaced_before_the_next_read():
    _thread, pid = read_beside(_backend).result(timeout=30)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    _thread, again = read_beside(_backend).result(timeout=30)
    assert again != pid


def test_closing_ends_the_threads_connection_and_the_next_read_opens_one():
    _thread, pid = read_beside(_backend).result(timeout=30)
    reads_beside_close()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert read_beside(_backend).result(timeout=30)[1] != pid


def test_cores_to_spare_follow_the_load_average():
    load = os.getloadavg()[0]
    assert cores_to_spare(below_load=math.ceil(load) + 1000)
    assert not cores_to_spare(below_load=0)  # off, whatever the load
