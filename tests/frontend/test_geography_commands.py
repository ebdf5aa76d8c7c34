"""Geography in and out through GDAL: files made with ogr2ogr inside each test from the demo's
Donggaodi layers (fixtures/donggaodi_geography.geojson: 1 subdistrict, 9 communities, 215 unit
grids), imported with ``manage.py geography_import`` and exported with ``geography_export``."""

from __future__ import annotations

import copy
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from civicmap.coords import wgs84_to_gcj02
from civicmap.models import CommunityGrid, UnitGrid
from fixtures.seed import FIXTURES_DIR
from stations.models import Station

pytestmark = pytest.mark.django_db

DONGGAODI = "110106006"
COMMUNITY = "110106006001"  # feature 2 of the file
UNIT_FEATURE = 11  # the first unit grid, 110106006001001 (feature 11)
RENAMED = "Sanjiaodi First Community (renamed)"
# GCJ-02 as a Shapefile's .prj says it: WGS 84's datum and axes under another name.
GCJ02_WKT = ('GEOGCS["GCJ-02",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
             'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]')


def _demo() -> dict:
    """Donggaodi's layers with community 110106006001 renamed (English), so an import that
    writes is seen to write."""
    with open(FIXTURES_DIR / "donggaodi_geography.geojson", encoding="utf-8") as handle:
        data = json.load(handle)
    data["features"][1]["properties"]["name_en"] = RENAMED
    return data


def _geojson(tmp_path: Path, data: dict, name: str = "source.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _ogr2ogr(*args: str) -> None:
    subprocess.run(["ogr2ogr", *args], check=True, capture_output=True)


def _import(path: Path, *options: str) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("geography_import", str(path), *options, "-v", "0", stdout=out)
    return out.getvalue()


def _refused(path: Path, *options: str) -> str:
    err = io.StringIO()
    with translation.override("en"), pytest.raises(CommandError, match="nothing was written"):
        call_command("geography_import", str(path), *options, "-v", "0", stderr=err)
    return err.getvalue()


def _name() -> str:
    return CommunityGrid.objects.get(code=COMMUNITY).name_en


def _moved_m2(before) -> float:
    """m² (EPSG:4548) between unit grid 110106006001001 as stored now and ``before``; a
    Shapefile turns rings clockwise, so vertices are not compared one by one."""
    after = UnitGrid.objects.get(grid_id="110106006001001").boundary
    return after.sym_difference(before).transform(4548, clone=True).area


def test_shapefile_made_by_ogr2ogr_is_imported(reference_data, tmp_path):
    shp = tmp_path / "donggaodi.shp"
    _ogr2ogr("-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", str(shp),
             str(_geojson(tmp_path, _demo())))
    before = UnitGrid.objects.get(grid_id="110106006001001").boundary

    summary = _import(shp)

    assert "Shapefile, WGS 84; grids imported" in summary
    assert "communities 9, unit_grids 215, unit_grids_removed 0" in summary
    assert _name() == RENAMED
    assert CommunityGrid.objects.get(code=COMMUNITY).name_zh == "三角地第一社区"  # UTF-8 kept
    assert UnitGrid.objects.filter(community__subdistrict__code=DONGGAODI).count() == 215
    assert _moved_m2(before) < 0.01


def test_geopackage_in_a_cgcs2000_projection_is_transformed_to_wgs84(reference_data, tmp_path):
    # EPSG:4548: CGCS2000 / 3-degree Gauss-Kruger CM 117E, metres; GDAL transforms it back.
    gpkg = tmp_path / "donggaodi.gpkg"
    _ogr2ogr("-f", "GPKG", "-t_srs", "EPSG:4548", str(gpkg), str(_geojson(tmp_path, _demo())))
    before = UnitGrid.objects.get(grid_id="110106006001001").boundary

    summary = _import(gpkg)

    assert "GeoPackage, CGCS2000 / 3-degree Gauss-Kruger CM 117E; grids imported" in summary
    assert _name() == RENAMED
    assert _moved_m2(before) < 0.01


def test_dry_run_of_a_cgcs2000_geopackage_writes_nothing(reference_data, tmp_path):
    gpkg = tmp_path / "donggaodi.gpkg"
    _ogr2ogr("-f", "GPKG", "-a_srs", "EPSG:4490", str(gpkg), str(_geojson(tmp_path, _demo())))

    summary = _import(gpkg, "--dry-run")

    assert "China Geodetic Coordinate System 2000; grids checked, nothing written" in summary
    assert _name() == "Sanjiaodi No. 1 Community"


def _shifted_to_gcj02(data: dict) -> dict:
    data = copy.deepcopy(data)
    for feature in data["features"]:
        feature["geometry"]["coordinates"] = [
            [list(wgs84_to_gcj02(lon, lat)) for lon, lat in ring]
            for ring in feature["geometry"]["coordinates"]
        ]
    return data


def test_shapefile_declared_gcj02_is_shifted_back(reference_data, tmp_path):
    shp = tmp_path / "donggaodi_gcj.shp"
    _ogr2ogr("-f", "ESRI Shapefile", "-a_srs", GCJ02_WKT, str(shp),
             str(_geojson(tmp_path, _shifted_to_gcj02(_demo()))))
    before = UnitGrid.objects.get(grid_id="110106006001001").boundary

    summary = _import(shp)

    assert "GCJ-02 (shifted back from GCJ-02)" in summary
    assert _name() == RENAMED
    # The inverse is solved to 1e-9 degrees (0.1 mm): the 100 m cell is back where it was.
    assert _moved_m2(before) < 0.1


def test_undeclared_gcj02_file_is_detected_against_the_loaded_subdistrict(reference_data,
                                                                           tmp_path):
    # A GeoJSON exported from a Chinese web map, saying nothing: 550 m off Donggaodi as loaded.
    path = _geojson(tmp_path, _shifted_to_gcj02(_demo()), "donggaodi_amap.geojson")

    summary = _import(path)

    assert "(shifted back from GCJ-02)" in summary
    assert _name() == RENAMED


def test_kml_made_by_ogr2ogr_passes_a_dry_run(reference_data, tmp_path):
    kml = tmp_path / "donggaodi.kml"
    _ogr2ogr("-f", "KML", str(kml), str(_geojson(tmp_path, _demo())))

    assert "KML, WGS 84; grids checked, nothing written" in _import(kml, "--dry-run")


def test_self_intersecting_polygon_is_refused_naming_its_feature(reference_data, tmp_path):
    data = _demo()
    # A bow tie: the ring crosses itself at (116.4085, 39.8085).
    data["features"][UNIT_FEATURE - 1]["geometry"]["coordinates"] = [[
        [116.408, 39.808], [116.409, 39.809], [116.409, 39.808], [116.408, 39.809],
        [116.408, 39.808]]]
    shp = tmp_path / "bowtie.shp"
    _ogr2ogr("-f", "ESRI Shapefile", str(shp), str(_geojson(tmp_path, data)))

    errors = _refused(shp)

    assert f"features.{UNIT_FEATURE}.geometry: Invalid geometry: Self-intersection" in errors
    assert _name() == "Sanjiaodi No. 1 Community"


def test_malformed_and_duplicate_ids_are_refused_naming_their_features(reference_data,
                                                                       tmp_path):
    data = _demo()
    data["features"][UNIT_FEATURE - 1]["properties"]["grid_id"] = "11010600600100A"
    data["features"][UNIT_FEATURE]["properties"]["grid_id"] = "110106006001003"  # also #13
    gpkg = tmp_path / "ids.gpkg"
    _ogr2ogr("-f", "GPKG", str(gpkg), str(_geojson(tmp_path, data)))

    errors = _refused(gpkg, "--dry-run")

    assert (f"features.{UNIT_FEATURE}.grid_id: A unit grid ID is 15 digits beginning with its "
            "community's code (DB11/T 2157-2023): 11010600600100A.") in errors
    assert "features.13.grid_id: 110106006001003 is also the ID of feature 12." in errors
    assert _name() == "Sanjiaodi No. 1 Community"


def test_overlaps_gaps_and_parts_outside_are_all_listed(reference_data, tmp_path):
    data = _demo()
    # Unit 110106006001001 moved 0.0005 degrees (about 43 m) east: it overlaps its neighbour,
    # leaves a gap behind and may leave its community.
    ring = data["features"][UNIT_FEATURE - 1]["geometry"]["coordinates"][0]
    data["features"][UNIT_FEATURE - 1]["geometry"]["coordinates"] = [
        [[lon + 0.0005, lat] for lon, lat in ring]]
    shp = tmp_path / "moved.shp"
    _ogr2ogr("-f", "ESRI Shapefile", str(shp), str(_geojson(tmp_path, data)))

    errors = _refused(shp)

    assert f"features.{UNIT_FEATURE}.geometry: Overlaps" not in errors  # on the later one
    assert f"Overlaps 110106006001001 (feature {UNIT_FEATURE})" in errors
    assert "features.2.geometry: A gap of" in errors
    assert "is covered by no unit grid." in errors
    assert _name() == "Sanjiaodi No. 1 Community"


def test_a_file_that_is_not_what_its_name_says_is_refused(reference_data, tmp_path):
    source = _geojson(tmp_path, _demo())
    lying = tmp_path / "donggaodi.gpkg"
    shutil.copy(source, lying)  # GeoJSON text named .gpkg

    errors = _refused(lying)

    assert ("file: The file donggaodi.gpkg cannot be read as GeoPackage: it is not what its "
            "name says, or it is damaged.") in errors
    assert _name() == "Sanjiaodi No. 1 Community"

    real_gpkg = tmp_path / "real.gpkg"
    _ogr2ogr("-f", "GPKG", str(real_gpkg), str(source))
    shp = tmp_path / "lying.shp"
    shutil.copy(real_gpkg, shp)  # a GeoPackage named .shp
    assert "cannot be read as Shapefile" in _refused(shp)
    assert "file: Use a GeoJSON" in _refused(_geojson(tmp_path, _demo(), "grids.txt"))


def test_grids_exported_in_every_format_import_back_unchanged(reference_data, tmp_path):
    for file_format, extension in (("shp", "shp"), ("gpkg", "gpkg"), ("geojson", "geojson")):
        out = tmp_path / f"donggaodi.{extension}"
        call_command("geography_export", str(out), "--layer", "grids", "--format", file_format,
                     "--subdistrict", DONGGAODI, stdout=io.StringIO())
        summary = _import(out, "--dry-run")
        assert "communities 9, unit_grids 215, unit_grids_removed 0" in summary, file_format
    csv = tmp_path / "donggaodi.csv"
    call_command("geography_export", str(csv), "--layer", "grids", "--format", "csv",
                 "--subdistrict", DONGGAODI, stdout=io.StringIO())
    lines = csv.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "WKT,layer,code,name_zh,name_en,grid_id,community"
    assert len(lines) == 1 + 1 + 9 + 215
    # Codes quoted, so that a spreadsheet keeps them as text (leading zeros, 15 digits).
    assert lines[1].startswith('"POLYGON ((116.4075 39.7902,')
    assert ',subdistrict,"110106006",东高地街道,Donggaodi Subdistrict,,' in lines[1]


def test_stations_exported_as_shapefile_and_geopackage_import_back(reference_data, tmp_path):
    shp = tmp_path / "stations.shp"
    call_command("geography_export", str(shp), "--layer", "stations", "--format", "shp",
                 stdout=io.StringIO())
    count = Station.objects.count()
    assert f"stations checked, nothing written (dry run): stations_created 0, stations_updated " \
           f"{count}." in _import(shp, "--dry-run")

    # A GeoPackage with one station's English name changed, made with ogr2ogr from the export.
    renamed = tmp_path / "renamed.gpkg"
    station = Station.objects.order_by("name_zh").first()
    _ogr2ogr("-f", "GPKG", "-nln", "stations", "-dialect", "SQLite", "-sql",
             f"SELECT GEOMETRY, name_zh, CASE WHEN name_zh = '{station.name_zh}' "
             "THEN 'Renamed station' ELSE name_en END AS name_en, venue_type, address_zh, "
             "radius_m, services, hours, is_active FROM stations", str(renamed), str(shp))
    before = (station.opening_hours, station.services, station.location.wkt)

    assert f"stations_updated {count}." in _import(renamed, "--layer", "stations")

    station.refresh_from_db()
    assert station.name_en == "Renamed station"
    assert (station.opening_hours, station.services) == before[:2]


def test_station_file_with_a_bad_row_writes_nothing(reference_data, tmp_path):
    shp = tmp_path / "stations.shp"
    call_command("geography_export", str(shp), "--layer", "stations", "--format", "shp",
                 stdout=io.StringIO())
    bad = tmp_path / "bad.geojson"
    _ogr2ogr("-f", "GeoJSON", "-sql", "SELECT name_zh, 'Changed' AS name_en, 'castle' AS "
             "venue_type, address_zh, radius_m, services, hours, is_active FROM stations",
             str(bad), str(shp))

    errors = _refused(bad, "--layer", "stations")

    assert "rows.1.venue_type: Unknown venue type." in errors
    assert not Station.objects.filter(name_en="Changed").exists()


def test_cases_export_to_csv(reference_data, tmp_path):
    out = tmp_path / "cases.csv"
    call_command("geography_export", str(out), "--layer", "cases", "--format", "csv",
                 stdout=io.StringIO())
    assert out.exists()


def test_geopackage_with_a_layer_per_level_is_imported(reference_data, tmp_path):
    # Layers named subdistrict, community and unit, without a "layer" attribute.
    source = _geojson(tmp_path, _demo())
    gpkg = tmp_path / "levels.gpkg"
    for level in ("subdistrict", "community", "unit"):
        _ogr2ogr("-f", "GPKG", "-append", "-nln", level, "-sql",
                 "SELECT code, name_zh, name_en, grid_id, community FROM donggaodi_geography "
                 f"WHERE layer = '{level}'", str(gpkg), str(source))

    summary = _import(gpkg)

    assert "communities 9, unit_grids 215" in summary
    assert _name() == RENAMED


def test_zipped_shapefile_is_read(reference_data, tmp_path):
    shp = tmp_path / "donggaodi.shp"
    _ogr2ogr("-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", str(shp),
             str(_geojson(tmp_path, _demo())))
    archive = shutil.make_archive(str(tmp_path / "donggaodi"), "zip", tmp_path,
                                  base_dir=None)
    assert "Shapefile, WGS 84; grids checked" in _import(Path(archive), "--dry-run")


def test_other_datums_and_unknown_coordinate_systems_are_refused(reference_data, tmp_path):
    source = _geojson(tmp_path, _demo())
    beijing54 = tmp_path / "beijing54.gpkg"
    # EPSG:2436: Beijing 1954 / 3-degree Gauss-Kruger CM 117E.
    _ogr2ogr("-f", "GPKG", "-t_srs", "EPSG:2436", str(beijing54), str(source))
    assert ("file: Layer donggaodi_geography is in Beijing 1954 / 3-degree Gauss-Kruger CM "
            "117E: use WGS 84, CGCS2000") in _refused(beijing54)

    shp = tmp_path / "noprj.shp"
    _ogr2ogr("-f", "ESRI Shapefile", str(shp), str(source))
    (tmp_path / "noprj.prj").unlink()
    assert "file: The Shapefile has no .prj file" in _refused(shp)
    assert _name() == "Sanjiaodi No. 1 Community"


def test_geojson_declaring_gcj02_in_its_crs_member_is_shifted_back(reference_data, tmp_path):
    data = _shifted_to_gcj02(_demo())
    data["crs"] = {"type": "name", "properties": {"name": "GCJ-02"}}
    assert "(shifted back from GCJ-02)" in _import(_geojson(tmp_path, data), "--dry-run")


def test_unit_grid_with_reports_cannot_be_removed(reference_data, tmp_path):
    from django.utils import timezone

    from tests.frontend.helpers import report_add

    unit = UnitGrid.objects.get(grid_id="110106006001001")
    spot = unit.boundary.point_on_surface
    report_add(point=(spot.x, spot.y), code="E0505", received_at=timezone.now())
    data = _demo()
    del data["features"][UNIT_FEATURE - 1]
    gpkg = tmp_path / "without.gpkg"
    _ogr2ogr("-f", "GPKG", str(gpkg), str(_geojson(tmp_path, data)))

    errors = _refused(gpkg)

    assert ("features: Unit grid 110106006001001 is missing from the file, but reports or cases "
            "lie in it, so it cannot be removed.") in errors
    assert "features.2.geometry: A gap of" in errors
    assert UnitGrid.objects.filter(grid_id="110106006001001").exists()


def test_progress_bar_and_problem_list_go_to_stderr(reference_data, tmp_path, capsys):
    shp = tmp_path / "donggaodi.shp"
    _ogr2ogr("-f", "ESRI Shapefile", str(shp), str(_geojson(tmp_path, _demo())))
    with translation.override("en"):
        call_command("geography_import", str(shp), "--dry-run", stdout=io.StringIO())
    bars = capsys.readouterr().err
    assert "reading: 100%" in bars and "225/225" in bars
    assert "checking: 100%" in bars


def test_grid_problems_in_chinese(reference_data, tmp_path):
    data = _demo()
    data["features"][UNIT_FEATURE - 1]["properties"]["grid_id"] = "110106006001"
    err = io.StringIO()
    with translation.override("zh-hans"), pytest.raises(CommandError):
        call_command("geography_import", str(_geojson(tmp_path, data)), "-v", "0", stderr=err)
    assert f"features.{UNIT_FEATURE}.grid_id: 单元网格编码为 15 位数字" in err.getvalue()


def test_stations_from_a_gcj02_geopackage_land_where_they_were(reference_data, tmp_path):
    # Stations picked on Amap: the export shifted to GCJ-02 and declared so in the GeoPackage.
    exported = tmp_path / "stations.geojson"
    call_command("geography_export", str(exported), "--layer", "stations", "--format",
                 "geojson", stdout=io.StringIO())
    data = json.loads(exported.read_text(encoding="utf-8"))
    for feature in data["features"]:
        feature["geometry"]["coordinates"] = list(wgs84_to_gcj02(
            *feature["geometry"]["coordinates"]))
    gpkg = tmp_path / "stations_amap.gpkg"
    _ogr2ogr("-f", "GPKG", "-a_srs", GCJ02_WKT, str(gpkg),
             str(_geojson(tmp_path, data, "stations_amap.geojson")))
    before = {name: point for name, point in Station.objects.values_list("name_zh", "location")}

    summary = _import(gpkg)

    assert "GCJ-02 (shifted back from GCJ-02); stations imported" in summary
    for name, point in Station.objects.values_list("name_zh", "location"):
        # Degrees; the export keeps 7 decimals (1 cm) and the inverse is solved to 1e-9.
        assert abs(point.x - before[name].x) < 2e-7 and abs(point.y - before[name].y) < 2e-7


def test_the_whole_districts_grids_export_and_import_back(reference_data, tmp_path):
    gpkg = tmp_path / "district.gpkg"
    call_command("geography_export", str(gpkg), "--layer", "grids", "--format", "gpkg",
                 stdout=io.StringIO())

    summary = _import(gpkg)

    # Nanyuan 14 + 1,311, Heyi 9 + 715, Donggaodi 9 + 215 (fixtures/README.md).
    assert ("subdistricts 3, communities 32, unit_grids 2241, unit_grids_removed 0."
            in summary)
