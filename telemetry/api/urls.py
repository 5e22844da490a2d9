from django.urls import path

from telemetry.api import views

urlpatterns = [
    path("devices", views.DeviceListApi.as_view(), name="device-list"),
    path("devices/<str:device_id>", views.DeviceDetailApi.as_view(), name="device-detail"),
    path("devices/<str:device_id>/telemetry", views.DeviceTelemetryApi.as_view(), name="device-telemetry"),
    path("devices/<str:device_id>/series", views.DeviceSeriesApi.as_view(), name="device-series"),
    path("telemetry/rate", views.MessageRateApi.as_view(), name="telemetry-rate"),
    path("sites", views.SiteListApi.as_view(), name="site-list"),
    path("dead-letters", views.DeadLetterListApi.as_view(), name="dead-letter-list"),
]
