"""Every /api/v1/ route, gathered from the apps."""

from django.urls import include, path

urlpatterns = [
    path("", include("issues.api.urls")),
    path("", include("patrol.api.urls")),
    path("", include("stations.api.urls")),
]
