"""The PL/pgSQL functions the migrations deployed are the ones their ``.sql`` files describe.

issues/sql/<name>.sql is where a function is read and changed; a change there without a
migration that deploys it would leave the database running the old rule. pg_get_functiondef
gives the deployed definition; its arguments, language, volatility and body must equal the
file's as issues.sql.function_sql renders it (whitespace runs normalised to one space).
"""

from __future__ import annotations

import re

import pytest
from django.db import connection

from issues.sql import function_sql

pytestmark = pytest.mark.django_db

FUNCTIONS = ["issues_case_merge_candidate"]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _file_parts(name: str) -> tuple[str, str, str, str]:
    """(arguments, language, volatility, body) of the file's CREATE FUNCTION statement."""
    sql = function_sql(name.removeprefix("issues_"))
    header, body, _ = sql.split("$$")
    match = re.search(rf"FUNCTION {name}\((?P<args>.*)\)\s*LANGUAGE (?P<lang>\w+) (?P<vol>\w+) AS",
                      header, re.S)
    assert match, f"issues/sql/{name}.sql: no CREATE FUNCTION {name}(…) LANGUAGE … AS $$"
    return (_squash(match["args"]), match["lang"].lower(), match["vol"].upper(), _squash(body))


def _deployed_parts(name: str) -> tuple[str, str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef(%s::regproc), pg_get_function_arguments("
                       "%s::regproc)", [name, name])
        definition, arguments = cursor.fetchone()
    match = re.search(r"LANGUAGE (?P<lang>\w+)\n(?:(?P<vol>IMMUTABLE|STABLE)\n)?AS \$function\$"
                      r"(?P<body>.*)\$function\$", definition, re.S)
    assert match, definition
    # pg_get_functiondef leaves VOLATILE, the default, unsaid.
    return (_squash(arguments), match["lang"], match["vol"] or "VOLATILE", _squash(match["body"]))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_deployed_function_equals_its_sql_file(name):
    assert _deployed_parts(name) == _file_parts(name)


def test_the_file_takes_the_metric_srid_and_cell_size_from_civicmap_spatial():
    from civicmap.spatial import CELL_SIZE_M, METRIC_SRID

    body = _file_parts("issues_case_merge_candidate")[3]
    assert f"{METRIC_SRID})" in body and f"/ {CELL_SIZE_M})::bigint" in body
    raw = function_sql.__globals__["_DIR"].joinpath("case_merge_candidate.sql").read_text()
    assert "4548" not in raw.split("CREATE OR REPLACE", 1)[1]


def test_going_back_from_0040_deploys_the_class_lock_and_nothing_else_changed():
    # Migration 0040's reverse is the file with its lock put back per class alone: if the
    # file's lock changes, the reverse must be written again, not silently deploy the new one.
    from importlib import import_module

    lock = import_module("issues.migrations.0040_case_merge_lock_per_subdistrict")
    current, previous = function_sql("case_merge_candidate"), lock._previous()
    assert lock.CLASS_AND_SUBDISTRICT_LOCK in current and lock.CLASS_LOCK not in current
    assert lock.CLASS_LOCK in previous and lock.CLASS_AND_SUBDISTRICT_LOCK not in previous
    assert previous.replace(lock.CLASS_LOCK, lock.CLASS_AND_SUBDISTRICT_LOCK) == current
