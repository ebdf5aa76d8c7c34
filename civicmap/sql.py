"""The civicmap app's raw SQL, in one place (the grid rule, the bulk paths' TRUNCATE, the replica).

Values reach the statements as bound parameters; table names and the SRID come from the models
and civicmap.models.WGS84 when a statement is built, never from input.
"""

from __future__ import annotations

from civicmap.models import WGS84, CommunityGrid, UnitGrid


def grid_locate_sql(*, lon: str, lat: str) -> str:
    """The grid rule as one SELECT of (unit grid id or NULL, community id, subdistrict id) for
    the point at
    the SQL expressions ``lon``, ``lat`` (WGS 84 degrees): intake binds parameters, the bulk
    load (fixtures.sql) joins it laterally to its staged rows, so both follow one rule.

    ST_Covers counts the boundary, so a point on an edge shared by two grids matches both: the
    lowest grid ID (code) wins, so the same point always gets the same grid. Append runs its
    branches in order and stops at LIMIT 1: the community branch only runs for a point that no
    unit grid covers (the unit grids need not tile a community).
    """
    point = f"ST_SetSRID(ST_MakePoint({lon}, {lat}), {WGS84})"
    units, communities = UnitGrid._meta.db_table, CommunityGrid._meta.db_table
    return f"""
        (SELECT u.id, u.community_id, c.subdistrict_id FROM {units} u
         JOIN {communities} c ON c.id = u.community_id
         WHERE ST_Covers(u.boundary, {point}) ORDER BY u.grid_id LIMIT 1)
        UNION ALL
        (SELECT NULL, id, subdistrict_id FROM {communities}
         WHERE ST_Covers(boundary, {point}) ORDER BY code LIMIT 1)
        LIMIT 1"""


# The grid rule for one point bound as %(lon)s, %(lat)s (WGS 84 degrees): one statement, one
# round trip; intake runs it for every report (docs/DECISIONS.md, "Intake's lookups in SQL").
GRID_LOCATE = grid_locate_sql(lon="%(lon)s", lat="%(lat)s")

# Run the deferred foreign-key checks now (PostgreSQL refuses TRUNCATE while they are pending).
CONSTRAINTS_IMMEDIATE = "SET CONSTRAINTS ALL IMMEDIATE"
# Defer them again, as the models declare them.
CONSTRAINTS_DEFERRED = "SET CONSTRAINTS ALL DEFERRED"


def truncate_sql(tables: tuple[str, ...], *, restart_identity: bool = False) -> str:
    """``TRUNCATE <tables> [RESTART IDENTITY] CASCADE``; the names are the code's own table
    names (never input)."""
    identity = " RESTART IDENTITY" if restart_identity else ""
    return f"TRUNCATE {', '.join(tables)}{identity} CASCADE"

# The read replica's state in one round trip (civicmap.replica): a standby at all, its WAL
# receiver running, how many seconds behind (0 when it has replayed all it received: an idle
# primary sends nothing, and the time of the last replayed commit would only say how idle),
# and whether it has replayed past the WAL position bound as %s (a client's last write).
REPLICA_STATE = """
    SELECT pg_is_in_recovery(),
           EXISTS (SELECT 1 FROM pg_stat_wal_receiver),
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp()
                                             - pg_last_xact_replay_timestamp()),
                              'Infinity') END,
           COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)"""
# The primary's WAL position now: past every transaction this session committed.
PRIMARY_WAL_POSITION = "SELECT pg_current_wal_lsn()::text"
