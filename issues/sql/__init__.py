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
from civicmap.sql import grid_locate_sql

_DIR = Path(__file__).resolve().parent

# The placeholders a ``.sql`` file may use, each from its one definition.
SQL_CONSTANTS = {"metric_srid": METRIC_SRID, "cell_size_m": CELL_SIZE_M, "wgs84_srid": WGS84}


def function_sql(name: str) -> str:
    """The text of ``issues/sql/<name>.sql`` with its placeholders filled (SQL_CONSTANTS): a
    ``CREATE OR REPLACE FUNCTION`` statement a migration can run as it is."""
    return (_DIR / f"{name}.sql").read_text().format(**SQL_CONSTANTS)


# --- intake (issues.services.intake) ---------------------------------------------------------

# Serialises one rider's intakes until commit: a transaction-level advisory lock keyed by the
# rider's id (the one parameter).
REPORTER_INTAKE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('report-intake'), %s)"

# The duplicate rule, one call of issues_case_merge_candidate (case_merge_candidate.sql): the
# (case id or NULL, whether it is open to join). Parameters: category (id), lon, lat (WGS 84
# degrees), radius (metres, planar in civicmap.spatial.METRIC_SRID), open and closed (stage
# lists), window_start and follow_start (timestamptz).
CASE_MERGE_CANDIDATE = """SELECT case_id, is_open FROM issues_case_merge_candidate(
                   %(category)s, %(lon)s, %(lat)s, %(radius)s, %(open)s, %(closed)s,
                   %(window_start)s, %(follow_start)s)"""


# --- cases (issues.services.cases) -----------------------------------------------------------

# The running mean of the case's points (lon/lat, as case_summary_recount's centroid) and its
# counts, in one statement: a hotspot case of thousands of reports costs what a new one does.
# An anonymous report counts as one more reporter; a rider counts once. The caller holds the
# case's row lock (intake's SELECT … FOR UPDATE), and the report row is already written. The
# times never go back: a report timed before the merge lock may join a case opened while it
# waited, so microseconds before that case was created. Parameters: lon, lat (WGS 84 degrees),
# reporter (id or NULL), case, report (ids), at (the report's received_at).
CASE_REPORT_JOINED = f"""
    UPDATE issues_case SET
        location = ST_SetSRID(ST_MakePoint(
            (ST_X(location::geometry) * report_count + %(lon)s) / (report_count + 1),
            (ST_Y(location::geometry) * report_count + %(lat)s) / (report_count + 1)),
            {WGS84})::geography,
        report_count = report_count + 1,
        reporter_count = reporter_count + CASE WHEN %(reporter)s::bigint IS NULL
            OR NOT EXISTS (SELECT 1 FROM issues_report r WHERE r.case_id = %(case)s
                           AND r.reporter_id = %(reporter)s AND r.id <> %(report)s)
            THEN 1 ELSE 0 END,
        last_report_at = GREATEST(last_report_at, %(at)s),
        updated_at = GREATEST(updated_at, %(at)s)
    WHERE id = %(case)s"""


# --- aggregates (issues.aggregates) ----------------------------------------------------------
# Raw SQL because Django's upsert cannot increment a counter (``ON CONFLICT … DO UPDATE SET
# count = count + n``). ``{where}`` is a condition on ``issues_report r`` written by
# issues.aggregates (its values bound as parameters); ``{select}`` is a *_SELECT so formatted.

# One row per (cell, hour, category) for the reports the WHERE clause selects.
CELL_SELECT = f"""
    SELECT floor(ST_X(ST_Transform(r.location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
           floor(ST_Y(ST_Transform(r.location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
           date_trunc('hour', r.received_at), r.category_id, count(*)
    FROM issues_report r WHERE {{where}}
    GROUP BY 1, 2, 3, 4
"""
# One row per (community, unit grid or NULL, hour, category): a report in no unit grid is
# counted in its community's row (issues.models.GridCount).
UNIT_SELECT = """
    SELECT r.community_grid_id, r.unit_grid_id, date_trunc('hour', r.received_at),
           r.category_id, count(*)
    FROM issues_report r WHERE r.community_grid_id IS NOT NULL AND {where}
    GROUP BY 1, 2, 3, 4
"""
# One statement per kind of aggregate: the hourly counts, upserted, and the same counts summed
# by day (date_trunc in UTC, whatever the session's time zone), upserted.
CELL_INSERT = """
    WITH counted (cell_x, cell_y, hour, category_id, n) AS ({select}),
    hourly AS (
        INSERT INTO issues_reportcellhour (cell_x, cell_y, hour, category_id, count)
        SELECT cell_x, cell_y, hour, category_id, n FROM counted
        ON CONFLICT (hour, category_id, cell_x, cell_y)
        DO UPDATE SET count = issues_reportcellhour.count + EXCLUDED.count
    )
    INSERT INTO issues_reportcellday (cell_x, cell_y, day, category_id, count)
    SELECT cell_x, cell_y, date_trunc('day', hour, 'UTC'), category_id, sum(n) FROM counted
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, category_id, cell_x, cell_y)
    DO UPDATE SET count = issues_reportcellday.count + EXCLUDED.count
"""
# The unique constraints are NULLS NOT DISTINCT, so a community's own row conflicts too.
UNIT_INSERT = """
    WITH counted (community_id, unit_grid_id, hour, category_id, n) AS ({select}),
    hourly AS (
        INSERT INTO issues_reportunitgridhour (community_id, unit_grid_id, hour, category_id,
                                               count)
        SELECT community_id, unit_grid_id, hour, category_id, n FROM counted
        ON CONFLICT (hour, category_id, community_id, unit_grid_id)
        DO UPDATE SET count = issues_reportunitgridhour.count + EXCLUDED.count
    )
    INSERT INTO issues_reportunitgridday (community_id, unit_grid_id, day, category_id, count)
    SELECT community_id, unit_grid_id, date_trunc('day', hour, 'UTC'), category_id, sum(n)
    FROM counted
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, category_id, community_id, unit_grid_id)
    DO UPDATE SET count = issues_reportunitgridday.count + EXCLUDED.count
"""


# --- the bulk path (issues.services.bulk) ----------------------------------------------------
# Drafts are staged in temporary tables (ON COMMIT DROP), cases and reports go in with COPY and
# one INSERT … SELECT.

# ON COMMIT DROP does not fire inside an outer transaction (a savepoint): drop leftovers.
BULK_STAGING_DROP = "DROP TABLE IF EXISTS report_staging, report_assignment"

# The drafts, one row each, numbered by received order (seq).
BULK_STAGING_CREATE = """CREATE TEMP TABLE report_staging (
               seq integer PRIMARY KEY, lon double precision, lat double precision,
               category_id bigint, received_at timestamptz, reporter_id integer,
               description text, client_uuid uuid, captured_at timestamptz, channel text,
               case_seq integer, joined boolean
           ) ON COMMIT DROP"""

# The staged drafts' points in the metric SRID (x, y in metres), by seq: the same numbers
# PostGIS gives intake.
BULK_STAGING_METRIC_POINTS = f"""SELECT ST_X(p), ST_Y(p) FROM (
                SELECT seq, ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), {WGS84}),
                                         {METRIC_SRID}) AS p
                FROM report_staging) s ORDER BY seq"""

# Which case each staged draft belongs to, and whether it joined an earlier report's case.
BULK_ASSIGNMENT_CREATE = ("CREATE TEMP TABLE report_assignment (seq integer PRIMARY KEY, "
                          "case_id bigint, joined boolean) ON COMMIT DROP")

# The staged reports into issues_report with their cases, the grid rule applied point by point
# (civicmap.sql.grid_locate_sql, intake's).
BULK_REPORTS_INSERT = f"""INSERT INTO issues_report (
               location, sent_lon, sent_lat, sent_coord_system, location_source,
               location_flagged, category_id, description, client_uuid, content_sha256,
               channel, reporter_id, captured_at, received_at, unit_grid_id,
               community_grid_id, case_id, joined_existing_case, contact_email,
               contact_first_name, contact_last_name, contact_phone, device_id, account_id,
               media_url, attributes)
           SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), {WGS84})::geography, s.lon, s.lat,
                  'wgs84', 'device', false, s.category_id, s.description, s.client_uuid, '',
                  s.channel, s.reporter_id, s.captured_at, s.received_at, g.id,
                  g.community_id, a.case_id, a.joined, '', '', '', '', '', '', '', '{{}}'
           FROM report_staging s JOIN report_assignment a USING (seq)
           LEFT JOIN LATERAL ({grid_locate_sql(lon="s.lon", lat="s.lat")}
           ) g (id, community_id) ON true
           ORDER BY s.seq"""

# Each new case gets the grids of its first report (as intake does). Parameters: the first and
# the last new case id.
BULK_CASES_GRIDS_SET = """UPDATE issues_case c SET unit_grid_id = f.unit_grid_id,
                                    community_grid_id = f.community_grid_id
           FROM (SELECT DISTINCT ON (case_id) case_id, unit_grid_id, community_grid_id
                 FROM issues_report WHERE case_id BETWEEN %s AND %s
                 ORDER BY case_id, received_at, id) f
           WHERE c.id = f.case_id"""

# The name of issues_case's id sequence.
CASE_ID_SEQUENCE = "SELECT pg_get_serial_sequence('issues_case', 'id')"
# The sequence's next value (parameter: the sequence's name).
SEQUENCE_NEXT = "SELECT nextval(%s)"
# Move the sequence to a value (parameters: its name, the last id reserved).
SEQUENCE_SET = "SELECT setval(%s, %s)"

# The map's hotspots (issues/layers.py case_hotspots). Each cluster summed up in PostgreSQL:
# its members' count, mean position (EPSG:4548 metres and
# WGS 84 degrees), the farthest member from that mean (metres), the commonest categories and
# the newest cases. Raw SQL around the ORM's query of the cases (``{cases}``: the filters, the
# stored EPSG:4548 point ``location_metric``) because Django cannot group by a window
# function's result: with 1,000,000 reports the clusters hold about 20,000 cases, and grouping
# them in Python took 250 ms. Bound parameters in order: ST_ClusterDBSCAN's eps (metres,
# EPSG:4548) and minimum cases (ST_ClusterDBSCAN counts the row itself), the cases' own, whether to
# list the newest cases, the two limits.
CASE_HOTSPOTS = """
WITH clustered AS MATERIALIZED (
    SELECT id, community_grid_id, lon, lat, last_report_at, category_name, community_name,
           ST_X(location_metric) AS x, ST_Y(location_metric) AS y,
           ST_ClusterDBSCAN(location_metric, %s, %s)
               OVER (PARTITION BY community_grid_id) AS cluster
    FROM ({cases}) AS cases
),
member AS (SELECT * FROM clustered WHERE cluster IS NOT NULL),
centre AS (
    SELECT community_grid_id, cluster, count(*) AS n, avg(x) AS cx, avg(y) AS cy,
           avg(lon) AS lon, avg(lat) AS lat, min(community_name) AS community
    FROM member GROUP BY community_grid_id, cluster
),
spread AS (
    SELECT m.community_grid_id, m.cluster,
           max(sqrt((m.x - c.cx) ^ 2 + (m.y - c.cy) ^ 2)) AS radius
    FROM member m JOIN centre c USING (community_grid_id, cluster)
    GROUP BY m.community_grid_id, m.cluster
),
commonest AS (
    SELECT community_grid_id, cluster, category_name, count(*) AS n,
           row_number() OVER (PARTITION BY community_grid_id, cluster
                              ORDER BY count(*) DESC, category_name) AS rank
    FROM member GROUP BY community_grid_id, cluster, category_name
),
newest AS (
    SELECT community_grid_id, cluster, id, category_name, last_report_at,
           row_number() OVER (PARTITION BY community_grid_id, cluster
                              ORDER BY last_report_at DESC, id DESC) AS rank
    FROM member WHERE %s  -- false for the public: nothing to sort
),
-- Materialized: a few rows per cluster, each list computed once (the planner, expecting one
-- cluster, would otherwise recompute them for every cluster).
categories AS MATERIALIZED (
    SELECT community_grid_id, cluster, array_agg(category_name ORDER BY rank) AS names,
           array_agg(n ORDER BY rank) AS counts
    FROM commonest WHERE rank <= %s GROUP BY community_grid_id, cluster
),
latest AS MATERIALIZED (
    SELECT community_grid_id, cluster, array_agg(id ORDER BY rank) AS ids,
           array_agg(category_name ORDER BY rank) AS names,
           array_agg(last_report_at ORDER BY rank) AS times
    FROM newest WHERE rank <= %s GROUP BY community_grid_id, cluster
)
SELECT c.community, c.lon, c.lat, s.radius, c.n, k.names, k.counts, l.ids, l.names, l.times
FROM centre c
JOIN spread s USING (community_grid_id, cluster)
JOIN categories k USING (community_grid_id, cluster)
LEFT JOIN latest l USING (community_grid_id, cluster)
ORDER BY c.n DESC, c.community_grid_id, c.cluster
"""
