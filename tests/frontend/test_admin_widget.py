"""The admin's map widget works offline with OfflineOSMWidget (OpenLayers from our origin)."""

from __future__ import annotations

import pytest
from django.contrib import admin

from frontend.widgets import OfflineOSMWidget
from stations.models import Station

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def station_admin_offline(monkeypatch):
    """StationAdmin with the offline widget, as the lead switches it (see frontend.widgets)."""
    monkeypatch.setattr(admin.site._registry[Station], "gis_widget", OfflineOSMWidget)


def test_station_change_page_draws_its_map_without_a_cdn(reference_data, station_admin_offline,
                                                         open_page, session_for):
    station = Station.objects.order_by("pk").first()
    blocked_types: list[str] = []
    watched = open_page(f"/admin/stations/station/{station.pk}/change/",
                        session=session_for("admin"), blocked_types=blocked_types)
    page = watched.page
    page.wait_for_selector("#id_location_map .ol-viewport canvas")
    assert page.evaluate("typeof ol") == "object"
    # The station's point is on the map, editable: one feature in the widget's layer.
    assert page.evaluate("geodjango_location.featureCollection.getLength()") == 1
    # Only OpenStreetMap's tiles (images) were asked of another host.
    assert set(blocked_types) <= {"image"}
    assert watched.page_errors == []
    assert [e for e in watched.console_errors if "net::ERR_FAILED" not in e] == []


def test_stock_widget_would_need_the_cdn(reference_data, open_page, session_for):
    """Why the subclass exists: Django's own OSMWidget asks cdn.jsdelivr.net for OpenLayers."""
    station = Station.objects.order_by("pk").first()
    watched = open_page(f"/admin/stations/station/{station.pk}/change/",
                        session=session_for("admin"))
    if not any("cdn.jsdelivr.net" in url for url in watched.blocked):
        pytest.skip("StationAdmin already uses the offline widget")
    assert any(url.startswith("script ") for url in watched.blocked)
