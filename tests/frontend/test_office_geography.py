"""/office/geography/: office staff check a file (a dry run shown with every problem), apply
it, and download their subdistrict's layers. Files made with ogr2ogr in the test."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from civicmap.models import CommunityGrid
from fixtures.seed import FIXTURES_DIR
from stations.models import Station

pytestmark = pytest.mark.django_db

COMMUNITY = "110106006001"  # Donggaodi's first community, feature 2
RENAMED = "Sanjiaodi First Community (renamed)"


def _gpkg(tmp_path: Path, *, bowtie: bool = False) -> Path:
    with open(FIXTURES_DIR / "donggaodi_geography.geojson", encoding="utf-8") as handle:
        data = json.load(handle)
    data["features"][1]["properties"]["name_en"] = RENAMED
    if bowtie:  # unit grid 110106006001001, feature 11, as a ring crossing itself
        data["features"][10]["geometry"]["coordinates"] = [[
            [116.408, 39.808], [116.409, 39.809], [116.409, 39.808], [116.408, 39.809],
            [116.408, 39.808]]]
    source = tmp_path / "source.geojson"
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "donggaodi.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), str(source)], check=True,
                   capture_output=True)
    return out


@pytest.fixture(autouse=True)
def no_uploads_waiting():
    """The test media folder outlives a run: start each test with no upload waiting."""
    for name in _uploads():
        default_storage.delete(f"geography-uploads/{name}")


def _login(client, username: str):
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _post_file(client, path: Path, **fields):
    with open(path, "rb") as handle:
        return client.post("/office/geography/", {"file": handle, **fields},
                           HTTP_ACCEPT_LANGUAGE="en")


def _uploads() -> list[str]:
    if not default_storage.exists("geography-uploads"):
        return []
    return default_storage.listdir("geography-uploads")[1]


def test_office_staff_check_then_apply_their_subdistricts_grids(reference_data, client,
                                                                tmp_path):
    _login(client, "office_dgd1")
    checked = _post_file(client, _gpkg(tmp_path))
    assert checked.status_code == 200
    page = checked.content.decode()
    assert "Checked: no problems" in page and "<td>215</td>" in page
    assert CommunityGrid.objects.get(code=COMMUNITY).name_en != RENAMED  # a dry run
    assert len(_uploads()) == 1

    applied = client.post("/office/geography/", {"upload": checked.context["upload"]})

    assert applied.status_code == 303
    assert applied["Location"] == "/office/geography/?applied=1"
    assert CommunityGrid.objects.get(code=COMMUNITY).name_en == RENAMED
    assert _uploads() == []
    again = client.post("/office/geography/", {"upload": checked.context["upload"]},
                        HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 400
    assert "The checked file has expired or was already applied" in again.content.decode()


def test_problems_are_listed_by_feature_and_nothing_is_kept(reference_data, client, tmp_path):
    _login(client, "office_dgd1")

    response = _post_file(client, _gpkg(tmp_path, bowtie=True))

    assert response.status_code == 400
    page = response.content.decode()
    assert "<code>features.11.geometry</code>" in page
    assert "Invalid geometry: Self-intersection" in page
    assert CommunityGrid.objects.get(code=COMMUNITY).name_en != RENAMED
    assert _uploads() == []


def test_staff_of_another_subdistrict_cannot_import_its_grids(reference_data, client,
                                                              tmp_path):
    _login(client, "office_heyi1")

    response = _post_file(client, _gpkg(tmp_path))

    assert response.status_code == 400
    assert ("The file&#x27;s subdistrict 110106006 is not one you work for"
            in response.content.decode())


def test_a_file_that_is_not_what_its_name_says_is_refused(reference_data, client, tmp_path):
    _login(client, "office_dgd1")
    lying = tmp_path / "grids.kml"
    lying.write_bytes(_gpkg(tmp_path).read_bytes())

    response = _post_file(client, lying)

    assert response.status_code == 400
    assert "The file grids.kml cannot be read as KML" in response.content.decode()


def test_downloads_are_of_the_staffs_subdistrict(reference_data, client):
    _login(client, "office_dgd1")

    shp = client.get("/office/geography/grids.shp")
    csv = client.get("/office/geography/stations.csv")

    assert shp.status_code == 200
    assert shp["Content-Disposition"] == 'attachment; filename="grids-110106006.zip"'
    names = zipfile.ZipFile(io.BytesIO(b"".join(shp.streaming_content))).namelist()
    assert sorted(names) == [f"grids-110106006.{ext}" for ext in ("cpg", "dbf", "prj", "shp",
                                                                    "shx")]
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("X,Y,name_zh,name_en,venue_type")
    assert client.get("/office/geography/grids.exe").status_code == 404


def test_only_office_staff_reach_the_page(reference_data, client):
    assert client.get("/office/geography/").status_code == 302
    _login(client, "rider1")
    assert client.get("/office/geography/").status_code == 302
    assert client.get("/office/geography/grids.csv").status_code == 302


def test_union_staff_import_stations_and_office_staff_may_not(reference_data, client,
                                                              tmp_path):
    shp = tmp_path / "stations.shp"
    call_command("geography_export", str(shp), "--layer", "stations", "--format", "shp",
                 "--subdistrict", "110106005", stdout=io.StringIO())
    archive = tmp_path / "stations.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            bundle.write(tmp_path / f"stations.{ext}", f"stations.{ext}")
    count = Station.objects.filter(subdistrict__code="110106005").count()

    _login(client, "office1")
    refused = _post_file(client, archive)
    assert refused.status_code == 400
    assert "Your role may not import this layer" in refused.content.decode()

    client.logout()
    _login(client, "union1")
    checked = _post_file(client, archive)
    assert checked.status_code == 200, checked.content.decode()
    assert f"<td>{count}</td>" in checked.content.decode()  # stations updated
    assert client.post("/office/geography/", {"upload": checked.context["upload"]}
                       ).status_code == 303
    assert client.get("/office/geography/cases.csv").status_code == 404


def test_unapplied_uploads_older_than_an_hour_are_deleted(reference_data, client, tmp_path):
    stale = default_storage.save("geography-uploads/stale.gpkg", ContentFile(b"x"))
    old = (timezone.now() - timedelta(hours=2)).timestamp()
    os.utime(default_storage.path(stale), (old, old))  # the test storage is the file system
    _login(client, "office_dgd1")

    assert _post_file(client, _gpkg(tmp_path)).status_code == 200

    assert not default_storage.exists(stale)
    assert len(_uploads()) == 1  # the new one, waiting for Apply
