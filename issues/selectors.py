"""Reads of the issues app. The API and the maps both read through these: one query path.

Lists and map layers are built as GeoJSON inside PostGIS (``ST_AsGeoJSON`` and
``jsonb_build_object`` via Django's JSONObject), not object by object in Python: a serializer
costs about 200 µs a feature, PostGIS a few.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.db.models.functions import AsGeoJSON, Distance
from django.contrib.gis.geos import Point, Polygon
from django.contrib.gis.measure import D
from django.contrib.postgres.aggregates import JSONBAgg
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import (
    F,
    JSONField,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.functions import Cast, Coalesce, JSONObject

from civicmap.db import instance_loaded
from civicmap.i18n import name_field
from civicmap.models import WGS84, CommunityGrid, Subdistrict, UnitGrid
from civicmap.selectors import GridPlace
from civicmap.spatial import as_geometry_point
from issues.models import OPEN_STAGES, Case, Category, Report, ReportPhoto
from issues.sql import REPORT_ANSWER

NEARBY_RADIUS_M = 250  # metres; a category with a larger merge radius uses its own
NEARBY_LIMIT = 5
PUBLIC_PAGE_SIZE_MAX = 1000


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("group").order_by("code")


def category_equivalent_ids(*, category: Category) -> list[int]:
    return [category.pk, *category.equivalents.values_list("pk", flat=True)]


def case_nearby_list(*, point: Point, category: Category) -> list[dict]:
    """Up to 5 open public cases of the category or its equivalents near ``point``, nearest first.

    ``distance_m`` is the true distance in metres (geography). KNN-ordered in PostGIS.
    """
    radius_m = max(NEARBY_RADIUS_M, category.merge_radius_m)
    cases = (
        Case.objects.filter(
            category_id__in=category_equivalent_ids(category=category),
            category__is_private=False, stage__in=OPEN_STAGES,
            location__dwithin=(point, D(m=radius_m)),
        )
        .annotate(distance=Distance("location", point), thumbnail_id=_first_thumbnail())
        .select_related("category", "community_grid", "subdistrict")
        .order_by("distance", "id")[:NEARBY_LIMIT]
    )
    label = name_field()
    return [
        {
            "id": case.pk, "category": case.category.code,
            "category_name": getattr(case.category, label), "stage": case.stage,
            "distance_m": round(case.distance.m, 1),
            "lon": round(case.location.x, 6), "lat": round(case.location.y, 6),
            "report_count": case.report_count, "last_report_at": case.last_report_at,
            "subdistrict": case.subdistrict.code,
            "community": getattr(case.community_grid, label, None),
            "thumbnail_url": photo_url(case.thumbnail_id, "thumbnail"),
        }
        for case in cases
    ]


def _first_thumbnail() -> Subquery:
    return Subquery(
        ReportPhoto.objects.filter(report__case=OuterRef("pk"), status=ReportPhoto.Status.READY)
        .order_by("report_id", "position").values("pk")[:1]
    )


def photo_url(photo_id: int | None, rendition: str) -> str | None:
    return f"/api/v1/photos/{photo_id}/{rendition}/" if photo_id else None


@dataclass(frozen=True)
class PublicFilters:
    """Filters of the public listings; every one optional."""

    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    subdistrict_id: int | None = None  # one subdistrict; None: the whole district
    community: str | None = None  # community grid code
    unit_grid: str | None = None  # 15-digit unit grid ID
    categories: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    page_size: int = 100


def _handler_name() -> Subquery:
    """The name of the team or department handling the case's latest task.

    Read through the case's relation to patrol's tasks (``tasks``), so that issues does not
    depend on patrol's code: without tasks the join's one row is all NULL, hence no handler."""
    label = name_field()
    return Subquery(
        Case.objects.filter(pk=OuterRef("pk")).order_by("-tasks__offered_at", "-tasks__id")
        .annotate(handler=Coalesce(f"tasks__team__{label}", f"tasks__department__{label}"))
        .values("handler")[:1]
    )


@dataclass(frozen=True)
class _FilterPaths:
    """Where each public filter looks, for cases and for reports."""

    stage: str
    since: str
    until: str


_CASE_PATHS = _FilterPaths(stage="stage", since="last_report_at", until="created_at")
_REPORT_PATHS = _FilterPaths(stage="case__stage", since="received_at", until="received_at")


def _public_filter(queryset: QuerySet, filters: PublicFilters, paths: _FilterPaths) -> QuerySet:
    """Public rows only (no private category), narrowed by the filters that are set."""
    queryset = queryset.filter(category__is_private=False)
    conditions = {
        "location__intersects": Polygon.from_bbox(filters.bbox) if filters.bbox else None,
        "subdistrict_id": filters.subdistrict_id,
        "community_grid__code": filters.community,
        "unit_grid__grid_id": filters.unit_grid,
        "category__code__in": filters.categories or None,
        f"{paths.stage}__in": filters.stages or None,
        f"{paths.since}__gte": filters.since,
        f"{paths.until}__lt": filters.until,
    }
    return queryset.filter(**{key: value for key, value in conditions.items()
                              if value is not None})


def case_public_list(*, filters: PublicFilters, merged: bool = False) -> QuerySet[Case]:
    """The cases the public may see (no private category), narrowed by ``filters``; those
    merged into another only with ``merged`` (a case's public page sends its reader on)."""
    cases = Case.objects.all() if merged else Case.objects.filter(merged_into__isnull=True)
    return _public_filter(cases, filters, _CASE_PATHS)


def _public_reports(filters: PublicFilters) -> QuerySet[Report]:
    return _public_filter(Report.objects.all(), filters, _REPORT_PATHS)


def _feature_collection(queryset: QuerySet, filters: PublicFilters, properties: dict,
                        order: str) -> str:
    """A page of ``queryset`` as GeoJSON FeatureCollection text, assembled by PostGIS."""
    total = queryset.count()
    start = (filters.page - 1) * filters.page_size
    page_ids = list(queryset.order_by(order, "-id").values_list("id", flat=True)[
        start:start + filters.page_size
    ])
    feature = JSONObject(
        type=Value("Feature"), id=F("id"),
        geometry=Cast(AsGeoJSON(as_geometry_point("location"), precision=6), JSONField()),
        properties=JSONObject(**properties),
    )
    collection = queryset.model.objects.filter(id__in=page_ids).aggregate(
        text=Cast(
            JSONObject(
                type=Value("FeatureCollection"),
                features=Coalesce(JSONBAgg(feature, order_by=(order, "-id")),
                                  Cast(Value("[]"), JSONField())),
                count=Value(total), page=Value(filters.page),
                page_size=Value(filters.page_size),
            ),
            TextField(),
        )
    )
    return collection["text"]


def case_public_features(*, filters: PublicFilters) -> str:
    """Public cases as GeoJSON: category, stage, subdistrict and grids, handler's name and
    dates; never people."""
    label = name_field()
    return _feature_collection(
        case_public_list(filters=filters), filters,
        {
            "category": F("category__code"), "category_name": F(f"category__{label}"),
            "stage": F("stage"), "subdistrict": F("subdistrict__code"),
            "community": F("community_grid__code"),
            "community_name": F(f"community_grid__{label}"), "unit_grid": F("unit_grid__grid_id"),
            "report_count": F("report_count"), "handler": _handler_name(),
            "created_at": F("created_at"), "updated_at": F("updated_at"),
            "closed_at": F("closed_at"),
        },
        "-created_at",
    )


def report_public_features(*, filters: PublicFilters) -> str:
    """Public reports as GeoJSON: category, case, its stage, subdistrict, grids and dates;
    never the reporter."""
    label = name_field()
    return _feature_collection(
        _public_reports(filters), filters,
        {
            "category": F("category__code"), "category_name": F(f"category__{label}"),
            "case": F("case_id"), "stage": F("case__stage"),
            "subdistrict": F("subdistrict__code"), "community": F("community_grid__code"),
            "community_name": F(f"community_grid__{label}"), "unit_grid": F("unit_grid__grid_id"),
            "received_at": F("received_at"),
        },
        "-received_at",
    )


# What ``ReportFeatureOutput`` reads of a report and its relations, and nothing more: not the
# grids' and the subdistrict's boundary polygons (sent, then parsed by GEOS, on every post) nor
# the columns the answer never shows.
# The category lookup by code, as a statement built once: the ORM builds
# ``Category.objects.filter(code=…).first()`` anew on every call, 0.8–1.0 ms of a web worker's
# CPU per report, where the round trip is a tenth of it (docs/BENCHMARKS.md §2).
_CATEGORY_FIELDS = Category._meta.concrete_fields
_CATEGORY_BY_CODE = (
    f"SELECT {', '.join(field.column for field in _CATEGORY_FIELDS)} "
    f"FROM {Category._meta.db_table} WHERE code = %s"
)


def category_by_code(*, code: str) -> Category | None:
    """The category with this code (as the ORM would load it), None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(_CATEGORY_BY_CODE, [code])
        row = cursor.fetchone()
    if row is None:
        return None
    return Category.from_db(DEFAULT_DB_ALIAS, [field.attname for field in _CATEGORY_FIELDS],
                            list(row))


def report_answer_get(*, report_id: int) -> Report:
    """A report as its rider's post is answered (``ReportFeatureOutput``): its category, case,
    places and photos, with only the columns the answer shows, read in one raw statement
    (issues.sql.REPORT_ANSWER) and loaded as ``.only()`` and ``prefetch_related`` would load
    them (any other field reads itself from the database when asked for). The ORM's
    select_related and prefetch cost the web worker 3–4 ms of CPU a report to build; this,
    a tenth of it (docs/BENCHMARKS.md §2)."""
    with connection.cursor() as cursor:
        cursor.execute(REPORT_ANSWER, {"report": report_id})
        (pk, lon, lat, description, sent_lon, sent_lat, sent_coord_system, client_uuid,
         received_at, joined, location_source, location_flagged, category_id, category_code,
         category_zh, category_en, case_id, stage, subdistrict_id, subdistrict_code,
         community_id, community_code, community_zh, community_en, unit_grid_id, grid_id,
         photo_ids, photo_statuses) = cursor.fetchone()
    report = _loaded(
        Report, id=pk, location=Point(lon, lat, srid=WGS84), description=description,
        sent_lon=sent_lon, sent_lat=sent_lat, sent_coord_system=sent_coord_system,
        client_uuid=uuid.UUID(str(client_uuid)) if client_uuid is not None else None,
        received_at=received_at, joined_existing_case=joined, location_source=location_source,
        location_flagged=location_flagged, category_id=category_id, case_id=case_id,
        subdistrict_id=subdistrict_id, community_grid_id=community_id,
        unit_grid_id=unit_grid_id)
    report.category = _loaded(Category, id=category_id, code=category_code,
                              name_zh=category_zh, name_en=category_en)
    report.case = _loaded(Case, id=case_id, stage=stage)
    report.subdistrict = _loaded(Subdistrict, id=subdistrict_id, code=subdistrict_code)
    report.community_grid = _loaded(CommunityGrid, id=community_id, code=community_code,
                                    name_zh=community_zh, name_en=community_en
                                    ) if community_id is not None else None
    report.unit_grid = (_loaded(UnitGrid, id=unit_grid_id, grid_id=grid_id)
                        if unit_grid_id is not None else None)
    photos = ReportPhoto.objects.all()  # as prefetch_related leaves it: evaluated, cached
    photos._result_cache = [_loaded(ReportPhoto, id=photo_id, report_id=pk, status=status)
                            for photo_id, status in zip(photo_ids, photo_statuses, strict=True)]
    photos._prefetch_done = True
    report._prefetched_objects_cache = {"photos": photos}
    return report


def report_answer_of_intake(*, report: Report, case_stage: str, place: GridPlace,
                            photos: Sequence[ReportPhoto]) -> Report:
    """The answer's report for a report intake has just written, as ``report_answer_get``
    would read it back, built from what intake wrote and read on the way instead of reading it
    again (D-082): the report as written (its category as read by code), its case's stage
    (the new case's after dispatch, or the joined case's, locked until the commit), its places'
    codes and names (``grid_locate``'s ``place.names``) and its photos as written (pending).
    The answer is the state at the commit; a later change (a worker done with a photo, the
    office acting on the case) shows in the rider's next read, as it would had it come a moment
    after the read. tests/issues/test_intake_statements.py compares the answers byte for byte."""
    names = place.names
    if names is None:
        raise ValueError("report_answer_of_intake: the place has no names (grid_locate's)")
    report.case = _loaded(Case, id=report.case_id, stage=case_stage)
    report.subdistrict = _loaded(Subdistrict, id=place.subdistrict_id,
                                 code=names.subdistrict_code)
    report.community_grid = _loaded(CommunityGrid, id=place.community_id,
                                    code=names.community_code, name_zh=names.community_name_zh,
                                    name_en=names.community_name_en)
    report.unit_grid = (_loaded(UnitGrid, id=place.unit_grid_id, grid_id=names.unit_grid_code)
                        if place.unit_grid_id is not None else None)
    cached = ReportPhoto.objects.all()  # as prefetch_related leaves it: evaluated, cached
    cached._result_cache = list(photos)
    cached._prefetch_done = True
    report._prefetched_objects_cache = {"photos": cached}
    return report


def _loaded(model: type[Model], **values) -> Model:
    """``civicmap.db.instance_loaded``: what ``.only()`` makes of a row."""
    return instance_loaded(model=model, **values)


# "My reports" filters: open (the case still in OPEN_STAGES), closed (closed, evaluated or
# cancelled) or all.
REPORT_STATES = ("open", "closed", "all")


def rider_report_list(*, rider, state: str = "all") -> QuerySet[Report]:
    """The rider's own reports, newest first, with their cases, photos and case history;
    ``state`` keeps those whose case is open or closed (`REPORT_STATES`)."""
    reports = Report.objects.filter(reporter=rider)
    if state == "open":
        reports = reports.filter(case__stage__in=OPEN_STAGES)
    elif state == "closed":
        reports = reports.exclude(case__stage__in=OPEN_STAGES)
    return (
        reports
        .select_related("category", "case", "subdistrict", "community_grid", "unit_grid")
        .prefetch_related("photos", "case__events")
        .order_by("-received_at", "-id")
    )


def rider_report_of_case(*, rider, case_id: int) -> Report | None:
    """The rider's own newest report in the case, as a row of "my reports"; None when they
    have none there (someone else's case, or none at all: the caller answers 404 either way).
    The rider's page opens a message's case with it when the report is not among the rows it
    has loaded."""
    return rider_report_list(rider=rider).filter(case_id=case_id).first()


def report_point(*, lon: float, lat: float) -> Point:
    return Point(lon, lat, srid=WGS84)
