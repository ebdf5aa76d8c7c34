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
from issues.models import CASE_SEARCH_TEXT_MAX

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
# (case id or NULL, whether it is open to join). Parameters: category and subdistrict (ids),
# lon, lat (WGS 84 degrees), radius (metres, planar in civicmap.spatial.METRIC_SRID), open and
# closed (stage lists), window_start and follow_start (timestamptz).
CASE_MERGE_CANDIDATE = """SELECT case_id, is_open FROM issues_case_merge_candidate(
                   %(category)s, %(subdistrict)s, %(lon)s, %(lat)s, %(radius)s, %(open)s,
                   %(closed)s, %(window_start)s, %(follow_start)s)"""


# A rider's replay and hourly-limit lookups in one statement (intake runs them back to back under
# the rider's lock): the report already sent with this client_uuid (id and content fingerprint,
# NULLs when none: a NULL client_uuid matches nothing), and the received_at of the rider's
# ``offset + 1``-th newest report after ``since`` (NULL when the hour holds fewer), the one that
# leaves the window first. Parameters: reporter (id), client_uuid, since (timestamptz), offset.
REPORTER_REPLAY_AND_LIMIT = """SELECT replay.id, replay.content_sha256, oldest.received_at
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (SELECT id, content_sha256 FROM issues_report
                       WHERE reporter_id = %(reporter)s AND client_uuid = %(client_uuid)s
                       ORDER BY id LIMIT 1) AS replay ON true
    LEFT JOIN LATERAL (SELECT received_at FROM issues_report
                       WHERE reporter_id = %(reporter)s AND received_at > %(since)s
                       ORDER BY received_at DESC OFFSET %(offset)s LIMIT 1) AS oldest ON true"""

# What the answer to a report post shows (issues.selectors.report_answer_get), in one statement:
# the report's own columns, its point as WGS 84 lon/lat, its category, case stage, subdistrict,
# community and unit grid, and its photos' ids and statuses (in their order). Parameter: report.
REPORT_ANSWER = """SELECT r.id, ST_X(r.location::geometry), ST_Y(r.location::geometry),
        r.description, r.sent_lon, r.sent_lat, r.sent_coord_system, r.client_uuid,
        r.received_at, r.joined_existing_case, r.location_source, r.location_flagged,
        r.category_id, cat.code, cat.name_zh, cat.name_en, r.case_id, c.stage,
        r.subdistrict_id, sd.code, r.community_grid_id, cg.code, cg.name_zh, cg.name_en,
        r.unit_grid_id, ug.grid_id,
        ARRAY(SELECT p.id FROM issues_reportphoto p WHERE p.report_id = r.id
              ORDER BY p.position, p.id),
        ARRAY(SELECT p.status FROM issues_reportphoto p WHERE p.report_id = r.id
              ORDER BY p.position, p.id)
    FROM issues_report r
    JOIN issues_category cat ON cat.id = r.category_id
    JOIN issues_case c ON c.id = r.case_id
    JOIN civicmap_subdistrict sd ON sd.id = r.subdistrict_id
    LEFT JOIN civicmap_communitygrid cg ON cg.id = r.community_grid_id
    LEFT JOIN civicmap_unitgrid ug ON ug.id = r.unit_grid_id
    WHERE r.id = %(report)s"""


# --- cases (issues.services.cases) -----------------------------------------------------------

def case_search_text_sql(*, description: str) -> str:
    """The case's search_text after a report of ``description`` (an SQL expression) joined:
    the words appended on a line of their own unless empty or already there, cut at
    CASE_SEARCH_TEXT_MAX characters. issues.services.cases.search_text_build is the same rule
    in Python (a merge or split recounts a case), so every path keeps the column alike."""
    return f"""CASE WHEN {description} = '' OR strpos(search_text, {description}) > 0
                     OR length(search_text) >= {CASE_SEARCH_TEXT_MAX} THEN search_text
                ELSE left(concat_ws(E'\\n', nullif(search_text, ''), {description}),
                          {CASE_SEARCH_TEXT_MAX}) END"""


def case_report_joined_set_sql(*, lon: str, lat: str, at: str, description: str) -> str:
    """The SET list that joins one more report to a case: the running mean of the case's points
    (lon/lat, as case_summary_recount's centroid), one more report, and times that never go
    back (a report timed before the merge lock may join a case opened while it waited, so
    microseconds before that case was created). ``lon``, ``lat`` (WGS 84 degrees) and ``at``
    (the report's received_at) are SQL expressions: intake binds parameters, the demo history's
    bulk load (fixtures.sql) names its staged row's columns, so both move a case alike.
    ``description`` (the report's words) goes into the case's search text
    (case_search_text_sql). The reporter count is the caller's."""
    return f"""location = ST_SetSRID(ST_MakePoint(
            (ST_X(location::geometry) * report_count + {lon}) / (report_count + 1),
            (ST_Y(location::geometry) * report_count + {lat}) / (report_count + 1)),
            {WGS84})::geography,
        report_count = report_count + 1,
        search_text = {case_search_text_sql(description=description)},
        last_report_at = GREATEST(last_report_at, {at}),
        updated_at = GREATEST(updated_at, {at})"""


# A report joined a case (case_report_joined_set_sql) and its reporter counted, in one
# statement: a hotspot case of thousands of reports costs what a new one does. An anonymous
# report counts as one more reporter; a rider counts once. The caller holds the case's row lock
# (intake's SELECT … FOR UPDATE), and the report row is already written. Parameters: lon, lat
# (WGS 84 degrees), reporter (id or NULL), case, report (ids), at (the report's received_at),
# description (its words). Returns the case's stage, which the rider's answer shows.
CASE_REPORT_JOINED = f"""
    UPDATE issues_case SET
        {case_report_joined_set_sql(lon="%(lon)s", lat="%(lat)s", at="%(at)s",
                                    description="%(description)s")},
        reporter_count = reporter_count + CASE WHEN %(reporter)s::bigint IS NULL
            OR NOT EXISTS (SELECT 1 FROM issues_report r WHERE r.case_id = %(case)s
                           AND r.reporter_id = %(reporter)s AND r.id <> %(report)s)
            THEN 1 ELSE 0 END
    WHERE id = %(case)s
    RETURNING stage"""


# --- aggregates (issues.aggregates) ----------------------------------------------------------
# Raw SQL because Django's upsert cannot increment a counter (``ON CONFLICT … DO UPDATE SET
# count = count + n``). ``{where}`` is a condition on ``issues_report r`` written by
# issues.aggregates (its values bound as parameters); ``{select}`` is a *_SELECT so formatted.

# One row per (cell, hour, category, subdistrict) for the reports the WHERE clause selects.
CELL_SELECT = f"""
    SELECT floor(ST_X(ST_Transform(r.location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
           floor(ST_Y(ST_Transform(r.location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
           date_trunc('hour', r.received_at), r.category_id, r.subdistrict_id, count(*)
    FROM issues_report r WHERE {{where}}
    GROUP BY 1, 2, 3, 4, 5
"""
# One row per (community, unit grid or NULL, hour, category): a report in no unit grid is
# counted in its community's row (issues.models.GridCount).
UNIT_SELECT = """
    SELECT r.community_grid_id, r.unit_grid_id, date_trunc('hour', r.received_at),
           r.category_id, r.subdistrict_id, count(*)
    FROM issues_report r WHERE r.community_grid_id IS NOT NULL AND {where}
    GROUP BY 1, 2, 3, 4, 5
"""


# The daily rows summed over the categories of each kind (Category.kind: the code's first
# letter), public and private apart (ReportCellDayTotal, ReportUnitGridDayTotal), upserted, and
# those sums by week from Monday 00:00 UTC (ReportCellWeekTotal, ReportUnitGridWeekTotal),
# upserted: CTEs and the statement's last INSERT, to follow a WITH list. ``{days}`` yields the
# daily rows to add: those intake's statement just counted, or every daily row
# (aggregates_totals_recount). A report has one category: one row of each either way.
def _totals_upsert(*, family: str, place: tuple[str, str], unique: str) -> str:
    """The totals' CTEs and last INSERT for one family of aggregates (``family``: the tables'
    infix, ``cell`` or ``unitgrid``), keyed by its ``place`` columns; ``unique`` is the place
    part of its unique constraints. ``{days}`` is left for the daily rows to add."""
    columns = ", ".join(place)
    daily = ", ".join(f"d.{column}" for column in place)
    return f"""
    kinds ({columns}, day, subdistrict_id, is_private, kind, n) AS (
        SELECT {daily}, d.day, d.subdistrict_id, k.is_private, left(k.code, 1), sum(d.n)
        FROM ({{days}}) d ({columns}, day, category_id, subdistrict_id, n)
        JOIN issues_category k ON k.id = d.category_id
        GROUP BY 1, 2, 3, 4, 5, 6
    ),
    day_totals AS (
        INSERT INTO issues_report{family}daytotal ({columns}, day, subdistrict_id, is_private,
                                                   kind, count)
        SELECT * FROM kinds
        ON CONFLICT (day, {unique}, is_private, kind)
        DO UPDATE SET count = issues_report{family}daytotal.count + EXCLUDED.count
    )
    INSERT INTO issues_report{family}weektotal ({columns}, week, subdistrict_id, is_private,
                                                kind, count)
    SELECT {columns}, date_trunc('week', day, 'UTC'), subdistrict_id, is_private, kind, sum(n)
    FROM kinds GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (week, {unique}, is_private, kind)
    DO UPDATE SET count = issues_report{family}weektotal.count + EXCLUDED.count
"""


def _totals_recount(*, family: str, place: tuple[str, str], upsert: str) -> str:
    """``upsert`` over every daily row of the family (aggregates_totals_recount)."""
    return "WITH " + upsert.format(
        days=f"SELECT {', '.join(place)}, day, category_id, subdistrict_id, count "
             f"FROM issues_report{family}day")


_CELL_PLACE = ("cell_x", "cell_y")
_UNIT_PLACE = ("community_id", "unit_grid_id")
CELL_TOTAL_UPSERT = _totals_upsert(family="cell", place=_CELL_PLACE,
                                   unique="cell_x, cell_y, subdistrict_id")
UNIT_TOTAL_UPSERT = _totals_upsert(family="unitgrid", place=_UNIT_PLACE,
                                   unique="community_id, unit_grid_id")
CELL_TOTALS_RECOUNT = _totals_recount(family="cell", place=_CELL_PLACE,
                                      upsert=CELL_TOTAL_UPSERT)
UNIT_TOTALS_RECOUNT = _totals_recount(family="unitgrid", place=_UNIT_PLACE,
                                      upsert=UNIT_TOTAL_UPSERT)

# One statement per kind of aggregate: the hourly counts, upserted; the same counts summed
# by day (date_trunc in UTC, whatever the session's time zone), upserted; and those summed over
# the categories by day and by week, upserted. ``{{select}}`` is left for a *_SELECT.
CELL_INSERT = """
    WITH counted (cell_x, cell_y, hour, category_id, subdistrict_id, n) AS ({{select}}),
    hourly AS (
        INSERT INTO issues_reportcellhour (cell_x, cell_y, hour, category_id, subdistrict_id,
                                           count)
        SELECT cell_x, cell_y, hour, category_id, subdistrict_id, n FROM counted
        ON CONFLICT (hour, category_id, cell_x, cell_y, subdistrict_id)
        DO UPDATE SET count = issues_reportcellhour.count + EXCLUDED.count
    ),
    daily (cell_x, cell_y, day, category_id, subdistrict_id, n) AS (
        SELECT cell_x, cell_y, date_trunc('day', hour, 'UTC'), category_id, subdistrict_id,
               sum(n)
        FROM counted
        GROUP BY 1, 2, 3, 4, 5
    ),
    days AS (
        INSERT INTO issues_reportcellday (cell_x, cell_y, day, category_id, subdistrict_id,
                                          count)
        SELECT * FROM daily
        ON CONFLICT (day, category_id, cell_x, cell_y, subdistrict_id)
        DO UPDATE SET count = issues_reportcellday.count + EXCLUDED.count
    ),
    {totals}""".format(totals=CELL_TOTAL_UPSERT.format(days="SELECT * FROM daily"))
# The unique constraints are NULLS NOT DISTINCT, so a community's own row conflicts too.
UNIT_INSERT = """
    WITH counted (community_id, unit_grid_id, hour, category_id, subdistrict_id, n) AS
        ({{select}}),
    hourly AS (
        INSERT INTO issues_reportunitgridhour (community_id, unit_grid_id, hour, category_id,
                                               subdistrict_id, count)
        SELECT community_id, unit_grid_id, hour, category_id, subdistrict_id, n FROM counted
        ON CONFLICT (hour, category_id, community_id, unit_grid_id)
        DO UPDATE SET count = issues_reportunitgridhour.count + EXCLUDED.count
    ),
    daily (community_id, unit_grid_id, day, category_id, subdistrict_id, n) AS (
        SELECT community_id, unit_grid_id, date_trunc('day', hour, 'UTC'), category_id,
               subdistrict_id, sum(n)
        FROM counted
        GROUP BY 1, 2, 3, 4, 5
    ),
    days AS (
        INSERT INTO issues_reportunitgridday (community_id, unit_grid_id, day, category_id,
                                             subdistrict_id, count)
        SELECT * FROM daily
        ON CONFLICT (day, category_id, community_id, unit_grid_id)
        DO UPDATE SET count = issues_reportunitgridday.count + EXCLUDED.count
    ),
    {totals}""".format(totals=UNIT_TOTAL_UPSERT.format(days="SELECT * FROM daily"))


# A map period's counts in one statement (issues/layers.py ``_period_sums``): ``{parts}`` is
# the period's aggregate reads (the hours at its ends, its days, its weeks), each grouped by
# its keys and joined by UNION ALL, summed again here so that a key counted in several parts
# comes back once (bigint: sum() of bigints is numeric). The heat cells add each cell's
# centre, transformed once ((x + 0.5) * 100 m in EPSG:4548 to WGS 84 degrees: intake counts a
# report in cell floor(x / 100)), in the cells' order (also the hourly frames' centres, one
# per distinct cell); the grid counts are per community and unit grid (NULL: the community's
# own row).
HEAT_CELLS_SUMMED = f"""
SELECT s.cell_x, s.cell_y, ST_X(c.wgs84), ST_Y(c.wgs84), s.n
FROM (SELECT cell_x, cell_y, sum(n)::bigint AS n
      FROM ({{parts}}) AS parts (cell_x, cell_y, n) GROUP BY 1, 2) AS s
CROSS JOIN LATERAL (
    SELECT ST_Transform(ST_SetSRID(ST_MakePoint((s.cell_x + 0.5) * {CELL_SIZE_M},
                                                (s.cell_y + 0.5) * {CELL_SIZE_M}),
                                   {METRIC_SRID}), {WGS84}) AS wgs84
) AS c
ORDER BY 1, 2
"""
GRID_COUNTS_SUMMED = """
SELECT community_id, unit_grid_id, sum(n)::bigint
FROM ({parts}) AS parts (community_id, unit_grid_id, n) GROUP BY 1, 2
"""


# The map's hotspots (issues/layers.py case_hotspots). Each cluster summed up in PostgreSQL:
# its members' count, mean position (EPSG:4548 metres and WGS 84 degrees), the farthest
# member from that mean (metres), the commonest categories and the newest cases. Raw
# SQL around the ORM's query of the cases (``{cases}``: the filters, the stored EPSG:4548 point
# ``location_metric``) because Django cannot group by a window function's result: with
# 1,000,000 reports the clusters hold about 20,000 cases, and grouping them in Python took 250
# ms. The members carry ids, not names: names (``{name}``, the language's column of the
# categories and the communities) are joined to the few rows per cluster that show them. Bound
# parameters in order: ST_ClusterDBSCAN's eps (metres, EPSG:4548) and minimum cases
# (ST_ClusterDBSCAN counts the row itself), the cases' own, whether to list the newest cases,
# the two limits.
CASE_HOTSPOTS = """
WITH clustered AS MATERIALIZED (
    SELECT id, community_grid_id, category_id, last_report_at, lon, lat,
           ST_X(location_metric) AS x, ST_Y(location_metric) AS y,
           ST_ClusterDBSCAN(location_metric, %s, %s)
               OVER (PARTITION BY community_grid_id) AS cluster
    FROM ({cases}) AS cases
),
member AS (SELECT * FROM clustered WHERE cluster IS NOT NULL),
centre AS (
    SELECT community_grid_id, cluster, count(*) AS n, avg(x) AS cx, avg(y) AS cy,
           avg(lon) AS lon, avg(lat) AS lat
    FROM member GROUP BY community_grid_id, cluster
),
commonest AS (
    SELECT m.community_grid_id, m.cluster, k.{name} AS category_name, m.n,
           row_number() OVER (PARTITION BY m.community_grid_id, m.cluster
                              ORDER BY m.n DESC, k.{name}) AS rank
    FROM (SELECT community_grid_id, cluster, category_id, count(*) AS n
          FROM member GROUP BY 1, 2, 3) m
    JOIN issues_category k ON k.id = m.category_id
),
newest AS (
    SELECT community_grid_id, cluster, id, category_id, last_report_at,
           row_number() OVER (PARTITION BY community_grid_id, cluster
                              ORDER BY last_report_at DESC, id DESC) AS rank
    FROM member WHERE %s  -- false for the public: nothing to sort
),
-- Materialized: a few rows per cluster, each computed once (the planner, expecting one
-- cluster, would otherwise recompute them for every cluster).
spread AS MATERIALIZED (
    SELECT m.community_grid_id, m.cluster,
           max(sqrt((m.x - c.cx) ^ 2 + (m.y - c.cy) ^ 2)) AS radius
    FROM member m JOIN centre c USING (community_grid_id, cluster)
    GROUP BY m.community_grid_id, m.cluster
),
categories AS MATERIALIZED (
    SELECT community_grid_id, cluster, array_agg(category_name ORDER BY rank) AS names,
           array_agg(n ORDER BY rank) AS counts
    FROM commonest WHERE rank <= %s GROUP BY community_grid_id, cluster
),
latest AS MATERIALIZED (
    SELECT w.community_grid_id, w.cluster, array_agg(w.id ORDER BY w.rank) AS ids,
           array_agg(k.{name} ORDER BY w.rank) AS names,
           array_agg(w.last_report_at ORDER BY w.rank) AS times
    FROM newest w JOIN issues_category k ON k.id = w.category_id
    WHERE w.rank <= %s GROUP BY w.community_grid_id, w.cluster
)
SELECT g.{name}, c.lon, c.lat, s.radius, c.n, k.names, k.counts, l.ids, l.names, l.times
FROM centre c
JOIN civicmap_communitygrid g ON g.id = c.community_grid_id
JOIN spread s USING (community_grid_id, cluster)
JOIN categories k USING (community_grid_id, cluster)
LEFT JOIN latest l USING (community_grid_id, cluster)
ORDER BY c.n DESC, c.community_grid_id, c.cluster
"""
