"""The patrol app's raw SQL statements, in one place (see patrol.facts and patrol.stats for why
each is SQL and not the ORM). Parameters are always bound."""

from __future__ import annotations

# --- the daily case facts (patrol.facts) --------------------------------------------------------
#
# One pass, four groupings (GROUPING SETS): each day's total, and its rows per community, per
# category and per handler (the ``dimension`` column says which). Parameters: tz (the local
# time zone's name), start (timestamptz: the first local day's
# midnight), start_day (that day), now (timestamptz: open cases past their deadline at this
# moment are overdue). A case's deciding task is its task done, else its latest (by offer):
# the case's figures go to that task's day and handler, so a case counts once however often
# it was declined or redispatched. Hours are (end − start) / 3600 s.
CASE_FACTS_INSERT = """
WITH deciding AS (
    SELECT DISTINCT ON (t.case_id) t.case_id, t.assignee_kind, t.team_id, t.department_id,
           t.offered_at, t.resolution_due, t.status
    FROM patrol_task t
    ORDER BY t.case_id, (t.status = 'done') DESC, t.offered_at DESC, t.id DESC
), rated AS (
    SELECT case_id, count(*) AS ratings, count(*) FILTER (WHERE score >= 4) AS satisfied
    FROM patrol_rating GROUP BY case_id
), facts AS (
    SELECT (r.received_at AT TIME ZONE %(tz)s)::date AS day, r.subdistrict_id,
           r.community_grid_id, r.category_id, COALESCE(d.assignee_kind, '') AS handler_kind,
           d.team_id, d.department_id,
           1 AS reports, 0 AS dispatched, 0 AS accepted_on_time, 0 AS cases, 0 AS closed,
           0 AS closed_on_time, 0 AS overdue, 0 AS ratings, 0 AS satisfied,
           NULL::float8 AS response_h, NULL::float8 AS resolution_h
    FROM issues_report r LEFT JOIN deciding d ON d.case_id = r.case_id
    WHERE r.received_at >= %(from_time)s
    UNION ALL
    SELECT (t.offered_at AT TIME ZONE %(tz)s)::date, c.subdistrict_id, c.community_grid_id,
           c.category_id, t.assignee_kind, t.team_id, t.department_id,
           0, 1, (t.accepted_at IS NOT NULL AND t.accepted_at <= t.response_due)::int,
           0, 0, 0, 0, 0, 0,
           EXTRACT(EPOCH FROM t.accepted_at - t.offered_at)::float8 / 3600, NULL
    FROM patrol_task t JOIN issues_case c ON c.id = t.case_id
    WHERE t.offered_at >= %(from_time)s
    UNION ALL
    SELECT (d.offered_at AT TIME ZONE %(tz)s)::date, c.subdistrict_id, c.community_grid_id,
           c.category_id, d.assignee_kind, d.team_id, d.department_id,
           0, 0, 0, 1, (c.closed_at IS NOT NULL)::int,
           (d.status = 'done' AND c.closed_at IS NOT NULL
            AND c.closed_at <= d.resolution_due)::int,
           (c.stage <> 'cancelled' AND COALESCE(c.closed_at, %(now)s) > d.resolution_due)::int,
           COALESCE(rated.ratings, 0), COALESCE(rated.satisfied, 0),
           NULL, EXTRACT(EPOCH FROM c.closed_at - d.offered_at)::float8 / 3600
    FROM deciding d JOIN issues_case c ON c.id = d.case_id
    LEFT JOIN rated ON rated.case_id = d.case_id
    WHERE d.offered_at >= %(from_time)s
)
INSERT INTO patrol_casedayfact (
    day, subdistrict_id, dimension, community_grid_id, category_id, handler_kind, team_id,
    department_id, reports, dispatched, accepted_on_time, cases, closed, closed_on_time,
    overdue, ratings, satisfied, response_hours, resolution_hours)
SELECT day, subdistrict_id,
       CASE WHEN GROUPING(community_grid_id) = 0 THEN 'community'
            WHEN GROUPING(category_id) = 0 THEN 'category'
            WHEN GROUPING(handler_kind) = 0 THEN 'handler' ELSE 'total' END,
       community_grid_id, category_id, COALESCE(handler_kind, ''), team_id, department_id,
       sum(reports), sum(dispatched), sum(accepted_on_time), sum(cases), sum(closed),
       sum(closed_on_time), sum(overdue), sum(ratings), sum(satisfied),
       COALESCE(array_agg(response_h) FILTER (WHERE response_h IS NOT NULL), '{}'),
       COALESCE(array_agg(resolution_h) FILTER (WHERE resolution_h IS NOT NULL), '{}')
FROM facts
WHERE day >= %(start_day)s
GROUP BY GROUPING SETS ((day, subdistrict_id), (day, subdistrict_id, community_grid_id),
                        (day, subdistrict_id, category_id),
                        (day, subdistrict_id, handler_kind, team_id, department_id))
"""

# --- the statistics (patrol.stats) --------------------------------------------------------------
#
# The figures of the facts in [since, until) of some subdistricts, grouped by ``{key}`` (an SQL
# expression over the fact row ``f``, from patrol.stats's fixed table, never user input). The
# medians unnest the hours of the period's rows: one pass for the sums, one for both medians.
# Parameters: dimension (the rows read: "total" for the summary, the trend and the subdistricts),
# since, until (dates), all_subdistricts (bool), subdistricts (an int array).
_STATS_WHERE = """f.dimension = %(dimension)s AND f.day >= %(since)s AND f.day < %(until)s
      AND (%(all_subdistricts)s OR f.subdistrict_id = ANY(%(subdistricts)s))"""
# The key is computed once per fact row, before the hours are unnested (date_trunc per hour
# cost five times the median itself at 100,000 reports).
_STATS_MEDIANS = """SELECT k.key,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY h.response) AS median_response_hours,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY h.resolution) AS median_resolution_hours
    FROM (SELECT {key} AS key, f.response_hours, f.resolution_hours
          FROM patrol_casedayfact f
          WHERE """ + _STATS_WHERE + """ ORDER BY 1) k
    -- both arrays side by side in one pass (the shorter padded with NULLs, which the
    -- medians ignore)
    CROSS JOIN LATERAL unnest(k.response_hours, k.resolution_hours) AS h(response, resolution)
    GROUP BY 1"""
# Two reads of the same rows (by the index on dimension, subdistrict, day), not one CTE: a CTE
# read twice is materialised with every column, hours arrays included, and the sums never need
# the arrays.
STATS_FIGURES = """
SELECT sums.*, medians.median_response_hours, medians.median_resolution_hours
FROM (
    SELECT {key} AS key, sum(reports) AS reports, sum(dispatched) AS dispatched,
           sum(accepted_on_time) AS accepted_on_time, sum(cases) AS cases,
           sum(closed) AS closed, sum(closed_on_time) AS closed_on_time,
           sum(overdue) AS overdue, sum(ratings) AS ratings, sum(satisfied) AS satisfied
    FROM patrol_casedayfact f
    WHERE """ + _STATS_WHERE + """
    GROUP BY 1
) sums
LEFT JOIN (""" + _STATS_MEDIANS + """) medians USING (key)
"""
