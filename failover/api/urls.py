"""Failover endpoints under /api/failover/."""

from django.urls import path

from failover.api.views import FailoverHistoryApi, FailoverStatusApi, FailoverTriggerApi

urlpatterns = [
    path("failover/status", FailoverStatusApi.as_view(), name="failover-status"),
    path("failover/history", FailoverHistoryApi.as_view(), name="failover-history"),
    path("failover/<str:region>", FailoverTriggerApi.as_view(), name="failover-trigger"),
]
