"""Cases as a WGS 84 FeatureCollection for the geography export (GeoJSON, GeoPackage,
Shapefile, CSV through ``civicmap.geofiles.geofile_write``).

Public fields only: the case's number, category, stage, grids, subdistrict, times and point;
no report text, no reporter, no photo, no imported record's ID (docs/SECURITY.md; D-063).
Attribute names fit a Shapefile (10 characters); ``category`` and ``created`` are what the
cases import reads, so an export passes its dry run.
"""

from __future__ import annotations

import json

from django.contrib.gis.db.models.functions import AsGeoJSON

from issues.models import Case


def case_feature_collection(*, subdistrict_code: str | None = None) -> dict:
    """Every case (of one subdistrict) with its point, built by PostGIS (7 decimals)."""
    cases = Case.objects.order_by("id").annotate(geojson=AsGeoJSON("location", precision=7))
    if subdistrict_code is not None:
        cases = cases.filter(subdistrict__code=subdistrict_code)
    rows = cases.values(
        "id", "geojson", "category__code", "stage", "subdistrict__code",
        "community_grid__code", "unit_grid__grid_id", "created_at", "last_report_at",
        "closed_at",
    )
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(row["geojson"]), "properties": {
            "case_id": row["id"], "category": row["category__code"], "stage": row["stage"],
            "subdist": row["subdistrict__code"], "community": row["community_grid__code"],
            "grid_id": row["unit_grid__grid_id"], "created": row["created_at"].isoformat(),
            "last_rep": row["last_report_at"].isoformat(),
            "closed": row["closed_at"].isoformat() if row["closed_at"] else None,
        }}
        for row in rows
    ]}
