"""RAG endpoints: /api/query, /api/logs, /api/logs/stats."""

from django.urls import path

from rag.api.views import LogListApi, LogStatsApi, QueryApi

urlpatterns = [
    path("query", QueryApi.as_view(), name="rag-query"),
    path("logs", LogListApi.as_view(), name="rag-logs"),
    path("logs/stats", LogStatsApi.as_view(), name="rag-log-stats"),
]
