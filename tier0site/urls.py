"""URL map: admin, auth, API (per app), schema and metrics."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tier0site.api_root import ApiRootApi
from tier0site.views import HealthApi, VersionApi

api_patterns = [
    path("", ApiRootApi.as_view(), name="api-root"),
    path("health", HealthApi.as_view(), name="health"),
    path("version", VersionApi.as_view(), name="version"),
    path("", include("telemetry.api.urls")),
    path("", include("sessions_app.api.urls")),
    path("", include("rag.api.urls")),
    path("", include("logs.api.urls")),
    path("", include("imaging.api.urls")),
    path("", include("failover.api.urls")),
    path("", include("dashboard.api.urls")),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include(api_patterns)),
    path("", include("django_prometheus.urls")),
    path("", include("dashboard.urls")),
]
