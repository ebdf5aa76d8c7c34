"""Writes for the shared geography: importing a subdistrict with its community and unit grids."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from civicmap.errors import InvalidInput
from civicmap.models import WGS84, CommunityGrid, Subdistrict, UnitGrid

MSG_BAD_GEOGRAPHY = _("The geography file must hold one subdistrict, its communities and units.")
MSG_NOT_POLYGON = _("Every boundary must be a single polygon.")


@dataclass(frozen=True)
class GeographyCounts:
    subdistricts: int
    communities: int
    unit_grids: int


def _polygon(geometry: dict) -> Polygon:
    """A GeoJSON polygon as a GEOS polygon in WGS 84. Only GeoJSON reaches GEOS, never a CRS."""
    if geometry.get("type") != "Polygon":
        raise InvalidInput.single("geometry", "not_polygon", MSG_NOT_POLYGON)
    polygon = GEOSGeometry(json.dumps({"type": "Polygon", "coordinates": geometry["coordinates"]}))
    polygon.srid = WGS84
    return polygon


def geography_import(*, feature_collection: dict) -> GeographyCounts:
    """Create or update a subdistrict, its community grids and unit grids from GeoJSON.

    Features carry ``layer`` (subdistrict, community, unit) and their codes. Rows are matched by
    code, so importing the same file twice changes nothing; units that vanished are deleted.
    """
    by_layer: dict[str, list[dict]] = {"subdistrict": [], "community": [], "unit": []}
    for feature in feature_collection.get("features", []):
        by_layer.setdefault(feature["properties"].get("layer", ""), []).append(feature)
    if len(by_layer["subdistrict"]) != 1 or not by_layer["community"] or not by_layer["unit"]:
        raise InvalidInput.single("features", "bad_geography", MSG_BAD_GEOGRAPHY)
    with transaction.atomic():
        props = by_layer["subdistrict"][0]["properties"]
        subdistrict, _ = Subdistrict.objects.update_or_create(
            code=props["code"],
            defaults={
                "name_zh": props["name_zh"], "name_en": props["name_en"],
                "boundary": _polygon(by_layer["subdistrict"][0]["geometry"]),
            },
        )
        communities = {}
        for feature in by_layer["community"]:
            props = feature["properties"]
            communities[props["code"]], _ = CommunityGrid.objects.update_or_create(
                code=props["code"],
                defaults={
                    "name_zh": props["name_zh"], "name_en": props["name_en"],
                    "subdistrict": subdistrict, "boundary": _polygon(feature["geometry"]),
                },
            )
        _unit_grids_replace(by_layer["unit"], communities)
    return GeographyCounts(1, len(communities), len(by_layer["unit"]))


def _unit_grids_replace(features: list[dict], communities: dict[str, CommunityGrid]) -> None:
    """Upsert unit grids by grid ID in bulk (a subdistrict has about a thousand)."""
    wanted = {
        feature["properties"]["grid_id"]: UnitGrid(
            grid_id=feature["properties"]["grid_id"],
            community=communities[feature["properties"]["community"]],
            boundary=_polygon(feature["geometry"]),
        )
        for feature in features
    }
    UnitGrid.objects.filter(community__in=communities.values()).exclude(
        grid_id__in=wanted
    ).delete()
    UnitGrid.objects.bulk_create(
        wanted.values(), batch_size=500, update_conflicts=True,
        unique_fields=["grid_id"], update_fields=["community", "boundary"],
    )
