"""Thin log API views: log listing and log statistics."""

from functools import partial

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from logs import selectors
from logs.api.serializers import LogFilterSerializer, LogStatsFilterSerializer, SystemLogSerializer
from logs.selectors import StatusFilter, Window
from tier0site.api import BoundedPagination, validated_input

_validated = partial(validated_input, prefix="")


def _status_filter(filters: dict) -> StatusFilter | None:
    if "status" in filters:
        return StatusFilter(filters["status"], filters["status"], str(filters["status"]))
    if "status_min" in filters or "status_max" in filters:
        low, high = filters.get("status_min", 100), filters.get("status_max", 599)
        return StatusFilter(low, high, f"{low}-{high}")
    return None


class LogListApi(APIView):
    @extend_schema(parameters=[LogFilterSerializer], responses={200: SystemLogSerializer(many=True)})
    def get(self, request):
        filters = _validated(LogFilterSerializer, request.query_params)
        rows = selectors.log_list(
            ip=filters.get("ip"),
            status=filters.get("status"),
            status_low=filters.get("status_min"),
            status_high=filters.get("status_max"),
            start=filters.get("since"),
            end=filters.get("until"),
            path_contains=filters.get("path"),
            method=filters.get("method"),
        )
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(SystemLogSerializer(page, many=True).data)


class LogStatsApi(APIView):
    @extend_schema(parameters=[LogStatsFilterSerializer], responses={200: dict})
    def get(self, request):
        filters = _validated(LogStatsFilterSerializer, request.query_params)
        window = Window(filters.get("since"), filters.get("until"), "requested window")
        return Response(selectors.log_stats(window=window, status=_status_filter(filters), limit=filters["limit"]))
