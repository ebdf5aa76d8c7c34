"""issues_case_merge_candidate locks only the open case a report joins.

0010 looked up the open case to join and the closed case to follow in one ``SELECT … FOR
UPDATE``. When the nearest open case was closed while the lookup waited for its row lock,
PostgreSQL's re-check of the updated row let it through as a case to follow, though another
open case in the radius was there to join (a test reproduces it). Now two statements in the
function, still one round trip: the open case, locked (a row closed meanwhile fails the
re-check and the next open case is taken); only when there is none, the closed case to follow,
unlocked (the new case's foreign key to it is checked at commit).

Units and the lock as in 0010: metres, planar EPSG:4548, 100 m cells (Case.merge_cell); the
class's advisory lock until commit; VOLATILE, so each statement sees what the lock's previous
holder committed.
"""

from importlib import import_module

from django.db import migrations

# Reversing puts 0010's function back (its migration holds the text).
PREVIOUS = import_module("issues.migrations.0010_case_merge_candidate_function").CREATE.replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)

CREATE = r"""
CREATE OR REPLACE FUNCTION issues_case_merge_candidate(
    p_category bigint, p_lon double precision, p_lat double precision,
    p_radius_m double precision, p_open_stages text[], p_closed_stages text[],
    p_window_start timestamptz, p_follow_start timestamptz,
    OUT case_id bigint, OUT is_open boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    members bigint[];  -- the category and its declared equivalents, lowest first
    here geometry;     -- the report's point in EPSG:4548 (metres)
    cells bigint[];    -- the 100 m cells of the square whose half-side is the radius
BEGIN
    SELECT array_agg(id ORDER BY id) INTO members
    FROM (SELECT p_category AS id
          UNION SELECT to_category_id FROM issues_category_equivalents
                WHERE from_category_id = p_category) class;
    -- Serialises merging per class until commit: two riders reporting one pothole at once
    -- must not both open a case.
    PERFORM pg_advisory_xact_lock(hashtext('case-merge'), members[1]::integer);
    here := ST_Transform(ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326), 4548);
    cells := ARRAY(
        SELECT (i << 32) | j
        FROM generate_series(floor((ST_X(here) - p_radius_m) / 100)::bigint,
                             floor((ST_X(here) + p_radius_m) / 100)::bigint) i,
             generate_series(floor((ST_Y(here) - p_radius_m) / 100)::bigint,
                             floor((ST_Y(here) + p_radius_m) / 100)::bigint) j);
    -- Candidates by the btree index case_merge_cell: the class's cases in those cells, then
    -- the radius by planar distance. ST_Distance, not ST_DWithin, which would draw the planner
    -- to a GiST box holding every category's cases near a hotspot.
    -- The nearest open case within the radius whose last report is inside the window, locked
    -- for the join.
    SELECT c.id, true INTO case_id, is_open
    FROM issues_case c
    WHERE c.category_id = ANY(members) AND c.merge_cell = ANY(cells)
      AND ST_Distance(c.location_metric, here) <= p_radius_m
      AND c.stage = ANY(p_open_stages) AND c.last_report_at >= p_window_start
    ORDER BY ST_Distance(c.location_metric, here), c.id
    LIMIT 1
    FOR UPDATE OF c;
    IF case_id IS NOT NULL THEN
        RETURN;
    END IF;
    -- Else the nearest case closed within the follow-up window, which the new case follows.
    SELECT c.id, false INTO case_id, is_open
    FROM issues_case c
    WHERE c.category_id = ANY(members) AND c.merge_cell = ANY(cells)
      AND ST_Distance(c.location_metric, here) <= p_radius_m
      AND c.stage = ANY(p_closed_stages) AND c.closed_at >= p_follow_start
    ORDER BY ST_Distance(c.location_metric, here), c.id
    LIMIT 1;
END
$$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("issues", "0010_case_merge_candidate_function"),
    ]

    operations = [migrations.RunSQL(CREATE, PREVIOUS)]
