"""The pages: the governance map and the office's triage console."""

from django.urls import path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("map/", views.governance_map, name="map"),
]
urlpatterns += [
    path("office/", views.office_console, name="office"),
]
urlpatterns += [
    path("office/cases/", views.office_cases, name="office-cases"),
]
