"""The geography files page in a real browser, as union staff: upload a zipped Shapefile of
stations made with ogr2ogr, read the dry run, apply it; then a file with a bad row, every
problem listed by row. axe-core clean, every request answered by our own origin."""

from __future__ import annotations

import io
import subprocess
import zipfile

import pytest
from django.core.management import call_command

from stations.models import Station

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _stations_zip(tmp_path, *, venue_type: str = "venue_type") -> str:
    """Nanyuan's stations as a zipped Shapefile, renamed in English (and, with a quoted
    ``venue_type``, every venue type replaced by it)."""
    tmp_path = tmp_path / venue_type.strip("'")
    tmp_path.mkdir()
    exported = tmp_path / "export.shp"
    call_command("geography_export", str(exported), "--layer", "stations", "--format", "shp",
                 "--subdistrict", "110106005", stdout=io.StringIO())
    shp = tmp_path / "stations.shp"
    subprocess.run(["ogr2ogr", "-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", "-dialect",
                    "SQLite", "-sql", "SELECT GEOMETRY, name_zh, name_en || ' (new)' AS name_en, "
                    f"{venue_type} AS venue_type, address_zh, radius_m, services, hours, "
                    "is_active FROM export", str(shp), str(exported)],
                   check=True, capture_output=True)
    archive = tmp_path / "stations.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            bundle.write(tmp_path / f"stations.{ext}", f"stations.{ext}")
    return str(archive)


def test_union_staff_check_and_apply_a_stations_file(reference_data, open_page, session_for,
                                                     tmp_path, settings):
    settings.BASEMAP = "none"
    count = Station.objects.filter(subdistrict__code="110106005").count()
    watched = open_page("/office/geography/", session=session_for("union1"))
    page = watched.page
    assert watched.axe_violations() == []

    page.set_input_files("#id_file", _stations_zip(tmp_path, venue_type="'castle'"))
    with page.expect_navigation():
        page.click("form[enctype] button[type=submit]")
    problems = page.locator("#geography-problems").text_content()
    assert "rows.1.venue_type" in problems and f"rows.{count}.venue_type" in problems
    assert "未知的场所类型。" in problems
    assert watched.axe_violations() == []
    assert not Station.objects.filter(name_en__endswith="(new)").exists()

    page.set_input_files("#id_file", _stations_zip(tmp_path))
    with page.expect_navigation():
        page.click("form[enctype] button[type=submit]")
    summary = page.locator("#geography-summary").text_content()
    assert "Shapefile" in summary and "更新的驿站" in summary and str(count) in summary
    assert watched.axe_violations() == []
    assert not Station.objects.filter(name_en__endswith="(new)").exists()  # a dry run

    with page.expect_navigation():
        page.click("#geography-summary + form button[type=submit]")
    assert page.locator(".civicmap-saved").text_content() == "文件已导入。"
    assert Station.objects.filter(name_en__endswith="(new)").count() == count
    # The refusal was a 400 answer, which Chromium logs; nothing else went wrong.
    assert watched.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    watched.console_errors.clear()
    watched.assert_clean()
