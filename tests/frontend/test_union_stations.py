"""The union's station pages (/union/stations/): the list beside its map, the editor (names,
venue type and services by their Chinese names, activation, the weekday rows of the opening
hours, the pin on the map, GCJ-02 shifted there and back) and the A4 sheet of the QR code.
Union staff edit their own subdistrict's; another subdistrict's station is a 404; the
district's accounts read and change nothing; in a real browser, accessible (axe)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from civicmap.coords import wgs84_to_gcj02
from stations.models import Station, StationToken

LIST = "/union/stations/"
STATION = "槐房万达广场党群服务站"  # Nanyuan's (fixtures/stations.json), 10:00–22:00 daily


def _client(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _station() -> Station:
    return Station.objects.get(name_zh=STATION)


def _form(station: Station, **changes) -> dict:
    """The editor's fields for ``station`` as a browser posts them (WGS 84 basemap), with
    Monday's two intervals and a Friday night past midnight."""
    return {
        "name_zh": station.name_zh, "name_en": station.name_en,
        "address_zh": station.address_zh, "venue_type": station.venue_type,
        "services": station.services, "coverage_radius_m": "600", "is_active": "1",
        "lon": f"{station.location.x:.7f}", "lat": f"{station.location.y:.7f}",
        "coord_system": "wgs84",
        "hours-0-1-open": "09:00", "hours-0-1-close": "12:00",
        "hours-0-2-open": "14:00", "hours-0-2-close": "18:00",
        "hours-4-1-open": "18:00", "hours-4-1-close": "02:00", "hours-4-1-next_day": "on",
        **changes,
    }


@pytest.mark.django_db
def test_the_list_shows_the_subdistricts_stations_in_chinese(reference_data):
    page = _client("union1").get(LIST)
    assert page.status_code == 200
    text = page.content.decode()
    assert STATION in text and "党群服务中心" in text  # the venue type's Chinese name
    assert "party_mass_centre" not in text.split('id="stations"')[1].split("</table>")[0]
    assert text.count('<tr data-station="') == Station.objects.filter(
        subdistrict__code="110106005").count()
    assert 'href="/office/geography/"' in text and "/office/geography/stations.csv" in text
    assert 'href="/union/stations/"' in text  # the union's nav bar links the page


@pytest.mark.django_db
def test_the_list_filters_by_activation_venue_and_service(reference_data):
    client = _client("union1")
    Station.objects.filter(pk=_station().pk).update(is_active=False)
    inactive = client.get(LIST, {"active": "0"}).content.decode()
    assert inactive.count('<tr data-station="') == 1 and STATION in inactive
    banks = client.get(LIST, {"venue_type": "bank"}).content.decode()
    assert banks.count('<tr data-station="') == Station.objects.filter(
        subdistrict__code="110106005", venue_type="bank").count()
    haircut = client.get(LIST, {"service": "haircut"}).content.decode()
    assert haircut.count('<tr data-station="') == Station.objects.filter(
        subdistrict__code="110106005", services__contains=["haircut"]).count()


@pytest.mark.django_db
def test_union_staff_save_the_hours_services_and_activation(reference_data):
    station = _station()
    answer = _client("union1").post(f"/union/stations/{station.pk}/", _form(
        station, services=["water", "haircut"], is_active="0", closed_on_holidays="on",
        name_zh="槐房万达驿站"))
    assert answer.status_code == 303
    assert answer["Location"] == f"/union/stations/{station.pk}/?saved=1"
    station.refresh_from_db()
    assert (station.name_zh, station.services, station.is_active, station.closed_on_holidays,
            station.coverage_radius_m) == ("槐房万达驿站", ["water", "haircut"], False, True, 600)
    assert station.opening_hours == [
        {"day": 0, "open": "09:00", "close": "12:00"},
        {"day": 0, "open": "14:00", "close": "18:00"},
        {"day": 4, "open": "18:00", "close": "02:00"}]
    page = _client("union1").get(answer["Location"]).content.decode()
    assert 'id="saved"' in page
    assert 'name="hours-4-1-next_day" checked' in page  # the night shown ticked again
    assert re.search(r'value="haircut"[^>]*checked', page)


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "named", "row"), [
    ({"hours-0-2-open": "11:00"}, "星期一第 2 个时段", "hours-0-2"),  # overlaps 09:00–12:00
    ({"hours-4-1-next_day": ""}, "星期五第 1 个时段", "hours-4-1"),  # 18:00–02:00 unticked
    ({"hours-0-2-close": ""}, "星期一第 2 个时段", "hours-0-2"),  # half an interval
])
def test_bad_hours_name_the_weekday_row_and_write_nothing(reference_data, changes, named, row):
    station = _station()
    before = (station.opening_hours, station.services)
    answer = _client("union1").post(f"/union/stations/{station.pk}/",
                                    _form(station, services=["water"], **changes))
    assert answer.status_code == 400
    text = answer.content.decode()
    errors = text.split('id="errors"')[1].split("</div>")[0]
    assert named in errors
    number = row.rsplit("-", 1)[1]
    assert re.search(rf'class="union-interval union-interval-error" data-interval="{number}"',
                     text)
    station.refresh_from_db()
    assert (station.opening_hours, station.services) == before


@pytest.mark.django_db
def test_a_new_station_outside_the_subdistrict_is_refused(reference_data):
    form = _form(_station(), name_zh="新驿站", lon="116.1", lat="39.9")
    answer = _client("union1").post("/union/stations/new/", form)
    assert answer.status_code == 400 and 'data-field="location"' in answer.content.decode()
    assert not Station.objects.filter(name_zh="新驿站").exists()
    form = _form(_station(), name_zh="新驿站", lon="116.3951", lat="39.8046")
    answer = _client("union1").post("/union/stations/new/", form)
    assert answer.status_code == 303
    assert Station.objects.get(name_zh="新驿站").subdistrict.code == "110106005"


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["union1", "union_heyi1"])
def test_a_new_stations_pin_starts_inside_the_readers_subdistrict(reference_data, username):
    from django.contrib.gis.geos import Point

    from civicmap.models import Membership

    page = _client(username).get("/union/stations/new/").content.decode()
    lon = float(re.search(r'name="lon" value="([-0-9.]+)"', page).group(1))
    lat = float(re.search(r'name="lat" value="([-0-9.]+)"', page).group(1))
    subdistrict = Membership.objects.get(user__username=username).subdistrict
    assert subdistrict.boundary.covers(Point(lon, lat, srid=4326))


@pytest.mark.django_db
def test_the_pin_on_a_gcj02_basemap_is_shifted_there_and_back(reference_data, settings):
    """The editor shows the position shifted onto Amap's GCJ-02, and posting it unchanged
    saves the same WGS 84 point (civicmap.coords, inverse to about 0.1 mm)."""
    settings.BASEMAP = "amap"
    station = _station()
    wgs = (station.location.x, station.location.y)
    gcj = wgs84_to_gcj02(*wgs)
    page = _client("union1").get(f"/union/stations/{station.pk}/").content.decode()
    lon = float(re.search(r'name="lon" value="([-0-9.]+)"', page).group(1))
    lat = float(re.search(r'name="lat" value="([-0-9.]+)"', page).group(1))
    assert (lon, lat) == pytest.approx(gcj, abs=1e-7)
    assert abs(lon - wgs[0]) > 0.004  # about 550 m east in Beijing: really shifted
    assert 'name="coord_system" value="gcj02"' in page
    assert f"[{gcj[1]}, {gcj[0]}]" in page  # the pin where the basemap draws the station
    answer = _client("union1").post(f"/union/stations/{station.pk}/", _form(
        station, lon=str(lon), lat=str(lat), coord_system="gcj02"))
    assert answer.status_code == 303
    station.refresh_from_db()
    assert (station.location.x, station.location.y) == pytest.approx(wgs, abs=2e-7)


@pytest.mark.django_db
def test_the_sheet_prints_the_qr_code_name_and_instructions(reference_data):
    station = _station()
    page = _client("union1").get(f"/union/stations/{station.pk}/sheet/")
    assert page.status_code == 200
    text = page.content.decode()
    token = StationToken.objects.get(station=station, revoked_at__isnull=True)
    assert "<svg" in text and token.short_code in text and STATION in text
    assert "骑手如何签到" in text and "How riders check in" not in text
    english = _client("union1").get(f"/union/stations/{station.pk}/sheet/",
                                    HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "骑手如何签到" in english and "How riders check in" in english
    assert "size: A4" in (Path(__file__).resolve().parents[2]
                          / "frontend/static/frontend/union-stations.css").read_text()


@pytest.mark.django_db
def test_the_sheet_as_an_a4_pdf(reference_data):
    station = _station()
    answer = _client("union1").get(f"/union/stations/{station.pk}/sheet.pdf",
                                   HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    pdf = answer.content
    assert pdf.startswith(b"%PDF-") and b"WenQuanYiMicroHei" in pdf  # the CJK font embedded
    assert b"/Count 1" in pdf  # one page
    assert re.search(rb"/MediaBox \[ 0 0 595\.27\d* 841\.88\d* \]", pdf)  # A4 in points
    assert StationToken.objects.filter(station=station, revoked_at__isnull=True).exists()
    assert _client("union_heyi1").get(f"/union/stations/{station.pk}/sheet.pdf"
                                      ).status_code == 404


@pytest.mark.django_db
def test_another_subdistricts_union_gets_404(reference_data):
    station = _station()
    client = _client("union_heyi1")
    assert STATION not in client.get(LIST).content.decode()
    for path in (f"/union/stations/{station.pk}/", f"/union/stations/{station.pk}/sheet/"):
        assert client.get(path).status_code == 404
    assert client.post(f"/union/stations/{station.pk}/",
                       _form(station, name_zh="和义改名")).status_code == 404
    assert _station().name_zh == STATION


@pytest.mark.django_db
def test_the_district_reads_and_changes_nothing(reference_data):
    station = _station()
    client = _client("office_district")
    assert STATION in client.get(LIST).content.decode()
    page = client.get(f"/union/stations/{station.pk}/").content.decode()
    assert 'id="read-only"' in page and 'id="station-save"' not in page
    answer = client.post(f"/union/stations/{station.pk}/", _form(station, name_zh="区里改名"))
    assert answer.status_code == 403 and _station().name_zh == STATION
    assert client.get(f"/union/stations/{station.pk}/sheet/").status_code == 403
    assert client.get("/union/stations/new/").status_code == 403
    assert not StationToken.objects.filter(station=station).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["rider1", "office1"])
def test_others_go_to_the_login_page(reference_data, username):
    assert _client(username).get(LIST).status_code == 302
    assert Client().get(LIST).status_code == 302


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_editing_hours_and_dragging_the_pin_in_a_browser(reference_data, settings, open_page,
                                                         session_for):
    settings.BASEMAP = "none"
    station = _station()
    before = (station.location.x, station.location.y)
    watched = open_page(f"/union/stations/{station.pk}/", session=session_for("union1"))
    page = watched.page
    assert watched.axe_violations() == []
    monday = page.locator('.union-hours-day[data-day="0"]')
    monday.locator(".union-interval").last.locator("button.union-interval-remove").click()
    monday.locator("button.union-interval-add").click()
    added = monday.locator(".union-interval").last
    added.locator('input[data-part="open"]').fill("22:00")
    added.locator('input[data-part="close"]').fill("01:00")
    added.locator('input[data-part="next_day"]').check()
    pin = page.locator(".leaflet-marker-pane .awesome-marker").first
    pin.scroll_into_view_if_needed()
    box = pin.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 30, steps=8)
    page.mouse.up()
    assert float(page.locator("#id_lon").input_value()) > before[0]
    assert float(page.locator("#id_lat").input_value()) < before[1]
    with page.expect_navigation():
        page.locator("#station-save").click()
    assert page.locator("#saved").is_visible()
    assert page.locator('input[name="hours-0-2-next_day"]').is_checked()
    station.refresh_from_db()
    assert {"day": 0, "open": "22:00", "close": "01:00"} in station.opening_hours
    assert station.location.x > before[0] and station.location.y < before[1]
    assert watched.axe_violations() == []
    watched.assert_clean()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_list_and_the_sheet_in_a_browser(reference_data, settings, open_page, session_for):
    settings.BASEMAP = "none"
    session = session_for("union1")
    watched = open_page(LIST, session=session)
    assert watched.page.locator(".leaflet-marker-pane .awesome-marker").count() == (
        Station.objects.filter(subdistrict__code="110106005", is_active=True).count())
    assert watched.axe_violations() == []
    watched.assert_clean()
    sheet = open_page(f"/union/stations/{_station().pk}/sheet/", session=session)
    assert sheet.page.locator("#station-sheet svg").count() == 1
    assert sheet.axe_violations() == []
    sheet.assert_clean()
