"""The civicmap app's raw SQL, in one place (the grid rule, the bulk paths' TRUNCATE, the replica).

Values reach the statements as bound parameters; table names and the SRID come from the models
and civicmap.models.WGS84 when a statement is built, never from input.
"""

from __future__ import annotations

from civicmap.models import WGS84, CommunityGrid, Subdistrict, UnitGrid
from civicmap.spatial import METRIC_SRID


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
# With the places' codes and names that a report's answer and its dispatch show (the
# subdistrict's code and names, the community's code and names, the unit grid's ID), read by
# key beside it (D-082).
GRID_LOCATE = f"""
    SELECT g.unit_grid, g.community, g.subdistrict, s.code, s.name_zh, s.name_en, c.code,
           c.name_zh, c.name_en, u.grid_id
    FROM ({grid_locate_sql(lon="%(lon)s", lat="%(lat)s")}) g (unit_grid, community, subdistrict)
    JOIN {Subdistrict._meta.db_table} s ON s.id = g.subdistrict
    JOIN {CommunityGrid._meta.db_table} c ON c.id = g.community
    LEFT JOIN {UnitGrid._meta.db_table} u ON u.id = g.unit_grid"""

_POINT = f"ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), {WGS84})"
_POINT_METRIC = f"ST_Transform({_POINT}, {METRIC_SRID})"

# The subdistricts bordering subdistrict %(subdistrict)s (their boundaries touch or overlap),
# each with the distance in metres (EPSG:4548) from the point %(lon)s, %(lat)s to its boundary
# polygon (0 inside), by code. Selected as Subdistrict rows (Manager.raw) with ``distance_m``.
SUBDISTRICT_NEIGHBOURS = f"""
    SELECT n.id, n.code, n.name_zh, n.name_en,
           ST_Distance(ST_Transform(n.boundary, {METRIC_SRID}), {_POINT_METRIC}) AS distance_m
    FROM {Subdistrict._meta.db_table} n
    JOIN {Subdistrict._meta.db_table} s ON s.id = %(subdistrict)s
    WHERE n.id <> s.id AND ST_Intersects(n.boundary, s.boundary)
    ORDER BY n.code"""

# The unit grid (and its community) of subdistrict %(subdistrict)s nearest the point %(lon)s,
# %(lat)s, in metres: the grid rule's answer for a point inside it, the nearest grid for a point
# outside. The GiST index's nearest-first scan (in degrees) brings 16 candidates, ranked again
# in metres (EPSG:4548), ties to the lowest grid ID; a subdistrict without unit grids gives its
# nearest community alone.
GRID_NEAREST = f"""
    (SELECT id, community_id, subdistrict_id FROM (
        SELECT u.id, u.community_id, c.subdistrict_id, u.grid_id, u.boundary
        FROM {UnitGrid._meta.db_table} u
        JOIN {CommunityGrid._meta.db_table} c ON c.id = u.community_id
        WHERE c.subdistrict_id = %(subdistrict)s
        ORDER BY u.boundary <-> {_POINT} LIMIT 16) near
     ORDER BY ST_Distance(ST_Transform(boundary, {METRIC_SRID}), {_POINT_METRIC}), grid_id
     LIMIT 1)
    UNION ALL
    (SELECT NULL, id, subdistrict_id FROM {CommunityGrid._meta.db_table}
     WHERE subdistrict_id = %(subdistrict)s
     ORDER BY ST_Distance(ST_Transform(boundary, {METRIC_SRID}), {_POINT_METRIC}), code
     LIMIT 1)
    LIMIT 1"""

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

# --- The geography import's checks (civicmap.services.geography_import) ----------------------
# The file's grids are staged in a temporary table of this transaction and checked there, so a
# dry run and a refused file write nothing. Areas are m² in EPSG:4548.
_SUBDISTRICTS = Subdistrict._meta.db_table
_AREA = f"ST_Area(ST_Transform({{}}, {METRIC_SRID}))"
_METRIC = f"ST_Transform({{}}, {METRIC_SRID})"
# A gap, overlap or part outside counts when it is larger than %(tolerance)s m² and wider than
# %(sliver)s metres somewhere (a negative buffer leaves something): a file rounded to 7
# decimals (1 cm) leaves slivers a centimetre wide along a 10 km border, metres² in all.
_REAL = "ST_Area(g) > %(tolerance)s AND NOT ST_IsEmpty(ST_Buffer(g, -%(sliver)s))"

# Imports run one at a time: each checks its subdistrict against the others as stored.
GEOGRAPHY_IMPORT_LOCK = "SELECT pg_advisory_xact_lock(hashtext('civicmap.geography_import'))"
GEOGRAPHY_STAGE_CREATE = f"""
    DROP TABLE IF EXISTS geography_import_stage;
    CREATE TEMP TABLE geography_import_stage (
        number integer PRIMARY KEY, layer text NOT NULL, code text NOT NULL, parent text,
        geom geometry(Polygon, {WGS84}) NOT NULL, valid boolean) ON COMMIT DROP"""
GEOGRAPHY_STAGE_INSERT = """
    INSERT INTO geography_import_stage (number, layer, code, parent, geom)
    VALUES (%s, %s, %s, %s, ST_GeomFromEWKB(%s))"""
GEOGRAPHY_STAGE_INDEX = """
    UPDATE geography_import_stage SET valid = ST_IsValid(geom);
    CREATE INDEX ON geography_import_stage USING gist (geom);
    ANALYZE geography_import_stage"""
GEOGRAPHY_STAGE_DROP = "DROP TABLE geography_import_stage"
# Each invalid polygon and GEOS's reason (e.g. "Self-intersection[116.39 39.8]").
GEOGRAPHY_STAGE_INVALID = """
    SELECT number, ST_IsValidReason(geom) FROM geography_import_stage WHERE NOT valid
    ORDER BY number"""
# Grids of one level that overlap (subdistricts of a district file too): reported on the later
# feature, naming the earlier.
GEOGRAPHY_STAGE_OVERLAPS = f"""
    SELECT number, other_number, other, ST_Area(g) FROM (
        SELECT b.number, a.number AS other_number, a.code AS other,
               {_METRIC.format("ST_Intersection(a.geom, b.geom)")} AS g
        FROM geography_import_stage a JOIN geography_import_stage b
          ON a.valid AND b.valid AND a.layer = b.layer AND a.number < b.number
             AND ST_Intersects(a.geom, b.geom) AND NOT ST_Touches(a.geom, b.geom)) o
    WHERE {_REAL} ORDER BY number, other_number"""
# A community's parts outside the subdistrict, a unit's outside its community.
GEOGRAPHY_STAGE_OUTSIDE = f"""
    SELECT number, parent, ST_Area(g) FROM (
        SELECT c.number, p.code AS parent, {_METRIC.format("ST_Difference(c.geom, p.geom)")} AS g
        FROM geography_import_stage c JOIN geography_import_stage p
          ON p.code = c.parent
             AND p.layer = CASE c.layer WHEN 'community' THEN 'subdistrict' ELSE 'community' END
        WHERE c.valid AND p.valid) o
    WHERE {_REAL} ORDER BY number"""
# Each part of a subdistrict (community) that no community (unit) covers, with a point in it;
# skipped for a parent with an invalid child (that child is the problem reported).
GEOGRAPHY_STAGE_GAPS = f"""
    SELECT number, layer, ST_Area(g), ST_X(spot), ST_Y(spot) FROM (
        SELECT p.number, p.layer, {_METRIC.format("d.geom")} AS g,
               ST_PointOnSurface(d.geom) AS spot
        FROM geography_import_stage p
        CROSS JOIN LATERAL (SELECT ST_Union(geom) AS geom FROM geography_import_stage c
                            WHERE c.parent = p.code AND c.valid) u
        CROSS JOIN LATERAL ST_Dump(ST_Difference(
            p.geom, coalesce(u.geom, 'SRID={WGS84};POLYGON EMPTY'::geometry))) d
        WHERE p.layer IN ('subdistrict', 'community') AND p.valid
          AND NOT EXISTS (SELECT 1 FROM geography_import_stage c
                          WHERE c.parent = p.code AND NOT c.valid)) g
    WHERE {_REAL} ORDER BY number, ST_Area(g) DESC"""
# The file's subdistricts against the subdistricts already loaded that the file leaves alone.
GEOGRAPHY_STAGE_NEIGHBOURS = f"""
    SELECT number, other, ST_Area(g) FROM (
        SELECT s.number, o.code AS other,
               {_METRIC.format("ST_Intersection(s.geom, o.boundary)")} AS g
        FROM geography_import_stage s JOIN {_SUBDISTRICTS} o
          ON ST_Intersects(s.geom, o.boundary)
             AND o.code NOT IN (SELECT code FROM geography_import_stage
                                WHERE layer = 'subdistrict')
        WHERE s.layer = 'subdistrict' AND s.valid) n
    WHERE {_REAL} ORDER BY other"""
# How far (m² of symmetric difference) the file's subdistrict, as it stands and shifted back
# from GCJ-02, lies from the stored one of the same code, and the stored one's area (m²).
GEOGRAPHY_GCJ02_FIT = f"""
    SELECT {_AREA.format("ST_SymDifference(ST_GeomFromEWKB(%(as_is)s), boundary)")},
           {_AREA.format("ST_SymDifference(ST_GeomFromEWKB(%(shifted)s), boundary)")},
           {_AREA.format("boundary")}
    FROM {_SUBDISTRICTS} WHERE code = %(code)s"""


# Decimal places of a degree in the grids' shapes as the maps draw them (about 0.1 m): the
# overlays' GeoJSON (civicmap.layers) and the plain background's outlines, so that their lines
# meet.
GRID_PRECISION = 6


def _outlines_of(table: str, order: str) -> str:
    """One level's outlines as a JSON array: per grid (by ``order``) the list of its rings,
    exterior first, each a Google encoded polyline (ST_AsEncodedPolyline: latitude and
    longitude rounded to GRID_PRECISION decimals, each position a delta from the last)."""
    return f"""(SELECT coalesce(json_agg(
                  (SELECT json_agg(ST_AsEncodedPolyline(ST_ExteriorRing(ring.geom),
                                                        {GRID_PRECISION}) ORDER BY ring.path)
                   FROM ST_DumpRings(grid.boundary) AS ring) ORDER BY grid.{order}), '[]')
                FROM {table} AS grid)"""


# The plain background (civicmap.layers.grid_outlines_json): every community and unit grid
# outline, in one statement.
GRID_OUTLINES = f"""
    SELECT json_build_object(
        'precision', {GRID_PRECISION},
        'community', {_outlines_of(CommunityGrid._meta.db_table, "code")},
        'unit', {_outlines_of(UnitGrid._meta.db_table, "grid_id")})::text"""
