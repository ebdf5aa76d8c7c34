"""The union's visits page (/union/visits/): figures, tables and CSV of the check-ins and the
benefits redeemed; each union its own stations, the district every subdistrict's with a
subdistrict filter; bad filters are the form's error (400) and no figures; riders, the public
and a subdistrict's office go to the login page; in a real browser: charts drawn from our own
origin beside their tables, axe clean."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.frontend.conftest import ARTIFACTS, screenshot
from tests.stations.helpers import (
    VISITS_CENTRE,
    VISITS_HEYI,
    VISITS_MONTH,
    VISITS_WANDA,
    visits_history_create,
)

PAGE = "/union/visits/"
NOVEMBER = f"?period=month&month={VISITS_MONTH}"


def _client(username: str) -> Client:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def history(reference_data):
    return visits_history_create()


def _charts(page: str) -> dict:
    start = page.index('<script id="stats-charts" type="application/json">')
    text = page[page.index(">", start) + 1:page.index("</script>", start)]
    return {chart["id"]: chart for chart in json.loads(text)}


@pytest.mark.django_db
def test_union_staff_see_their_stations_figures(history):
    answer = _client("union1").get(PAGE + NOVEMBER)
    assert answer.status_code == 200
    page = answer.content.decode()
    for table in ("day", "week", "hour", "station", "benefit", "benefit-station"):
        assert f'id="table-{table}"' in page and f"/union/visits/{table}.csv?" in page
    charts = _charts(page)
    assert len(charts) == 6
    hours = charts["chart-visits-hour"]
    assert hours["categories"][0] == "00:00" and hours["series"][0]["data"][0] == 2
    assert hours["series"][0]["data"][23] == 1
    days = dict(zip(charts["chart-visits-day"]["categories"],
                    charts["chart-visits-day"]["series"][0]["data"], strict=True))
    assert len(days) == 30 and (days["2026-11-08"], days["2026-11-09"]) == (1, 4)
    stations = charts["chart-visits-station"]
    assert stations["categories"][:2] == [VISITS_WANDA, VISITS_CENTRE]
    assert VISITS_HEYI not in page  # Heyi's station is not Nanyuan's union's
    assert 'name="subdistrict"' not in page  # one subdistrict: no filter
    assert "<dd>5</dd>" in page and "<dd>4</dd>" in page  # check-ins; benefits redeemed


@pytest.mark.django_db
def test_one_station(history):
    page = _client("union1").get(f"{PAGE}{NOVEMBER}&station={history[VISITS_WANDA]}")
    assert page.status_code == 200
    charts = _charts(page.content.decode())
    assert charts["chart-visits-station"]["categories"] == [VISITS_WANDA]
    assert sum(charts["chart-visits-day"]["series"][0]["data"]) == 3


@pytest.mark.django_db
def test_the_district_reads_every_subdistrict_with_a_filter(history):
    client = _client("office_district")
    page = client.get(PAGE + NOVEMBER).content.decode()
    assert 'name="subdistrict"' in page and VISITS_HEYI in page
    assert "补胎维修八折 (和义街道)" in page  # two unions' benefits of one name, told apart
    heyi = client.get(f"{PAGE}{NOVEMBER}&subdistrict=110106016").content.decode()
    assert _charts(heyi)["chart-visits-station"]["categories"][0] == VISITS_HEYI
    assert VISITS_WANDA not in _charts(heyi)["chart-visits-station"]["categories"]


@pytest.mark.django_db
@pytest.mark.parametrize("query, field", [
    ("?period=12", "period"),
    ("?period=month", "month"),
    ("?period=month&month=2026-13", "month"),
    ("?month=11/2026", "month"),
    ("?period=month&month=2999-01", "month"),
    ("?station=abc", "station"),
])
def test_bad_filters_are_the_forms_errors(history, query, field):
    answer = _client("union1").get(PAGE + query)
    assert answer.status_code == 400
    page = answer.content.decode()
    assert f'data-field="{field}"' in page and 'id="table-day"' not in page
    assert _client("union1").get(f"{PAGE}hour.csv{query}").status_code == 400


@pytest.mark.django_db
def test_another_subdistricts_station_is_refused(history):
    heyi_station = f"?station={history[VISITS_HEYI]}"
    answer = _client("union1").get(PAGE + heyi_station)
    assert answer.status_code == 400 and 'data-field="station"' in answer.content.decode()
    assert VISITS_HEYI not in answer.content.decode()
    assert _client("union1").get(f"{PAGE}station.csv{heyi_station}").status_code == 400
    # The district may ask for it, but not inside another subdistrict.
    district = _client("office_district")
    assert district.get(PAGE + heyi_station).status_code == 200
    mixed = district.get(f"{PAGE}{heyi_station}&subdistrict=110106005",
                         HTTP_ACCEPT_LANGUAGE="en")
    assert mixed.status_code == 400
    assert "This station is not in the chosen subdistrict." in mixed.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("username", [None, "rider1", "office1", "cw_vol1"])
def test_others_go_to_the_login_page(history, username):
    client = Client() if username is None else _client(username)
    for path in (PAGE, f"{PAGE}hour.csv"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/login/" in answer["Location"]


@pytest.mark.django_db
def test_each_table_is_a_csv_file(history):
    client = _client("union1")
    answer = client.get(f"{PAGE}benefit-station.csv{NOVEMBER}")
    assert answer.status_code == 200 and answer["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="visits-benefit-station-2026-11-01-2026-11-30.csv"' in (
        answer["Content-Disposition"])
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff驿站,")
    lines = text[1:].splitlines()
    assert lines[0] == "驿站,免费理发,免费复印证件,补胎维修八折,合计"  # by benefit code
    assert f"{VISITS_WANDA},1,1,0,2" in lines and f"{VISITS_CENTRE},0,2,0,2" in lines
    hours = client.get(f"{PAGE}hour.csv{NOVEMBER}").content.decode("utf-8").splitlines()
    assert hours[1] == "00:00,2,2" and len(hours) == 25
    assert client.get(f"{PAGE}stage.csv").status_code == 404


@pytest.mark.django_db
def test_the_nav_links_the_page_for_union_staff(reference_data):
    assert f'href="{PAGE}"' in _client("union1").get("/union/members/").content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_page_in_a_browser_as_union_staff(reference_data, open_page, session_for):
    visits_history_create()
    watched = open_page(PAGE + NOVEMBER, session=session_for("union1"))
    page = watched.page
    page.wait_for_function(
        "document.querySelectorAll('.stats-chart[data-drawn] canvas').length"
        " === document.querySelectorAll('.stats-chart').length")
    assert page.locator(".stats-chart").count() == 6
    assert page.locator(".stats-table").count() == 6
    assert page.locator("#table-hour tbody tr").count() == 24
    assert page.locator("a[download]").count() == 6
    screenshot(page, "union-visits.png")
    for section in ("hour", "station", "benefit-station"):
        page.locator(f"section[aria-labelledby='visits-{section}-title']").screenshot(
            path=str(ARTIFACTS / f"union-visits-{section}.png"))
    assert watched.axe_violations() == []
    watched.assert_clean()
    # The district in English: every subdistrict's stations, the headers in English.
    english = open_page(PAGE + NOVEMBER, locale="en-US", session=session_for("office_district"))
    english.page.wait_for_selector("#chart-visits-benefit-station[data-drawn] canvas")
    assert english.page.locator("#table-hour thead th").first.inner_text() == (
        "Hour (Beijing time)")
    assert english.page.locator("select#id_subdistrict").count() == 1
    english.assert_clean()


@pytest.mark.django_db
def test_the_page_reads_a_fixed_number_of_queries(history, django_assert_max_num_queries):
    # Session and user, the scope, the filter's choices, then one aggregate per figure (15 in
    # all today), however many check-ins there are.
    client = _client("office_district")
    with django_assert_max_num_queries(16):
        assert client.get(PAGE + NOVEMBER).status_code == 200
