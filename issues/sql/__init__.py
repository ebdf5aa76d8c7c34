"""The issues app's raw SQL, in one place: the PL/pgSQL functions its migrations deploy (as
``.sql`` files beside this module) and the statements its services and aggregates run.

Constants reach SQL from one place: the metric SRID and the cell size from civicmap.spatial,
the stored SRID from civicmap.models. Statements take them as bound parameters where PostgreSQL
allows it; a ``.sql`` file takes them as ``str.format`` placeholders filled by ``function_sql``.
"""

from __future__ import annotations

from pathlib import Path

from civicmap.models import WGS84
from civicmap.spatial import CELL_SIZE_M, METRIC_SRID

_DIR = Path(__file__).resolve().parent

# The placeholders a ``.sql`` file may use, each from its one definition.
SQL_CONSTANTS = {"metric_srid": METRIC_SRID, "cell_size_m": CELL_SIZE_M, "wgs84_srid": WGS84}


def function_sql(name: str) -> str:
    """The text of ``issues/sql/<name>.sql`` with its placeholders filled (SQL_CONSTANTS): a
    ``CREATE OR REPLACE FUNCTION`` statement a migration can run as it is."""
    return (_DIR / f"{name}.sql").read_text().format(**SQL_CONSTANTS)
