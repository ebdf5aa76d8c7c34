"""Another system's cases (a 12345 hotline's history) in and out through GDAL: Shapefiles and
GeoPackages made with ogr2ogr inside each test, imported with ``manage.py geography_import``
(every record through the one intake service) and the office's geography page, exported with
``geography_export``."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.utils import translation

from civicmap.coords import wgs84_to_gcj02
from civicmap.errors import FieldError, InvalidInput
from issues.models import Case, Report
from issues.services import cases_import as cases_import_module
from tests.frontend.test_geography_commands import _import, _refused

pytestmark = pytest.mark.django_db

# Inside Donggaodi's unit grid 110106006001001 (a square of about 50 m a side).
INSIDE = (116.40880, 39.80740)
NEARBY = (116.40890, 39.80745)  # about 10 m east-north-east of INSIDE: a duplicate
HEYI = (116.380296, 39.830115)  # inside 和义's unit grid 110106016002005
OUTSIDE = (116.00, 40.50)  # in the hills north-west of Beijing: no subdistrict of ours
GCJ02_WKT = ('GEOGCS["GCJ-02",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
             'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]')


def _feature(point, category="C0101", reported="2026-03-01T08:30:00+08:00", ext_id="WO-1",
             desc="井盖缺失", geometry=None) -> dict:
    properties = {"category": category, "reported": reported, "ext_id": ext_id, "desc": desc}
    return {"type": "Feature", "properties": {k: v for k, v in properties.items() if v},
            "geometry": geometry or {"type": "Point", "coordinates": list(point)}}


def _history() -> list[dict]:
    """Three records: two of one manhole an hour apart (one case), a street lamp elsewhere."""
    return [
        _feature(INSIDE, ext_id="WO-1", reported="2026-03-01T08:30:00+08:00"),
        _feature(NEARBY, ext_id="WO-2", reported="2026-03-01T09:30:00+08:00", desc="又看到"),
        _feature((116.40905, 39.80735), category="C0103", ext_id="WO-3",
                 reported="2026-03-02T20:00:00+08:00", desc="路灯不亮"),
    ]


def _ogr2ogr(tmp_path: Path, features: list[dict], out: str, *options: str) -> Path:
    source = tmp_path / f"{Path(out).stem}-source.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                                 ensure_ascii=False), encoding="utf-8")
    path = tmp_path / out
    driver = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON",
              ".kml": "KML"}[path.suffix]
    subprocess.run(["ogr2ogr", "-f", driver, *options, str(path), str(source)], check=True,
                   capture_output=True)
    return path


def test_cases_from_a_shapefile_go_through_intake(reference_data, tmp_path):
    # The times as text: a Shapefile has no date-and-time type (ogr2ogr keeps the date alone).
    shp = _ogr2ogr(tmp_path, _history(), "history.shp", "-lco", "ENCODING=UTF-8",
                   "-oo", "DATE_AS_STRING=YES")

    summary = _import(shp, "--layer", "cases")

    assert ("cases imported: case_records_new 3, case_records_unchanged 0, cases_opened 2, "
            "cases_joined 1.") in summary
    reports = {report.external_id: report for report in Report.objects.filter(
        channel=Report.Channel.IMPORT).select_related("case", "unit_grid", "subdistrict")}
    assert set(reports) == {"WO-1", "WO-2", "WO-3"}
    first = reports["WO-1"]
    assert first.received_at == datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert first.reporter is None and first.description == "井盖缺失"
    assert first.subdistrict.code == "110106006"
    assert first.unit_grid.grid_id == "110106006001001"
    assert reports["WO-2"].case_id == first.case_id and reports["WO-2"].joined_existing_case
    assert first.case.channel == Report.Channel.IMPORT and first.case.report_count == 2
    assert reports["WO-3"].case_id != first.case_id


def test_a_second_import_of_the_same_geopackage_writes_nothing(reference_data, tmp_path):
    gpkg = _ogr2ogr(tmp_path, _history(), "history.gpkg")
    _import(gpkg, "--layer", "cases")
    counts = Report.objects.count(), Case.objects.count()

    summary = _import(gpkg)  # the layer guessed: points with a category

    assert "case_records_new 0, case_records_unchanged 3, cases_opened 0" in summary
    assert (Report.objects.count(), Case.objects.count()) == counts


def test_dry_run_lists_every_problem_of_every_feature_and_writes_nothing(reference_data,
                                                                         tmp_path):
    _import(_ogr2ogr(tmp_path, _history()[:1], "before.gpkg"))  # WO-1, imported before
    features = [
        _feature(INSIDE, ext_id="WO-1", desc="changed since"),  # 1: imported otherwise
        _feature(INSIDE, category="X9999", ext_id="WO-10"),  # 2: unknown category
        _feature(INSIDE, reported=None, ext_id="WO-11"),  # 3: no time
        _feature(INSIDE, reported="yesterday", ext_id="WO-12"),  # 4: not a time
        _feature(OUTSIDE, ext_id="WO-13"),  # 5: outside every subdistrict
        _feature(INSIDE, ext_id="WO-10"),  # 6: the ID of feature 2 again
        _feature(INSIDE, ext_id="WO 14"),  # 7: a space in the ID
        _feature(INSIDE, ext_id="WO-15", geometry={  # 8: a line, not a point
            "type": "LineString", "coordinates": [list(INSIDE), list(NEARBY)]}),
        _feature(INSIDE, ext_id="WO-16", reported="2036-03-01T08:30:00+08:00"),  # 9: future
        _feature(INSIDE, ext_id="WO-17"),  # 10: nothing wrong
    ]
    gpkg = _ogr2ogr(tmp_path, features, "problems.gpkg", "-nlt", "GEOMETRY")
    counts = Report.objects.count(), Case.objects.count()

    errors = _refused(gpkg, "--layer", "cases", "--dry-run")

    assert "features.1.ext_id: [WO-1] This external ID was already imported with a " in errors
    assert "features.2.category: [WO-10] Unknown category." in errors
    assert "features.3.reported: [WO-11] Give the time the case was reported" in errors
    assert "features.4.reported: [WO-12] The reported time must be an ISO 8601" in errors
    assert ("features.5.geometry: [WO-13] This place is outside every subdistrict this "
            "platform serves.") in errors
    assert "features.6.ext_id: [WO-10] The external ID is also feature 2's" in errors
    assert "features.7.ext_id: An external ID is 1 to 64 letters" in errors
    assert "features.8.geometry: [WO-15] Each case needs a point geometry." in errors
    assert "features.9.reported: [WO-16] The time the report was received must be" in errors
    assert "features.10." not in errors
    assert len(errors.strip().splitlines()) == 9  # one problem a field
    assert (Report.objects.count(), Case.objects.count()) == counts
    _refused(gpkg, "--layer", "cases")  # without --dry-run: the same, nothing written
    assert (Report.objects.count(), Case.objects.count()) == counts


def test_an_apply_that_fails_halfway_keeps_nothing(reference_data, tmp_path, monkeypatch):
    gpkg = _ogr2ogr(tmp_path, _history(), "history.gpkg")
    counts = Report.objects.count(), Case.objects.count()
    real = cases_import_module.report_create
    calls = []

    def second_refused(**kwargs):
        calls.append(kwargs["data"].external_id)
        if len(calls) == 2:  # e.g. the category was withdrawn since the check
            raise InvalidInput(FieldError("category", "unknown", "Unknown category."))
        return real(**kwargs)

    monkeypatch.setattr(cases_import_module, "report_create", second_refused)

    errors = _refused(gpkg, "--layer", "cases")

    assert "features.2.category: [WO-2] Unknown category." in errors
    assert calls == ["WO-1", "WO-2"]  # oldest first; the first one's writes rolled back
    assert (Report.objects.count(), Case.objects.count()) == counts


def test_a_parallel_import_of_the_same_records_keeps_nothing(reference_data, tmp_path,
                                                            monkeypatch):
    gpkg = _ogr2ogr(tmp_path, _history(), "history.gpkg")
    counts = Report.objects.count(), Case.objects.count()
    real = cases_import_module.report_create
    calls = []

    def raced(**kwargs):
        calls.append(kwargs["data"].external_id)
        if len(calls) == 2:  # the unique external ID, written by another import meanwhile
            raise IntegrityError("report_import_external_id_unique")
        return real(**kwargs)

    monkeypatch.setattr(cases_import_module, "report_create", raced)

    errors = _refused(gpkg, "--layer", "cases")

    assert "file: Another import wrote some of these records meanwhile" in errors
    assert (Report.objects.count(), Case.objects.count()) == counts


def test_gcj02_declared_by_the_file_or_the_option_is_shifted_back(reference_data, tmp_path):
    shifted = [_feature(wgs84_to_gcj02(*INSIDE), ext_id="WO-1"),
               _feature(wgs84_to_gcj02(*HEYI), ext_id="WO-2")]
    gpkg = _ogr2ogr(tmp_path, shifted, "amap.gpkg", "-a_srs", GCJ02_WKT)
    plain = _ogr2ogr(tmp_path, [_feature(wgs84_to_gcj02(*HEYI), ext_id="WO-3")],
                     "amap.geojson")

    assert "GCJ-02 (shifted back from GCJ-02); cases imported" in _import(gpkg)
    assert "shifted back from GCJ-02" in _import(plain, "--gcj02")

    for external_id, (lon, lat) in (("WO-1", INSIDE), ("WO-2", HEYI), ("WO-3", HEYI)):
        point = Report.objects.get(external_id=external_id).location
        # Degrees; the inverse is solved to 1e-9 and GDAL keeps the doubles.
        assert abs(point.x - lon) < 1e-7 and abs(point.y - lat) < 1e-7
    assert Report.objects.get(external_id="WO-2").subdistrict.code == "110106016"


def test_a_shapefile_that_kept_only_the_dates_is_refused(reference_data, tmp_path):
    shp = _ogr2ogr(tmp_path, _history()[:1], "dates.shp")

    errors = _refused(shp, "--layer", "cases")

    assert "features.1.reported: [WO-1] The reported time has a date but no time" in errors


def test_kml_with_a_time_without_offset_is_read_as_beijing_time(reference_data, tmp_path):
    kml = _ogr2ogr(tmp_path, [_feature(INSIDE, reported="2026-03-01 08:30")], "h.kml")

    _import(kml, "--layer", "cases")

    assert Report.objects.get(external_id="WO-1").received_at == datetime(2026, 3, 1, 0, 30,
                                                                          tzinfo=UTC)


def test_cgcs2000_geopackage_is_accepted(reference_data, tmp_path):
    gpkg = _ogr2ogr(tmp_path, _history(), "cgcs2000.gpkg", "-a_srs", "EPSG:4490")

    summary = _import(gpkg, "--dry-run")

    assert "China Geodetic Coordinate System 2000" in summary
    assert "cases checked, nothing written (dry run): case_records_new 3" in summary


def test_exported_cases_import_back_cleanly_in_a_dry_run(reference_data, tmp_path):
    _import(_ogr2ogr(tmp_path, _history(), "history.gpkg"))
    for file_format, name in (("shp", "cases.shp"), ("gpkg", "cases.gpkg")):
        out = tmp_path / name
        call_command("geography_export", str(out), "--layer", "cases", "--format", file_format,
                     "--subdistrict", "110106006", stdout=io.StringIO())

        summary = _import(out, "--dry-run")

        assert "cases checked, nothing written (dry run): case_records_new 2" in summary


def test_exported_times_keep_their_hour_in_a_shapefile(reference_data, tmp_path):
    _import(_ogr2ogr(tmp_path, _history(), "history.gpkg"))
    out = tmp_path / "cases.shp"
    call_command("geography_export", str(out), "--layer", "cases", "--format", "shp",
                 stdout=io.StringIO())
    info = subprocess.run(["ogrinfo", "-al", str(out)], capture_output=True, text=True,
                          check=True).stdout

    assert "created (String) = 2026-03-01T00:30:00+00:00" in info
    assert "desc" not in info and "WO-1" not in info  # the records' words and IDs stay home


def test_progress_bars_cover_the_cases(reference_data, tmp_path, capsys):
    gpkg = _ogr2ogr(tmp_path, _history(), "history.gpkg")
    with translation.override("en"):
        call_command("geography_import", str(gpkg), stdout=io.StringIO())
    bars = capsys.readouterr().err
    assert "reading: 100%" in bars and "checking: 100%" in bars and "writing: 100%" in bars
    assert "3/3" in bars


def test_case_problems_in_chinese(reference_data, tmp_path):
    gpkg = _ogr2ogr(tmp_path, [_feature(INSIDE, category="X9999")], "bad.gpkg")
    err = io.StringIO()
    with translation.override("zh-hans"), pytest.raises(CommandError):
        call_command("geography_import", str(gpkg), "-v", "0", stderr=err)
    assert "features.1.category: [WO-1] 所选类别不存在" in err.getvalue()


# --- the office's page ------------------------------------------------------------------------


@pytest.fixture
def no_uploads_waiting():
    """The test media folder outlives a run: start with no upload waiting."""
    if default_storage.exists("geography-uploads"):
        for name in default_storage.listdir("geography-uploads")[1]:
            default_storage.delete(f"geography-uploads/{name}")


def _post(client, username: str, path: Path, **fields):
    client.force_login(get_user_model().objects.get(username=username))
    with open(path, "rb") as handle:
        return client.post("/office/geography/", {"file": handle, **fields},
                           HTTP_ACCEPT_LANGUAGE="en")


def test_office_staff_check_then_apply_their_subdistricts_cases(reference_data, client,
                                                                tmp_path, no_uploads_waiting):
    checked = _post(client, "office_dgd1", _ogr2ogr(tmp_path, _history(), "h.gpkg"),
                    layer="cases")
    assert checked.status_code == 200, checked.content.decode()
    page = checked.content.decode()
    assert "Case records to import" in page and "<td>3</td>" in page
    assert not Report.objects.filter(channel=Report.Channel.IMPORT).exists()

    applied = client.post("/office/geography/", {"upload": checked.context["upload"]})

    assert applied.status_code == 303
    assert Report.objects.filter(channel=Report.Channel.IMPORT).count() == 3


def test_office_staff_of_another_subdistrict_cannot_import_its_cases(
        reference_data, client, tmp_path, no_uploads_waiting):
    features = [_feature(INSIDE, ext_id="WO-1"), _feature(HEYI, ext_id="WO-2")]

    response = _post(client, "office_heyi1", _ogr2ogr(tmp_path, features, "h.gpkg"),
                     layer="cases")

    assert response.status_code == 400
    page = response.content.decode()
    assert "<code>features.1.geometry</code>" in page
    assert "[WO-1] This place is in a subdistrict you do not work for" in page
    assert "features.2" not in page  # 和义's own case is fine
    assert not Report.objects.filter(channel=Report.Channel.IMPORT).exists()


def test_union_staff_may_not_import_cases(reference_data, client, tmp_path,
                                          no_uploads_waiting):
    response = _post(client, "union_dgd1", _ogr2ogr(tmp_path, _history(), "h.gpkg"))

    assert response.status_code == 400
    assert "Your role may not import this layer" in response.content.decode()
    assert not Report.objects.filter(channel=Report.Channel.IMPORT).exists()


def test_office_downloads_their_subdistricts_cases(reference_data, client, tmp_path):
    _import(_ogr2ogr(tmp_path, [_feature(INSIDE, ext_id="WO-1"),
                                _feature(HEYI, ext_id="WO-2")], "h.gpkg"))
    client.force_login(get_user_model().objects.get(username="office_heyi1"))

    response = client.get("/office/geography/cases.geojson")

    data = json.loads(b"".join(response.streaming_content))
    assert [feature["properties"]["subdist"] for feature in data["features"]] == ["110106016"]
    assert "WO-2" not in json.dumps(data) and "井盖" not in json.dumps(data, ensure_ascii=False)
