"""The benchmarks' reading of PostgreSQL's CPU (bench/_common.py): a backend's CPU is counted
once it is reaped, and the benchmark can wait for that."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import _common as common  # noqa: E402

BURN = "SELECT count(*) FROM generate_series(1, 3000000)"  # a few tenths of a second of CPU


def test_an_ended_backend_is_waited_for_and_its_cpu_counted():
    before = common.postgres_cpu_s()
    conn = psycopg2.connect(host=common.PG_HOST, port=common.PG_PORT, user=common.PG_USER,
                            dbname="postgres")
    pid = str(conn.get_backend_pid())
    with conn.cursor() as cursor:
        cursor.execute(BURN)
        cursor.execute("SELECT pg_backend_pid()")
        assert str(cursor.fetchone()[0]) == pid
    assert pid in common.postgres_children()
    conn.close()

    assert common.postgres_backends_reaped(pids={pid}, database="postgres")

    assert pid not in common.postgres_children()
    # Other tests' backends only add to the total; the burn alone is well over 0.05 s.
    assert common.postgres_cpu_s() - before > 0.05


def test_a_live_backend_of_the_database_is_not_reaped_in_time():
    conn = psycopg2.connect(host=common.PG_HOST, port=common.PG_PORT, user=common.PG_USER,
                            dbname="postgres")
    try:
        pid = str(conn.get_backend_pid())
        assert not common.postgres_backends_reaped(pids={pid}, database="postgres",
                                                   timeout_s=0.2)
        # Another database's backend is not waited for.
        assert common.postgres_backends_reaped(pids={pid}, database="not_this_one",
                                               timeout_s=0.2)
    finally:
        conn.close()
