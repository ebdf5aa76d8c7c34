"""The reports page in a real browser, with a real Celery worker: the office asks for last
month's report, sees its progress, and downloads the files it made (issue 17)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from frontend.models import GovernanceReport, ReportStatus
from tests.frontend.conftest import screenshot
from tests.frontend.report_helpers import NANYUAN, month_text, report_month
from tests.issues.faults import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

REPORTS_URL = "/office/reports/"
WORKER_TIMEOUT_S = 60.0  # the worker makes a demo month in about a second; generous for CI


def test_a_real_worker_makes_the_report_asked_for_on_the_page(reference_data, celery_worker):
    client = Client()
    client.force_login(get_user_model().objects.get(username="office1"))
    month = report_month()
    answer = client.post(REPORTS_URL, {"month": month_text(month), "subdistrict": NANYUAN})
    assert answer.status_code == 303
    report = GovernanceReport.objects.get()
    report = wait_for(lambda: GovernanceReport.objects.filter(
        pk=report.pk, status__in=[ReportStatus.DONE, ReportStatus.FAILED]).first(),
        timeout=WORKER_TIMEOUT_S, what="the worker to make the report")
    assert (report.status, report.progress, report.error) == (ReportStatus.DONE, 100, "")
    assert report.queued_at is not None  # handed over after the commit, not by the sweep
    pdf = b"".join(client.get(f"/office/reports/{report.pk}/pdf/").streaming_content)
    assert pdf.startswith(b"%PDF-") and b"WenQuanYiMicroHei" in pdf


@pytest.mark.browser
def test_the_button_shows_progress_then_the_downloads(reference_data, celery_worker, open_page,
                                                      session_for, live_server):
    month = month_text(report_month())
    watched = open_page(REPORTS_URL, session=session_for("office1"))
    page = watched.page
    assert page.inner_text("h1") == "治理月报"
    assert page.locator(".reports-empty").count() == 1
    assert page.input_value("#id_month") == month  # last month, ready to ask
    assert watched.axe_violations() == []
    polled = []
    page.on("response", lambda response: "/office/reports/status/" in response.url
            and polled.append(response.status))

    page.click("#report-make")
    row = page.wait_for_selector('#reports-rows tr[data-report]', timeout=15_000)
    assert row.query_selector("progress") is not None  # the bar, whatever stage it is at
    assert NANYUAN and page.inner_text("#reports-rows tr td:nth-child(2)") == month
    # The poll redraws the row until the worker is done: then the links.
    link = page.wait_for_selector('#reports-rows a[href$="/pdf/"]',
                                  timeout=WORKER_TIMEOUT_S * 1000)
    assert page.inner_text("#reports-rows .report-status") == "已生成"
    assert page.get_attribute("#reports-rows progress", "value") == "100"
    report = GovernanceReport.objects.get()
    assert report.status == ReportStatus.DONE
    if report.finished_at and polled:  # the page saw it under way: announced when done
        assert page.inner_text("#reports-live") == "已生成"
    assert all(status == 200 for status in polled)
    href = link.get_attribute("href")
    download = page.request.get(live_server.url + href)
    assert download.status == 200 and download.body().startswith(b"%PDF-")
    xlsx = page.request.get(live_server.url + href.replace("/pdf/", "/xlsx/"))
    assert xlsx.status == 200 and xlsx.body().startswith(b"PK")
    screenshot(page, "office-reports.png")
    assert watched.axe_violations() == []
    watched.assert_clean()


@pytest.mark.browser
def test_a_future_month_is_answered_on_the_form(reference_data, open_page, session_for):
    watched = open_page(REPORTS_URL, session=session_for("office1"))
    page = watched.page
    page.fill("#id_month", "2999-01")
    page.click("#report-make")
    error = page.wait_for_selector("#id_month-error")
    assert "该月尚未结束" in error.inner_text()
    assert page.get_attribute("#id_month", "aria-describedby") == "id_month-error"
    assert not GovernanceReport.objects.exists()
    assert watched.axe_violations() == []
    watched.assert_clean()


@pytest.mark.browser
def test_the_statistics_page_links_to_its_months_report(reference_data, open_page,
                                                        session_for):
    month = month_text(report_month())
    watched = open_page(f"/office/stats/?month={month}", session=session_for("office1"))
    page = watched.page
    page.click(".stats-report a")
    page.wait_for_selector("#report-make")
    assert page.url.endswith(f"/office/reports/?month={month}")
    assert page.input_value("#id_month") == month
    watched.assert_clean()
