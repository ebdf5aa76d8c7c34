-- issues_case_merge_candidate: the duplicate rule of intake (issues.services.intake).
--
-- The deployed function must equal this file as rendered by issues.sql.function_sql()
-- (tests/issues/test_sql_functions.py compares them), so changing this file needs a migration
-- that runs the rendered text. Placeholders, filled from civicmap.spatial and civicmap.models:
--   {{metric_srid}}  civicmap.spatial.METRIC_SRID (metres)
--   {{cell_size_m}}  the side of the square cells of Case.merge_cell, metres
--   {{wgs84_srid}}   civicmap.models.WGS84, the stored coordinates' SRID (degrees)
-- Braces of the SQL itself are doubled (str.format).
--
-- Deployed by migration issues 0040 (0019, 0011 and 0010 before it). Arguments: p_subdistrict
-- the report's subdistrict (a report joins or follows only a case of its own subdistrict: the
-- case lives where its first report is); p_radius_m in metres (planar, EPSG:{{metric_srid}});
-- the stages as text arrays; the windows' starts as timestamptz.
CREATE OR REPLACE FUNCTION issues_case_merge_candidate(
    p_category bigint, p_subdistrict bigint, p_lon double precision, p_lat double precision,
    p_radius_m double precision, p_open_stages text[], p_closed_stages text[],
    p_window_start timestamp with time zone, p_follow_start timestamp with time zone,
    OUT case_id bigint, OUT is_open boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    members bigint[];  -- the category and its declared equivalents, lowest first
    here geometry;     -- the report's point in EPSG:{metric_srid} (metres)
    cells bigint[];    -- the {cell_size_m} m cells of the square whose half-side is the radius
BEGIN
    SELECT array_agg(id ORDER BY id) INTO members
    FROM (SELECT p_category AS id
          UNION SELECT to_category_id FROM issues_category_equivalents
                WHERE from_category_id = p_category) class;
    -- Serialises merging per class and subdistrict until commit: two riders reporting one
    -- pothole at once must not both open a case. Only reports of one subdistrict can meet in a
    -- case, so other subdistricts' intakes (and the seed's forming sessions, one per group of
    -- subdistricts: fixtures.bulk_reports) go on meanwhile.
    PERFORM pg_advisory_xact_lock(hashtext('case-merge:' || p_subdistrict), members[1]::integer);
    here := ST_Transform(ST_SetSRID(ST_MakePoint(p_lon, p_lat), {wgs84_srid}), {metric_srid});
    cells := ARRAY(
        SELECT (i << 32) | j
        FROM generate_series(floor((ST_X(here) - p_radius_m) / {cell_size_m})::bigint,
                             floor((ST_X(here) + p_radius_m) / {cell_size_m})::bigint) i,
             generate_series(floor((ST_Y(here) - p_radius_m) / {cell_size_m})::bigint,
                             floor((ST_Y(here) + p_radius_m) / {cell_size_m})::bigint) j);
    -- Candidates by the btree index case_merge_cell: the class's cases in those cells, then
    -- the radius by planar distance. ST_Distance, not ST_DWithin, which would draw the planner
    -- to a GiST box holding every category's cases near a hotspot.
    -- The nearest open case within the radius whose last report is inside the window, locked
    -- for the join.
    SELECT c.id, true INTO case_id, is_open
    FROM issues_case c
    WHERE c.category_id = ANY(members) AND c.merge_cell = ANY(cells)
      AND c.subdistrict_id = p_subdistrict
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
      AND c.subdistrict_id = p_subdistrict
      AND ST_Distance(c.location_metric, here) <= p_radius_m
      AND c.stage = ANY(p_closed_stages) AND c.closed_at >= p_follow_start
    ORDER BY ST_Distance(c.location_metric, here), c.id
    LIMIT 1;
END
$$;
