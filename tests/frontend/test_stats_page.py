"""The statistics page /office/stats/ and its CSV files: filters checked at the edge, figures
scoped to the account's subdistricts, every table also a CSV (BOM, Chinese headers, numbers as
numbers), and in a real browser: charts drawn from our own origin, tables, axe clean.

The figures come from tests/patrol/test_stats.py's history (``history_each``, worked out by
hand there): Nanyuan's week 2–8 March 2026 has 5 reports and 4 cases dispatched, 2 closed, 3
overdue; 和义 (Heyi) 1 report and 1 case."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.frontend.conftest import ARTIFACTS, screenshot
from tests.patrol.helpers import HUAIFANG, XINGONG
from tests.patrol.test_stats import history_each  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db

PAGE = "/office/stats/"
WEEK = {"since": "2026-03-02", "until": "2026-03-08"}  # both days included
HEYI = "110106016"


def client_as(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def csv_rows(response) -> list[list[str]]:
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_page_shows_the_offices_figures_and_tables(history_each):  # noqa: F811
    response = client_as("office1").get(PAGE, WEEK)
    assert response.status_code == 200
    html = response.content.decode()
    for table in ("trend", "community", "handler", "category"):
        assert f'id="table-{table}"' in html
    assert 'id="table-subdistrict"' not in html  # one subdistrict: no comparison
    assert "新宫社区" in html and "槐房社区" in html
    assert "E0101" not in html and "E0201" not in html  # categories by their names
    summary = dict(response.context["summary"])
    assert summary["上报数"] == "5" and summary["已派遣案件"] == "4"
    assert summary["响应率 (%)"] == "50.00"
    # Medians from the hours' histograms: within 2 % of the story's 144 h (patrol.stats).
    assert float(summary["解决时长中位数 (小时)"]) == pytest.approx(144, rel=0.02)
    assert 'href="/office/stats/"' in html  # linked from the bar


def test_the_district_compares_subdistricts_and_may_choose_one(history_each):  # noqa: F811
    district = client_as("office_district")
    response = district.get(PAGE, WEEK)
    assert response.status_code == 200
    rows = {row.key: row.cases for table in response.context["tables"]
            if table.name == "subdistrict" for row in table.rows}
    assert rows == {"110106005": 4, HEYI: 1}
    chosen = district.get(PAGE, {**WEEK, "subdistrict": HEYI})
    assert chosen.status_code == 200
    assert 'id="table-subdistrict"' not in chosen.content.decode()
    assert dict(chosen.context["summary"])["已派遣案件"] == "1"


@pytest.mark.parametrize(("query", "field", "message"), [
    ({"month": "2026-13"}, "month", "请按 YYYY-MM 输入月份，例如 2026-11。"),
    ({"month": "November"}, "month", "请按 YYYY-MM 输入月份，例如 2026-11。"),
    ({"month": "2099-01"}, "month", "该月份尚未开始。"),
    ({"bucket": "day"}, "bucket", None),
    ({"since": "2026-03-09", "until": "2026-03-02"}, "until", "时段的开始晚于结束。"),
    ({"since": "2099-03-09"}, "since", "时段不能从未来开始。"),
    ({"until": "2026-03-02"}, "since", "请填写时段开始的日期。"),
    ({"month": "2026-03", "since": "2026-03-02"}, "__all__",
     "请选择一个月份或一个起止时段，不要同时选择。"),
    ({"subdistrict": HEYI}, "subdistrict", None),  # not Nanyuan's office's to see
    ({"subdistrict": "110106999"}, "subdistrict", None),
])
def test_an_invalid_filter_is_the_forms_error_and_nothing_else(history_each, query, field,  # noqa: F811
                                                             message):
    response = client_as("office1").get(PAGE, query)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors
    if message:
        assert errors[field] == [message]
        assert message in response.content.decode()
    assert "tables" not in response.context
    assert 'id="table-' not in response.content.decode()
    csv_answer = client_as("office1").get(f"{PAGE}trend.csv", query)
    assert csv_answer.status_code == 400
    assert csv_answer.json()["errors"][0]["field"] == field


def test_csv_has_a_bom_chinese_headers_and_numbers(history_each):  # noqa: F811
    response = client_as("office1").get(f"{PAGE}community.csv", WEEK)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "stats-community-2026-03-02-2026-03-08.csv" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["社区", "上报数", "已派遣案件", "已结案", "超期", "响应率 (%)",
                       "解决率 (%)", "满意率 (%)", "响应时长中位数 (小时)",
                       "解决时长中位数 (小时)"]
    from civicmap.models import CommunityGrid

    names = dict(CommunityGrid.objects.filter(code__in=[HUAIFANG, XINGONG])
                 .values_list("code", "name_zh"))
    # The hand-worked figures of tests/patrol/test_stats.py (by community); rates in per cent,
    # empty where nothing was there to divide; the medians within 2 % (histograms).
    expected = sorted([
        [names[HUAIFANG], "3", "2", "1", "1", "100.0", "50.0", "100.0", 12.5, 48.0],
        [names[XINGONG], "2", "2", "1", "2", "0.0", "0.0", "50.0", 47.0, 240.0],
    ])
    assert [row[:8] for row in rows[1:]] == [row[:8] for row in expected]
    assert [[float(cell) for cell in row[8:]] for row in rows[1:]] == [
        [pytest.approx(hours, rel=0.02) for hours in row[8:]] for row in expected]
    for row in rows[1:]:
        for cell in row[1:]:
            float(cell)  # a number, never "50%" or "—"


def test_csv_trend_leaves_empty_rates_empty(history_each):  # noqa: F811
    rows = csv_rows(client_as("office1").get(f"{PAGE}trend.csv", {"month": "2026-02",
                                                                  "bucket": "month"}))
    assert rows[0][0] == "月份"
    assert rows[1] == ["2026-02", "0", "0", "0", "0", "", "", "", "", ""]


def test_unknown_csv_table_is_404_and_others_are_refused(history_each):  # noqa: F811
    assert client_as("office1").get(f"{PAGE}stage.csv").status_code == 404
    assert client_as("rider1").get(f"{PAGE}trend.csv").status_code == 403
    assert client_as("rider1").get(PAGE).status_code == 302


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_page_in_the_browser(history_each, open_page, session_for):  # noqa: F811
    query = "?since=2026-03-02&until=2026-03-08"
    watched = open_page(PAGE + query, session=session_for("office_district"))
    page = watched.page
    page.wait_for_function(
        "document.querySelectorAll('.stats-chart[data-drawn] canvas').length"
        " === document.querySelectorAll('.stats-chart').length")
    charts = page.locator(".stats-chart").count()
    assert charts == 6  # trend counts and rates, subdistrict, community, handler, category
    assert page.locator(".stats-table").count() == 5
    assert page.locator("#table-community tbody tr").count() == 3  # Huaifang, Xingong, Heyi
    assert page.locator("a[download]").count() == 5
    screenshot(page, "stats-page.png")
    for section in ("subdistrict", "handler", "category"):
        page.locator(f"section[aria-labelledby='stats-{section}-title']").screenshot(
            path=str(ARTIFACTS / f"stats-{section}.png"))
    assert watched.axe_violations() == []
    watched.assert_clean()
    # English: the charts draw in English too, and the headers follow.
    english = open_page(PAGE + query, locale="en-US", session=session_for("office1"))
    english.page.wait_for_selector("#chart-trend-counts[data-drawn] canvas")
    assert english.page.locator("#table-trend thead th").first.inner_text() == "Week from"
    english.assert_clean()
