"""Small database helpers shared by the bulk paths."""

from __future__ import annotations

from django.db import connection

from civicmap.sql import CONSTRAINTS_DEFERRED, CONSTRAINTS_IMMEDIATE, truncate_sql


def tables_truncate(*tables: str, restart_identity: bool = False) -> None:
    """TRUNCATE tables (with CASCADE), also inside a transaction that has written rows.

    PostgreSQL refuses TRUNCATE while this transaction's deferred foreign-key checks are
    pending, so they are run first; the constraints are deferred again afterwards.
    """
    with connection.cursor() as cursor:
        cursor.execute(CONSTRAINTS_IMMEDIATE)
        cursor.execute(truncate_sql(tables, restart_identity=restart_identity))
        cursor.execute(CONSTRAINTS_DEFERRED)
