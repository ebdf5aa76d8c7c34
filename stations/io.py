"""Stations as GeoJSON and CSV files: reading an upload into rows, writing stations out.

Reading only turns the file into rows of plain values; ``stations.services.stations_import``
then checks every row exactly as the API does. Coordinates are WGS 84 (lon, lat) numbers; the
file never reaches GDAL (we parse the JSON and the CSV ourselves).

CSV columns: name_zh, name_en, venue_type, address_zh, lon, lat, coverage_radius_m (empty for
the default), services (codes separated by ";"), opening_hours (the JSON list, as in the API),
is_active and closed_on_holidays (true/false, empty to leave as it is; the latter may be
left out). UTF-8, with or without a byte-order mark.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

from civicmap.errors import FieldError, InvalidInput
from stations.models import Station

CSV_COLUMNS = [
    "name_zh", "name_en", "venue_type", "address_zh", "lon", "lat", "coverage_radius_m",
    "services", "opening_hours", "is_active", "closed_on_holidays",
]
REQUIRED_CSV_COLUMNS = {"name_zh", "name_en", "venue_type", "lon", "lat"}
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 2000

MSG_FILE_TOO_LARGE = _("The file is larger than 2 MB.")
MSG_TOO_MANY_ROWS = _("The file has more than 2,000 stations.")
MSG_NOT_UTF8 = _("The file must be UTF-8 text.")
MSG_UNKNOWN_FORMAT = _("Upload a .geojson, .json or .csv file.")
MSG_BAD_GEOJSON = _("The file must be a GeoJSON FeatureCollection of Point features.")
MSG_BAD_FEATURE = _("Each feature needs a Point geometry with [longitude, latitude].")
MSG_CSV_COLUMNS = _("The CSV file is missing columns: %(columns)s.")
MSG_BAD_HOURS_TEXT = _("Opening hours must be the JSON list of intervals.")
MSG_BAD_BOOLEAN = _("Use true or false.")


def rows_from_upload(*, name: str, content: bytes) -> list[dict]:
    """Rows for ``stations_import`` from an uploaded file, by its extension."""
    if len(content) > MAX_IMPORT_BYTES:
        raise InvalidInput(FieldError("file", "too_large", MSG_FILE_TOO_LARGE))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(FieldError("file", "invalid", MSG_NOT_UTF8)) from exc
    lowered = name.lower()
    if lowered.endswith((".geojson", ".json")):
        rows = rows_from_geojson(text)
    elif lowered.endswith(".csv"):
        rows = rows_from_csv(text)
    else:
        raise InvalidInput(FieldError("file", "invalid", MSG_UNKNOWN_FORMAT))
    if len(rows) > MAX_IMPORT_ROWS:
        raise InvalidInput(FieldError("file", "too_many", MSG_TOO_MANY_ROWS))
    return rows


def rows_from_geojson(text: str) -> list[dict]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(FieldError("file", "invalid", MSG_BAD_GEOJSON)) from exc
    if not (isinstance(data, dict) and data.get("type") == "FeatureCollection"
            and isinstance(data.get("features"), list)):
        raise InvalidInput(FieldError("file", "invalid", MSG_BAD_GEOJSON))
    rows, errors = [], []
    for number, feature in enumerate(data["features"], start=1):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not (isinstance(geometry, dict) and geometry.get("type") == "Point"
                and isinstance(coordinates, list) and len(coordinates) in (2, 3)):
            errors.append(FieldError(f"rows.{number}.location", "invalid", MSG_BAD_FEATURE))
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            errors.append(FieldError(f"rows.{number}", "invalid", MSG_BAD_FEATURE))
            continue
        rows.append({
            "name_zh": properties.get("name_zh"), "name_en": properties.get("name_en"),
            "venue_type": properties.get("venue_type"),
            "address_zh": properties.get("address_zh") or "",
            "lon": coordinates[0], "lat": coordinates[1],
            "coverage_radius_m": properties.get("coverage_radius_m"),
            "services": properties.get("services", []),
            "opening_hours": properties.get("opening_hours", []),
            "is_active": properties.get("is_active"),
            "closed_on_holidays": properties.get("closed_on_holidays"),
        })
    if errors:
        raise InvalidInput(*errors)
    return rows


def _boolean(text: str) -> bool | None | str:
    value = text.strip().lower()
    if value == "":
        return None
    if value in {"true", "1", "yes"}:
        return True
    if value in {"false", "0", "no"}:
        return False
    return text  # station_save refuses it with the field named


def rows_from_csv(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    missing = REQUIRED_CSV_COLUMNS - set(reader.fieldnames or [])
    if missing:
        raise InvalidInput(FieldError(
            "file", "missing_columns", MSG_CSV_COLUMNS % {"columns": ", ".join(sorted(missing))}
        ))
    rows, errors = [], []
    for number, record in enumerate(reader, start=1):
        hours_text = (record.get("opening_hours") or "").strip()
        try:
            hours = json.loads(hours_text) if hours_text else []
        except ValueError:
            errors.append(FieldError(f"rows.{number}.opening_hours", "invalid", MSG_BAD_HOURS_TEXT))
            continue
        flags = {field: _boolean(record.get(field) or "")
                 for field in ("is_active", "closed_on_holidays")}
        bad = [field for field, value in flags.items() if isinstance(value, str)]
        if bad:
            errors += [FieldError(f"rows.{number}.{field}", "invalid", MSG_BAD_BOOLEAN)
                       for field in bad]
            continue
        services = [code.strip() for code in (record.get("services") or "").split(";")
                    if code.strip()]
        rows.append({
            "name_zh": record.get("name_zh"), "name_en": record.get("name_en"),
            "venue_type": (record.get("venue_type") or "").strip(),
            "address_zh": record.get("address_zh") or "",
            "lon": (record.get("lon") or "").strip(), "lat": (record.get("lat") or "").strip(),
            "coverage_radius_m": record.get("coverage_radius_m"),
            "services": services, "opening_hours": hours, **flags,
        })
    if errors:
        raise InvalidInput(*errors)
    return rows


def _properties(station: Station) -> dict:
    return {
        "name_zh": station.name_zh, "name_en": station.name_en,
        "venue_type": station.venue_type, "address_zh": station.address_zh,
        "coverage_radius_m": station.coverage_radius_m, "services": list(station.services),
        "opening_hours": station.opening_hours, "is_active": station.is_active,
        "closed_on_holidays": station.closed_on_holidays,
    }


def stations_to_geojson(stations: Iterable[Station]) -> str:
    """A FeatureCollection that ``rows_from_geojson`` reads back unchanged (WGS 84, 7 decimals:
    about 1 cm)."""
    features = [
        {"type": "Feature",
         "geometry": {"type": "Point", "coordinates": [round(station.location.x, 7),
                                                       round(station.location.y, 7)]},
         "properties": _properties(station)}
        for station in stations
    ]
    return json.dumps({"type": "FeatureCollection", "features": features},
                      ensure_ascii=False, indent=1)


def stations_to_csv(stations: Iterable[Station]) -> str:
    """CSV with the columns of ``CSV_COLUMNS`` that ``rows_from_csv`` reads back unchanged."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for station in stations:
        properties = _properties(station)
        writer.writerow({
            **properties,
            "lon": repr(round(station.location.x, 7)), "lat": repr(round(station.location.y, 7)),
            "coverage_radius_m": "" if station.coverage_radius_m is None
            else str(station.coverage_radius_m),
            "services": ";".join(station.services),
            "opening_hours": json.dumps(station.opening_hours, separators=(",", ":")),
            "is_active": "true" if station.is_active else "false",
            "closed_on_holidays": "true" if station.closed_on_holidays else "false",
        })
    return out.getvalue()


# --- GDAL files (civicmap.geofiles): GeoJSON, Shapefile, GeoPackage, KML --------------------
# One flat attribute layout for every format, with names a Shapefile keeps (10 characters):
# services as codes separated by ";", opening hours as "day HH:MM-HH:MM" intervals separated
# by ";" (day 0 = Monday), which fits a DBF text column of 254 characters where the JSON list
# would not. The long names of the GeoJSON above are read too.
GEOFILE_FIELDS = ["name_zh", "name_en", "venue_type", "address_zh", "radius_m", "services",
                  "hours", "is_active", "holidays"]  # holidays: closed on public holidays
_INTERVAL = re.compile(r"^\s*([0-6])\s+([0-9]{2}:[0-9]{2})\s*-\s*([0-9]{2}:[0-9]{2})\s*$")

MSG_BAD_HOURS_INTERVALS = _(
    'Opening hours must be intervals such as "0 08:00-20:00;1 08:00-20:00" (0 is Monday).'
)
MSG_NOT_A_POINT = _("Each station needs a point geometry.")


def hours_to_text(hours: list[dict]) -> str:
    """``[{"day": 0, "open": "08:00", "close": "20:00"}]`` as ``"0 08:00-20:00"``."""
    return ";".join(f"{item['day']} {item['open']}-{item['close']}" for item in hours)


def hours_from_text(text: str) -> list[dict]:
    """The inverse of ``hours_to_text``; a JSON list is read as it is. Raises ValueError."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    hours = []
    for part in text.split(";"):
        match = _INTERVAL.match(part)
        if match is None:
            raise ValueError(part)
        hours.append({"day": int(match[1]), "open": match[2], "close": match[3]})
    return hours


def _first(properties: dict, *names: str) -> object:
    for name in names:
        if properties.get(name) not in (None, ""):
            return properties[name]
    return None


def rows_from_geofile(*, features: Iterable) -> tuple[list[dict], list[FieldError]]:
    """Rows for ``stations_import`` from the features of ``civicmap.geofiles.geofile_read``,
    one a feature in its order, so that ``rows.<n>`` is feature n, and the problems of
    attributes that are not even of the right shape (``rows.<n>.<field>``): the caller adds
    those of ``stations_import`` and refuses the file with all of them."""
    rows, errors = [], []
    for number, feature in enumerate(features, start=1):
        properties = feature.properties
        point = feature.geometry if getattr(feature.geometry, "geom_type", "") == "Point" else None
        if point is None:
            errors.append(FieldError(f"rows.{number}.location", "invalid", MSG_NOT_A_POINT))
        hours = _first(properties, "hours", "opening_hours")
        if isinstance(hours, str):
            try:
                hours = hours_from_text(hours)
            except ValueError:
                errors.append(FieldError(f"rows.{number}.opening_hours", "invalid",
                                         MSG_BAD_HOURS_INTERVALS))
                hours = []
        services = _first(properties, "services")
        if isinstance(services, str):
            services = [code.strip() for code in services.split(";") if code.strip()]
        flags = {}
        for field, value in (("is_active", _first(properties, "is_active")),
                             ("closed_on_holidays",
                              _first(properties, "holidays", "closed_on_holidays"))):
            if isinstance(value, str):
                value = _boolean(value)
                if isinstance(value, str):
                    errors.append(FieldError(f"rows.{number}.{field}", "invalid",
                                             MSG_BAD_BOOLEAN))
                    value = None
            elif isinstance(value, int) and not isinstance(value, bool):
                value = bool(value)  # a DBF or GeoPackage boolean read as 0 / 1
            flags[field] = value
        rows.append({
            "name_zh": properties.get("name_zh"), "name_en": properties.get("name_en"),
            "venue_type": properties.get("venue_type"),
            "address_zh": properties.get("address_zh") or "",
            "lon": point.x if point else None, "lat": point.y if point else None,
            "coverage_radius_m": _first(properties, "radius_m", "coverage_radius_m"),
            "services": services if services is not None else [],
            "opening_hours": hours if hours is not None else [], **flags,
        })
    return rows, errors


def stations_feature_collection(stations: Iterable[Station]) -> dict:
    """Stations as a WGS 84 FeatureCollection in the flat layout of ``GEOFILE_FIELDS``, for
    ``civicmap.geofiles.geofile_write`` (and read back by ``rows_from_geofile``)."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature",
         "geometry": {"type": "Point", "coordinates": [round(station.location.x, 7),
                                                       round(station.location.y, 7)]},
         "properties": {
             "name_zh": station.name_zh, "name_en": station.name_en,
             "venue_type": station.venue_type, "address_zh": station.address_zh,
             "radius_m": station.coverage_radius_m, "services": ";".join(station.services),
             "hours": hours_to_text(station.opening_hours),
             "is_active": "true" if station.is_active else "false",
             "holidays": "true" if station.closed_on_holidays else "false",
         }}
        for station in stations
    ]}
