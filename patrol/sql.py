"""The patrol app's raw SQL statements, in one place (see patrol.facts and patrol.stats for why
each is SQL and not the ORM). Parameters are always bound."""

from __future__ import annotations

# The hours' histograms (CaseDayFact.*_bins, *_counts). HOURS_BIN_SQL is the bin of {hours}:
# bin 0 holds the hours under a minute, bin b ≥ 1 those in [r^(b−1), r^b) minutes, r =
# HOURS_BIN_RATIO: each bin 2 % wide, so a median read from the bins
# (patrol.stats.median_from_histogram) is within 2 % of the exact one (within a minute under a
# minute). A minute to ten years takes about 780 bins.
HOURS_BIN_RATIO = 1.02
HOURS_BIN_SQL = ("CASE WHEN {hours} * 60 < 1 THEN 0 ELSE 1 + floor(ln({hours} * 60) / ln("
                 + repr(HOURS_BIN_RATIO) + "))::int END")

# The fact rows' sums (CaseDayFact), in this order after the key in STATS_FACT_ROWS.
COUNTERS = ("reports", "dispatched", "accepted_on_time", "cases", "closed", "closed_on_time",
            "overdue", "ratings", "satisfied")
_COUNTERS_LIST = ", ".join(COUNTERS)
_COUNTERS_SUMS = ", ".join(f"sum({name}) AS {name}" for name in COUNTERS)
_NO_COUNTERS = ", ".join(f"NULL::int AS {name}" for name in COUNTERS)
# A fact row's key besides its day (the unique constraint's columns).
_FACT_KEYS = ("subdistrict_id, dimension, community_grid_id, category_id, handler_kind, team_id, "
              "department_id")

# The rows of one grain from ``level1`` (a CTE: the keys, the sums, and per bin of each kind
# its count, n): the sums of its lines and its bins in order. Lines of no kind hold sums only.
_FACTS_INSERT = """
INSERT INTO patrol_casedayfact (
    grain, day, subdistrict_id, dimension, community_grid_id, category_id, handler_kind,
    team_id, department_id, """ + _COUNTERS_LIST + """, response_bins, response_counts,
    resolution_bins, resolution_counts)
SELECT {grain}, day, subdistrict_id, dimension, community_grid_id, category_id,
       handler_kind, team_id, department_id, """ + _COUNTERS_SUMS + """,
       COALESCE(array_agg(bin ORDER BY bin) FILTER (WHERE kind = 1), '{{}}'),
       COALESCE(array_agg(n ORDER BY bin) FILTER (WHERE kind = 1), '{{}}'),
       COALESCE(array_agg(bin ORDER BY bin) FILTER (WHERE kind = 2), '{{}}'),
       COALESCE(array_agg(n ORDER BY bin) FILTER (WHERE kind = 2), '{{}}')
FROM level1
GROUP BY day, subdistrict_id, dimension, community_grid_id, category_id, handler_kind,
         team_id, department_id
"""

# --- the daily case facts (patrol.facts) --------------------------------------------------------
#
# One pass, four groupings (GROUPING SETS): each day's total, and its rows per community, per
# category and per handler (the ``dimension`` column says which), each with its hours counted
# per bin. Parameters: tz (the local
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
-- Each line holds at most one hour: its kind (1 response, 2 resolution) and bin, so that the
-- grouping sets count each day's hours per bin beside its sums.
, binned AS (
    SELECT day, subdistrict_id, community_grid_id, category_id, handler_kind, team_id,
           department_id, """ + _COUNTERS_LIST + """,
           CASE WHEN response_h IS NOT NULL THEN 1 WHEN resolution_h IS NOT NULL THEN 2 END
               AS kind,
           """ + HOURS_BIN_SQL.format(hours="COALESCE(response_h, resolution_h)") + """ AS bin
    FROM facts
    WHERE day >= %(start_day)s
), level1 AS (
    SELECT day, subdistrict_id,
           CASE WHEN GROUPING(community_grid_id) = 0 THEN 'community'
                WHEN GROUPING(category_id) = 0 THEN 'category'
                WHEN GROUPING(handler_kind) = 0 THEN 'handler' ELSE 'total' END AS dimension,
           community_grid_id, category_id, COALESCE(handler_kind, '') AS handler_kind, team_id,
           department_id, """ + _COUNTERS_SUMS + """, kind, bin, count(*) AS n
    FROM binned
    GROUP BY GROUPING SETS ((day, subdistrict_id, kind, bin),
                            (day, subdistrict_id, community_grid_id, kind, bin),
                            (day, subdistrict_id, category_id, kind, bin),
                            (day, subdistrict_id, handler_kind, team_id, department_id, kind,
                             bin))
)
""" + _FACTS_INSERT.format(grain="'day'")

# The week and month rows from the day rows (CaseDayFact.grain), after a recount of the day
# rows from ``start_day``: every week or month from the one holding it. Parameters: grain
# ("week" or "month"), start_day. Each day row gives one line of sums, and each bin of its
# week or month one line of its count.
CASE_FACTS_ROLL_UP_DELETE = """
DELETE FROM patrol_casedayfact
WHERE grain = %(grain)s AND day >= date_trunc(%(grain)s, %(start_day)s::date)::date
"""
CASE_FACTS_ROLL_UP = """
WITH days AS (
    SELECT date_trunc(%(grain)s, day)::date AS day, """ + _FACT_KEYS + """,
           """ + _COUNTERS_LIST + """, response_bins, response_counts, resolution_bins,
           resolution_counts
    FROM patrol_casedayfact
    WHERE grain = 'day' AND day >= date_trunc(%(grain)s, %(start_day)s::date)::date
), level1 AS (
    SELECT day, """ + _FACT_KEYS + """, """ + _COUNTERS_LIST + """,
           NULL::int AS kind, NULL::int AS bin, NULL::bigint AS n
    FROM days
    UNION ALL
    SELECT day, """ + _FACT_KEYS + """, """ + _NO_COUNTERS + """, 1, bin, sum(n)
    FROM (SELECT day, """ + _FACT_KEYS + """, unnest(response_bins) AS bin,
                 unnest(response_counts) AS n FROM days) r
    GROUP BY day, """ + _FACT_KEYS + """, bin
    UNION ALL
    SELECT day, """ + _FACT_KEYS + """, """ + _NO_COUNTERS + """, 2, bin, sum(n)
    FROM (SELECT day, """ + _FACT_KEYS + """, unnest(resolution_bins) AS bin,
                 unnest(resolution_counts) AS n FROM days) s
    GROUP BY day, """ + _FACT_KEYS + """, bin
)
""" + _FACTS_INSERT.format(grain="%(grain)s")

# --- the statistics (patrol.stats) --------------------------------------------------------------
#
# The fact rows of [since, until) of some subdistricts, each with its key ``{key}`` (an SQL
# expression over the fact row ``f``, from patrol.stats's fixed table, never user input), its
# sums and its histograms; patrol.stats adds them up per key. The period is read as whole
# months, whole weeks and loose days (patrol.stats chooses them: the month rows of ``months``,
# the week rows of ``weeks``, the day rows of ``days``). Parameters: dimension (the rows read:
# "total" for the summary, the trend and the subdistricts), since, until (dates), days, weeks,
# months (date arrays), all_subdistricts (bool), subdistricts (an int array).
STATS_FACT_ROWS = """
SELECT {key} AS key, """ + ", ".join(f"f.{name}" for name in COUNTERS) + """,
       f.response_bins, f.response_counts, f.resolution_bins, f.resolution_counts
FROM patrol_casedayfact f
WHERE f.dimension = %(dimension)s AND f.day >= %(since)s AND f.day < %(until)s
  AND (f.grain = 'day' AND f.day = ANY(%(days)s::date[])
       OR f.grain = 'week' AND f.day = ANY(%(weeks)s::date[])
       OR f.grain = 'month' AND f.day = ANY(%(months)s::date[]))
  AND (%(all_subdistricts)s OR f.subdistrict_id = ANY(%(subdistricts)s))
"""


# --- who hears a notification (patrol.services.notify) -------------------------------------
# Statements built once: the ORM compiled these joins anew for every notification, and a case
# dispatched on intake sends two (docs/BENCHMARKS.md §2). Each answers user ids, once each.

# The accounts in a role (a group's name) that work for one of these subdistricts (a
# membership's; the district role, of no subdistrict, is not among them). Parameters: role,
# subdistricts (ids).
STAFF_IN = """SELECT DISTINCT ug.user_id FROM auth_user_groups ug
    JOIN auth_group g ON g.id = ug.group_id
    JOIN civicmap_membership m ON m.user_id = ug.user_id
    WHERE g.name = %(role)s AND m.subdistrict_id = ANY(%(subdistricts)s)"""

# A case's reporters, of the reports ``reports`` only unless it is NULL (an anonymous report
# has none). Parameters: case (id), reports (ids or NULL).
CASE_REPORTERS = """SELECT DISTINCT reporter_id FROM issues_report
    WHERE case_id = %(case)s AND reporter_id IS NOT NULL
      AND (%(reports)s::bigint[] IS NULL OR id = ANY(%(reports)s))"""

# A team's members and a department's liaisons (the many-to-many tables). Parameter: team or
# department (id).
TEAM_MEMBERS = "SELECT user_id FROM patrol_volunteerteam_members WHERE volunteerteam_id = %(team)s"
DEPARTMENT_LIAISONS = ("SELECT user_id FROM patrol_department_liaisons "
                       "WHERE department_id = %(department)s")
