"""The pages: the governance map and the office's triage console."""

from django.urls import path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("map/", views.governance_map, name="map"),
    path("map/data/", views.map_data, name="map-data"),
    path("map/unit-grids/", views.map_unit_grids, name="map-unit-grids"),
    path("map/hourly/", views.map_hourly_heat, name="map-hourly"),
    path("map/uncovered/", views.map_uncovered, name="map-uncovered"),
    path("map/background/", views.map_background, name="map-background"),
]
urlpatterns += [
    path("office/", views.office_console, name="office"),
]
from frontend import console_views  # noqa: E402  (the console's list and bulk actions)

urlpatterns += [
    path("office/cases/", console_views.office_cases, name="office-cases"),
    path("office/cases/bulk/", console_views.office_cases_bulk, name="office-cases-bulk"),
]
urlpatterns += [
    path("office/case/<int:case_id>/", views.office_case_page, name="office-case"),
    path("office/calendar/", views.office_calendar, name="office-calendar"),
    path("office/stats/", views.office_stats, name="office-stats"),
    path("office/stats/<slug:table>.csv", views.office_stats_csv, name="office-stats-csv"),
]

from frontend.reports import views as report_views  # noqa: E402  (the monthly report, issue 17)

urlpatterns += [
    path("office/reports/", report_views.reports_page, name="reports"),
    path("office/reports/status/", report_views.reports_status, name="reports-status"),
    path("office/reports/<int:report_id>/<str:kind>/", report_views.report_download,
         name="report-download"),
]

from frontend import phone_views  # noqa: E402  (the phone pages: rider PWA and team tasks)

urlpatterns += [
    path("rider/", phone_views.rider_page, name="rider"),
    path("rider/sw.js", phone_views.rider_service_worker, name="rider-sw"),
    path("rider/manifest.webmanifest", phone_views.rider_manifest, name="rider-manifest"),
    path("team/", phone_views.team_page, name="team"),
    path("phone/token/", phone_views.PhoneTokenView.as_view(), name="phone-token"),
    path("phone/me/", phone_views.PhoneMeView.as_view(), name="phone-me"),
]

from frontend import geography_views  # noqa: E402  (geography files, issue 18)

urlpatterns += [
    path("office/geography/", geography_views.office_geography, name="office-geography"),
    path("office/geography/<slug:layer>.<slug:file_format>",
         geography_views.office_geography_export, name="office-geography-export"),
]

from frontend import union_council_views  # noqa: E402  (the riders' council, issue 18)

urlpatterns += [
    path("union/council/", union_council_views.union_council_board, name="union-council"),
    path("union/council/meetings/", union_council_views.union_council_meetings,
         name="union-council-meetings"),
    path("union/council/meetings/<int:meeting_id>/", union_council_views.union_council_meeting,
         name="union-council-meeting"),
]

from frontend import union_views  # noqa: E402  (the union's pages, issue 18)

urlpatterns += [
    path("union/members/", union_views.union_members, name="union-members"),
]

from frontend import union_visits_views  # noqa: E402  (the stations' visits, issue 18)

urlpatterns += [
    path("union/visits/", union_visits_views.union_visits, name="union-visits"),
    path("union/visits/<slug:table>.csv", union_visits_views.union_visits_csv,
         name="union-visits-csv"),
]

from frontend import union_coverage_views  # noqa: E402  (coverage and siting, issue 18)

urlpatterns += [
    path("union/coverage/", union_coverage_views.union_coverage, name="union-coverage"),
]

from frontend import union_station_views  # noqa: E402  (the union's stations, issue 18)

urlpatterns += [
    path("union/stations/", union_station_views.union_stations, name="union-stations"),
    path("union/stations/new/", union_station_views.union_station_edit,
         name="union-station-new"),
    path("union/stations/<int:station_id>/", union_station_views.union_station_edit,
         name="union-station"),
    path("union/stations/<int:station_id>/sheet/", union_station_views.union_station_sheet,
         name="union-station-sheet"),
    path("union/stations/<int:station_id>/sheet.pdf",
         union_station_views.union_station_sheet_pdf, name="union-station-sheet-pdf"),
]

from frontend import feeds, public_views  # noqa: E402  (the public pages, issue 19)

urlpatterns += [
    path("", public_views.home, name="home"),
    path("cases/<int:case_id>/", public_views.public_case, name="public-case"),
    path("communities/<str:code>/", public_views.public_community, name="public-community"),
    path("feeds/subdistrict/<str:code>.atom", feeds.SubdistrictFeed(), name="feed-subdistrict"),
    path("feeds/community/<str:code>.atom", feeds.CommunityFeed(), name="feed-community"),
]

from frontend import union_award_views  # noqa: E402  (the monthly awards, issue 18)

urlpatterns += [
    path("union/awards/", union_award_views.union_awards, name="union-awards"),
    path("union/awards/<int:award_id>/certificate.pdf",
         union_award_views.AwardCertificateView.as_view(), name="union-award-certificate"),
]
