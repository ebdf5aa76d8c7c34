"""The holiday calendar page (/office/calendar/) in a real browser: an office clerk types next
year's arrangement, sees each refusal beside its field, then saves it; axe-core clean."""

from __future__ import annotations

import pytest

from patrol.calendar import entered_years_forget
from patrol.models import HolidayArrangementDay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def calendar_data(reference_data, settings):
    settings.BASEMAP = "none"
    entered_years_forget()  # Redis outlives the test database's rows
    yield
    entered_years_forget()


def test_a_clerk_enters_next_years_holidays(calendar_data, open_page, session_for):
    watched = open_page("/office/calendar/", session=session_for("office1"))
    page = watched.page
    assert page.input_value("#id_year") == "2027"
    page.fill("#id_holidays", "2027-01-01\n2027-13-01")
    page.fill("#id_makeup_workdays", "2027-01-04")
    with page.expect_navigation():
        page.click("form.civicmap-form button[type=submit]")
    assert page.locator("#holidays-error").text_content().strip() == (
        "“2027-13-01”不是日期（格式 YYYY-MM-DD）。")
    assert page.get_attribute("#id_holidays", "aria-invalid") == "true"
    assert page.input_value("#id_holidays") == "2027-01-01\n2027-13-01"  # kept as typed
    assert watched.axe_violations() == []
    assert not HolidayArrangementDay.objects.exists()

    page.fill("#id_holidays", "2027-01-01")
    page.fill("#id_makeup_workdays", "2027-01-04")
    with page.expect_navigation():
        page.click("form.civicmap-form button[type=submit]")
    assert "2027-01-04 是工作日" in page.locator("#makeup_workdays-error").text_content()

    page.fill("#id_makeup_workdays", "2027-01-02")
    with page.expect_navigation():
        page.click("form.civicmap-form button[type=submit]")
    assert page.locator(".civicmap-saved").text_content() == "2027 年的安排已保存。"
    assert "2027-01-02" in page.locator("#calendar-years").text_content()
    assert watched.axe_violations() == []
    # The two refusals were 400 answers, which Chromium logs; nothing else went wrong.
    assert watched.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"] * 2
    watched.console_errors.clear()
    watched.assert_clean()
    assert list(HolidayArrangementDay.objects.values_list("kind", flat=True)) == [
        "holiday", "makeup"]
