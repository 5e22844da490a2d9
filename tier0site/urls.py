"""URL map: admin, auth, API (per app), schema and metrics."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tier0site.api_root import ApiRootApi
from tier0site.metrics import metrics
from tier0site.views import HealthApi, VersionApi

api_patterns = [
    path("", ApiRootApi.as_view(), name="api-root"),
    path("health", HealthApi.as_view(), name="health"),
    path("version", VersionApi.as_view(), name="version"),
    path("", include("accounts.api.urls")),
    path("", include("telemetry.api.urls")),
    path("", include("sessions_app.api.urls")),
    path("", include("rag.api.urls")),
    path("", include("logs.api.urls")),
    path("", include("imaging.api.urls")),
    path("", include("failover.api.urls")),
    path("", include("dashboard.api.urls")),
    path("", include("alarms.api.urls")),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    # Signed-in users only (anonymous: to the login page); the split view serves its
    # start-up script as a file, so the Content-Security-Policy needs no inline script.
    path("docs", login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="swagger-ui"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Every user changes their own password (Django's views, the admin's templates).
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("api/", include(api_patterns)),
    path("metrics", metrics, name="prometheus-django-metrics"),
    path("", include("dashboard.urls")),
]
