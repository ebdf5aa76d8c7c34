"""Every row of named queries, to compare what two runs of something wrote."""

from __future__ import annotations

from django.db import connection


def query_rows(queries: dict[str, str]) -> dict[str, list[tuple]]:
    """``{name: rows}`` of each query of ``queries`` (``{name: SQL}``), in its own order."""
    with connection.cursor() as cursor:
        rows = {}
        for name, sql in queries.items():
            cursor.execute(sql)
            rows[name] = cursor.fetchall()
        return rows
