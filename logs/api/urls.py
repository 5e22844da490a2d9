"""Log endpoints: /api/logs, /api/logs/stats (route names kept from when they lived in rag)."""

from django.urls import path

from logs.api.views import LogListApi, LogStatsApi

urlpatterns = [
    path("logs", LogListApi.as_view(), name="rag-logs"),
    path("logs/stats", LogStatsApi.as_view(), name="rag-log-stats"),
]
