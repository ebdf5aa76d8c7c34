"""The stations app's raw SQL, in one place.

Values reach the statements as bound parameters; the table name and the SRID come from the
model and civicmap.models.WGS84 when a statement is built.
"""

from __future__ import annotations

from django.db.models import BooleanField, Func

from civicmap.models import WGS84
from civicmap.spatial import METRIC_SRID
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


def sites_values(sites) -> tuple[str, list]:
    """A ``VALUES`` list of stations as coverage sees them, ``site(lon, lat, radius_m)``
    (WGS 84 degrees; metres), and its bound parameters: the station set of a what-if, which is
    in no table (nothing is written to try it)."""
    rows = ", ".join(["(%s::float8, %s::float8, %s::float8)"] * len(sites))
    params = [value for site in sites for value in (site.lon, site.lat, site.radius_m)]
    return f"(VALUES {rows}) AS site(lon, lat, radius_m)", params


SITE_GEOGRAPHY = f"ST_SetSRID(ST_MakePoint(site.lon, site.lat), {WGS84})::geography"


class WithinReachOfSites(Func):
    """Is the row's geography ``location`` within some site's radius (metres)?

    The coverage rule of ``stations.selectors``: ``ST_DWithin`` on geography, metres on the
    WGS 84 spheroid (the distance ``ST_Distance(geography)`` measures), inclusive, over a
    ``VALUES`` list of sites instead of the station table. Tens of sites: each row is tested
    against every site's bounding box (``ST_DWithin``'s own ``&&`` step) before any distance.
    """

    output_field = BooleanField()

    def __init__(self, location, *, sites) -> None:
        super().__init__(location)
        self.sites = tuple(sites)

    def as_sql(self, compiler, connection, **extra_context):
        if not self.sites:
            return "FALSE", []
        location_sql, location_params = compiler.compile(self.source_expressions[0])
        values_sql, values_params = sites_values(self.sites)
        return (f"EXISTS (SELECT 1 FROM {values_sql} WHERE "
                f"ST_DWithin({SITE_GEOGRAPHY}, {location_sql}, site.radius_m))",
                [*values_params, *location_params])


def sites_union_metric_sql(sites, *, quad_segs: int) -> tuple[str, list]:
    """The union of the sites' circles in EPSG:4548 (metres), as ``coverage_union_metric``
    draws the stations' (ST_Buffer with ``quad_segs`` segments a quarter circle): one row,
    NULL without sites."""
    values_sql, params = sites_values(sites)
    return (f"SELECT ST_Union(ST_Buffer(ST_Transform({SITE_GEOGRAPHY}::geometry, "
            f"{METRIC_SRID}), site.radius_m, %s)) FROM {values_sql}",
            [f"quad_segs={quad_segs}", *params])
