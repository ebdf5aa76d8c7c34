"""Small database helpers shared by the bulk paths."""

from __future__ import annotations

from django.db import connection


def tables_truncate(*tables: str, restart_identity: bool = False) -> None:
    """TRUNCATE tables (with CASCADE), also inside a transaction that has written rows.

    PostgreSQL refuses TRUNCATE while this transaction's deferred foreign-key checks are
    pending, so they are run first; the constraints are deferred again afterwards.
    """
    identity = " RESTART IDENTITY" if restart_identity else ""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {', '.join(tables)}{identity} CASCADE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
