"""The test database's reference state, kept in memory and put back after a transactional test.

A transactional test (``transaction=True``, ``live_server``: the browser tests, the Celery and
replica tests) commits, so Django's ``TransactionTestCase`` empties the database after it: a
``flush`` (one TRUNCATE of every table, then ``post_migrate`` recreating the content types,
permissions and role groups), after which the next test that needs the reference data reloaded
it through the seed loader (the geography's GeoJSON, the catalogue, the people). That took
seconds after every transactional test: on this machine the TRUNCATE alone, which gives some
200 tables and indexes new files, takes about a second, and more under load.

Instead, right after the session's database is set up (migrated, reference data loaded), every
non-empty Django table is copied out in PostgreSQL's binary COPY format and kept in memory with
its row count and the transactions that wrote its rows (``reference_state_take``). After a
transactional test, a table has changed if its row count differs or a row was written by any
other transaction (an insert or update writes a row version stamped with its transaction's id,
``xmin``; a delete lowers the count unless a write makes up for it). Only the changed tables are
emptied (DELETE: a test leaves few rows) and written back from the copy, in one transaction
(``reference_state_restore``). Every test, transactional or not, so starts from the state the
session set up, with the same rows and ids, as an ordinary test always did.

A module whose transactional tests only read the same rows commits them once and pushes the
state with them (``reference_state_pushed``): its tests are then put back to that state, and the
session's is put back when the module is done.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections, transaction

# Transaction ids in ``xmin`` are 32 bits; pg_current_xact_id() adds an epoch above them.
XID_SPAN = 2**32


@dataclass
class ReferenceState:
    """Each Django table of one database (what ``flush`` empties) with its row count, the ids
    of the transactions that wrote those rows (as text), and its rows in binary COPY format
    (non-empty tables only). ``xids`` changes when a restore writes a table back."""

    alias: str
    counts: dict[str, int]
    xids: dict[str, list[str]]
    rows: dict[str, bytes]


# The states a transactional test's teardown puts back, the last one first: the session's
# (conftest's django_db_setup), then any module's pushed on it.
STATES: list[ReferenceState] = []


def reference_state_take(*, alias: str = "default", base: ReferenceState | None = None
                         ) -> ReferenceState:
    """Copy out every Django table of ``alias`` as it is now; with ``base``, only the tables
    changed since it (the others are taken from it)."""
    connection = connections[alias]
    tables = sorted(connection.introspection.django_table_names(
        only_existing=True, include_views=False))
    state = ReferenceState(alias=alias, counts={}, xids={}, rows={})
    if base is not None:
        changed = set(reference_state_changed(state=base))
        for table in set(tables) - changed:
            state.counts[table], state.xids[table] = base.counts[table], list(base.xids[table])
            if table in base.rows:
                state.rows[table] = base.rows[table]
        tables = sorted(changed)
    with connection.cursor() as cursor:
        for table in tables:
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT xmin::text, count(*) FROM {quoted} GROUP BY 1")
            written = dict(cursor.fetchall())
            state.counts[table] = sum(written.values())
            state.xids[table] = sorted(written)
            if written:
                buffer = io.BytesIO()
                cursor.copy_expert(f"COPY {quoted} TO STDOUT (FORMAT binary)", buffer)
                state.rows[table] = buffer.getvalue()
    return state


def reference_state_changed(*, state: ReferenceState) -> list[str]:
    """The tables whose rows are no longer exactly those of ``state`` (one query for all)."""
    connection = connections[state.alias]
    parts, params = [], []
    for table in state.counts:
        quoted = connection.ops.quote_name(table)
        parts.append("SELECT %s, count(*), count(*) FILTER (WHERE xmin::text <> ALL(%s::text[]))"
                     f" FROM {quoted}")
        params += [table, state.xids[table]]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return [table for table, count, written in cursor.fetchall()
                if count != state.counts[table] or written]


def reference_state_restore(*, state: ReferenceState) -> list[str]:
    """Put every changed table back to ``state``; returns those tables.

    ``session_replication_role = replica`` (for this transaction only) holds the foreign-key
    and other triggers, so the tables empty and load in any order and each row comes back
    exactly as it was copied, not as a trigger (say, a count kept by one) would rewrite it; the
    rows were consistent when taken, and every table a trigger had changed is restored too.
    """
    changed = reference_state_changed(state=state)
    if not changed:
        return changed
    connection = connections[state.alias]
    with transaction.atomic(using=state.alias), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        # A connection a test leaked with a row lock fails this teardown, not hangs the run.
        cursor.execute("SET LOCAL lock_timeout = '60s'")
        for table in changed:
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"DELETE FROM {quoted}")
            if table in state.rows:
                cursor.copy_expert(f"COPY {quoted} FROM STDIN (FORMAT binary)",
                                   io.BytesIO(state.rows[table]))
        cursor.execute("SELECT pg_current_xact_id()::text")
        restored_by = str(int(cursor.fetchone()[0]) % XID_SPAN)
    for table in changed:
        state.xids[table] = [restored_by] if table in state.rows else []
    return changed


@contextmanager
def reference_state_pushed(*, alias: str = "default") -> Iterator[ReferenceState]:
    """Within it, a transactional test is put back to the database as it is on entry (the rows
    a module's tests share, committed) rather than to the state below; on exit the database is
    put back to that state, and the connection closed as a transactional test's teardown
    closes it (an open one would keep the test database from being dropped)."""
    STATES.append(reference_state_take(alias=alias, base=STATES[-1]))
    try:
        yield STATES[-1]
    finally:
        STATES.pop()
        reference_state_restore(state=STATES[-1])
        connections[alias].close()
