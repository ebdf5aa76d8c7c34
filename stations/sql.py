"""The stations app's raw SQL, in one place.

Values reach the statements as bound parameters; the table name and the SRID come from the
model and civicmap.models.WGS84 when a statement is built.
"""

from __future__ import annotations

from civicmap.models import WGS84
from stations.models import Station

# The nearest active stations in one statement (the answer to a rider between two orders; a
# queryset's compilation cost more than PostgreSQL's work). KNN (<->) on geography orders by
# distance on a sphere; ``distance_m`` is ST_Distance on the spheroid, in metres. Parameters:
# lon, lat (WGS 84 degrees), service (a service code or NULL for any), fetch (rows, NULL: all).
NEAREST_STATIONS = f"""
    SELECT id, name_zh, name_en, venue_type, address_zh,
           ST_X(location::geometry), ST_Y(location::geometry),
           ST_Distance(location, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), {WGS84})::geography),
           opening_hours, services, coverage_radius_m, closed_on_holidays
    FROM {Station._meta.db_table}
    WHERE is_active
      AND (%(service)s::text IS NULL OR services @> ARRAY[%(service)s::varchar])
    ORDER BY location <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), {WGS84})::geography, id
    LIMIT %(fetch)s"""
