"""RAG endpoint: /api/query."""

from django.urls import path

from rag.api.views import QueryApi

urlpatterns = [
    path("query", QueryApi.as_view(), name="rag-query"),
]
