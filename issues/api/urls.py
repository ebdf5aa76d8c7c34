from django.urls import path, re_path

from issues.api import views

urlpatterns = [
    path("categories/", views.CategoryListView.as_view(), name="category-list"),
    path("reports/", views.ReportListCreateView.as_view(), name="report-list"),
    path("reports/nearby/", views.NearbyCasesView.as_view(), name="report-nearby"),
    path("places/at/", views.PlaceAtView.as_view(), name="place-at"),
    path("cases/", views.CaseListView.as_view(), name="case-list"),
    path("cases/<int:case_id>/confirm/", views.CaseConfirmView.as_view(), name="case-confirm"),
    path("me/reports/", views.MyReportsView.as_view(), name="my-reports"),
    path("me/cases/<int:case_id>/report/", views.MyCaseReportView.as_view(),
         name="my-case-report"),
    re_path(r"^photos/(?P<photo_id>[0-9]+)/(?P<rendition>display|thumbnail|original)/$",
            views.PhotoView.as_view(), name="photo"),
]

from issues.api import points_views  # noqa: E402  (rider recognition: leaderboard and points)

urlpatterns += [
    path("leaderboard/", points_views.LeaderboardView.as_view(), name="leaderboard"),
    re_path(r"^leaderboard/export\.(?P<extension>csv|xlsx)$",
            points_views.LeaderboardExportView.as_view(), name="leaderboard-export"),
    path("me/points/", points_views.MyPointsView.as_view(), name="my-points"),
    path("me/awards/", points_views.MyAwardsView.as_view(), name="my-awards"),
]
