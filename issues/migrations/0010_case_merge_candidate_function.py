"""Intake's duplicate lookup as one PL/pgSQL function: the category class, the class's merge
lock and the case to join or follow in one round trip, its plans cached per connection.

Units: the radius in metres, distances planar in EPSG:4548; cells of 100 m
(civicmap.spatial.CELL_SIZE_M, the key of Case.merge_cell). The lock is a transaction-level
advisory lock keyed on the class's lowest category id. VOLATILE on purpose: in READ COMMITTED
each statement of a volatile function takes a new snapshot, so the lookup after the lock sees
every case committed by the transaction that held it (a STABLE function would reuse the
caller's snapshot and miss them).
"""

from django.db import migrations

CREATE = r"""
CREATE FUNCTION issues_case_merge_candidate(
    p_category bigint, p_lon double precision, p_lat double precision,
    p_radius_m double precision, p_open_stages text[], p_closed_stages text[],
    p_window_start timestamptz, p_follow_start timestamptz,
    OUT case_id bigint, OUT is_open boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    members bigint[];  -- the category and its declared equivalents, lowest first
    here geometry;     -- the report's point in EPSG:4548 (metres)
BEGIN
    SELECT array_agg(id ORDER BY id) INTO members
    FROM (SELECT p_category AS id
          UNION SELECT to_category_id FROM issues_category_equivalents
                WHERE from_category_id = p_category) class;
    -- Serialises merging per class until commit: two riders reporting one pothole at once
    -- must not both open a case.
    PERFORM pg_advisory_xact_lock(hashtext('case-merge'), members[1]::integer);
    here := ST_Transform(ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326), 4548);
    -- The nearest open case of the class within the radius whose last report is inside the
    -- window (locked for the join); else the nearest case closed within the follow-up window.
    -- Candidates by the btree index case_merge_cell: the class's cases in the 100 m cells of
    -- the square whose half-side is the radius. ST_Distance, not ST_DWithin, which would draw
    -- the planner to a GiST box holding every category's cases near a hotspot.
    SELECT c.id, c.stage = ANY(p_open_stages) INTO case_id, is_open
    FROM issues_case c
    WHERE c.category_id = ANY(members)
      AND c.merge_cell = ANY(ARRAY(
          SELECT (i << 32) | j
          FROM generate_series(floor((ST_X(here) - p_radius_m) / 100)::bigint,
                               floor((ST_X(here) + p_radius_m) / 100)::bigint) i,
               generate_series(floor((ST_Y(here) - p_radius_m) / 100)::bigint,
                               floor((ST_Y(here) + p_radius_m) / 100)::bigint) j))
      AND ST_Distance(c.location_metric, here) <= p_radius_m
      AND ((c.stage = ANY(p_open_stages) AND c.last_report_at >= p_window_start)
           OR (c.stage = ANY(p_closed_stages) AND c.closed_at >= p_follow_start))
    ORDER BY c.stage = ANY(p_open_stages) DESC, ST_Distance(c.location_metric, here), c.id
    LIMIT 1
    FOR UPDATE OF c;
END
$$;
"""

DROP = """
DROP FUNCTION issues_case_merge_candidate(bigint, double precision, double precision,
    double precision, text[], text[], timestamptz, timestamptz);
"""


class Migration(migrations.Migration):

    dependencies = [
        ("issues", "0009_case_merge_cell"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
