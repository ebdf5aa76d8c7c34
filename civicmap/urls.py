"""URL map: the API under /api/v1/, OpenAPI, the admin, and the pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("civicmap.api.urls")),
    path("open311/v2/", include("issues.open311.urls")),
    path("", include("frontend.urls")),
]

# Under /api/ (and /open311/ for refused bodies) errors answer in the API's error shape, not
# with an HTML page.
handler404 = "civicmap.views.not_found"
handler500 = "civicmap.views.server_error"
handler400 = "civicmap.views.bad_request"
