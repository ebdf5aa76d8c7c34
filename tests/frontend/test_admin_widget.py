"""The admin's map widgets draw without the public internet (civicmap.admin_widgets).

Every admin with a geometry uses OfflineOSMWidget: OpenLayers from our own static files, the
geometry editable where the user may change it and drawn read-only elsewhere. Only the
OpenStreetMap tiles (images) are asked of another host; the browser fixtures abort them.
"""

from __future__ import annotations

import pytest

from issues.models import Report
from stations.models import Station
from tests.patrol.helpers import report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _drawn(watched, module: str, blocked_types: list[str]) -> int:
    page = watched.page
    page.wait_for_selector(".dj_map .ol-viewport canvas")
    assert page.evaluate("typeof ol") == "object"
    # Only OpenStreetMap's tiles (images) were asked of another host.
    assert set(blocked_types) <= {"image"}
    assert not any(url.startswith(("script ", "stylesheet ")) for url in watched.blocked)
    assert watched.page_errors == []
    assert [e for e in watched.console_errors if "net::ERR_FAILED" not in e] == []
    return page.evaluate(f"{module}.featureCollection.getLength()")


def test_station_change_page_draws_its_map_without_a_cdn(reference_data, open_page,
                                                         session_for):
    station = Station.objects.order_by("pk").first()
    blocked_types: list[str] = []
    watched = open_page(f"/admin/stations/station/{station.pk}/change/",
                        session=session_for("admin"), blocked_types=blocked_types)
    # The station's point is on the map, editable: one feature in the widget's layer.
    assert _drawn(watched, "geodjango_location", blocked_types) == 1


def test_case_and_report_pages_draw_their_point_read_only(reference_data, open_page,
                                                          session_for):
    """Cases and reports are view-only in the admin: the point is drawn on a read-only map
    (not Django's WKT text), from our origin too."""
    sent = report("E0101")
    for path in (f"/admin/issues/case/{sent.case_id}/change/",
                 f"/admin/issues/report/{sent.pk}/change/"):
        blocked_types: list[str] = []
        watched = open_page(path, session=session_for("office1"), blocked_types=blocked_types)
        assert _drawn(watched, "geodjango_location_map", blocked_types) == 1, path
        assert watched.page.locator("text=Delete all Features").count() == 0
        # Nothing to draw or drag: the draw and modify interactions are gone.
        assert watched.page.evaluate("""geodjango_location_map.map.getInteractions().getArray()
            .filter(i => i instanceof ol.interaction.Draw || i instanceof ol.interaction.Modify)
            .length""") == 0
    assert Report.objects.filter(pk=sent.pk).exists()
