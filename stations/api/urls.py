"""/api/v1/stations/…: included once from civicmap/api/urls.py."""

from django.urls import path

from stations.api import views

urlpatterns = [
    path("stations/", views.StationListView.as_view(), name="station-list"),
    path("stations/services/", views.ServiceCatalogueView.as_view(), name="station-services"),
    path("stations/nearest/", views.NearestView.as_view(), name="station-nearest"),
    path("stations/coverage/", views.CoverageView.as_view(), name="station-coverage"),
    path("stations/coverage/point/", views.CoveragePointView.as_view(),
         name="station-coverage-point"),
    path("stations/coverage/what-if/", views.CoverageWhatIfView.as_view(),
         name="station-coverage-what-if"),
    path("stations/coverage/layer/", views.CoverageLayerView.as_view(),
         name="station-coverage-layer"),
    path("stations/siting/", views.SitingView.as_view(), name="station-siting"),
    path("stations/checkins/", views.CheckInView.as_view(), name="station-checkins"),
    path("me/card/", views.MyCardView.as_view(), name="my-card"),
    path("stations/visits/", views.VisitsView.as_view(), name="station-visits"),
    path("stations/export/", views.StationExportView.as_view(), name="station-export"),
    path("stations/import/", views.StationImportView.as_view(), name="station-import"),
    path("stations/<int:station_id>/token/", views.StationTokenView.as_view(),
         name="station-token"),
    path("stations/<int:station_id>/token/rotate/", views.StationTokenRotateView.as_view(),
         name="station-token-rotate"),
    path("stations/<int:station_id>/token/qr.svg", views.StationTokenQrView.as_view(),
         name="station-token-qr"),
]
