"""Thin telemetry API views: validate the query, call a selector, answer."""

import logging
from functools import partial

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from telemetry import history, selectors
from telemetry.api.serializers import (
    DeadLetterSerializer,
    DeviceFilterSerializer,
    DeviceStateSerializer,
    RateFilterSerializer,
    ReadingFilterSerializer,
    ReadingSerializer,
    SeriesFilterSerializer,
)
from telemetry.broker_stats import broker_counters_recent
from telemetry.drift import device_type_drift
from tier0site.api import PAGINATION_PARAMS, BoundedPagination, PageSerializer, validated_input

_validated = partial(validated_input, prefix="Invalid filter ")

logger = logging.getLogger(__name__)


class DeviceListApi(APIView):
    @extend_schema(parameters=[DeviceFilterSerializer, PageSerializer], responses={200: DeviceStateSerializer(many=True)})
    def get(self, request):
        filters = _validated(
            DeviceFilterSerializer, {k: v for k, v in request.query_params.items() if k not in PAGINATION_PARAMS}
        )
        cached = False

        def fetch(page: int, page_size: int) -> tuple[int, list]:
            nonlocal cached
            result, cached = selectors.device_page(**filters, page=page, page_size=page_size)
            return result["count"], selectors.with_online(result["results"])

        body = BoundedPagination().paginate_fetched(request, fetch)
        return Response(body, headers={"X-Cache": "HIT" if cached else "MISS"})


class DeviceDetailApi(APIView):
    @extend_schema(responses={200: DeviceStateSerializer})
    def get(self, request, device_id: str):
        device = selectors.device_get(device_id=device_id)
        if device is None:
            raise NotFound({"error": f"No device {device_id!r} has reported."})
        return Response(DeviceStateSerializer(device).data)


class DeviceTelemetryApi(APIView):
    @extend_schema(parameters=[ReadingFilterSerializer], responses={200: ReadingSerializer(many=True)})
    def get(self, request, device_id: str):
        filters = _validated(ReadingFilterSerializer, request.query_params)
        before = None
        if filters.get("cursor"):
            try:
                before = selectors.decode_cursor(filters["cursor"])
            except ValueError as exc:
                raise ValidationError({"error": f"Invalid filter cursor: {exc}"}) from None
        if selectors.device_get(device_id=device_id) is None:
            raise NotFound({"error": f"No device {device_id!r} has reported."})
        rows, next_cursor = selectors.device_readings(
            device_id=device_id, start=filters.get("start"), end=filters.get("end"), before=before, limit=filters["limit"]
        )
        return Response({"device_id": device_id, "next_cursor": next_cursor, "results": ReadingSerializer(rows, many=True).data})


class DeviceSeriesApi(APIView):
    """A device's chart over 15m or 1h (raw readings), 24h (per-minute rollups) or 7d (hourly rollups)."""

    @extend_schema(parameters=[SeriesFilterSerializer], responses={200: dict})
    def get(self, request, device_id: str):
        filters = _validated(SeriesFilterSerializer, request.query_params)
        if selectors.device_get(device_id=device_id) is None:
            raise NotFound({"error": f"No device {device_id!r} has reported."})
        return Response(history.device_series(device_id=device_id, range_key=filters["range"]))


class MessageRateApi(APIView):
    """Messages stored per fixed bucket, by the time the consumer stored them."""

    @extend_schema(parameters=[RateFilterSerializer], responses={200: dict})
    def get(self, request):
        filters = _validated(RateFilterSerializer, request.query_params)
        return Response(history.message_rate(**filters))


class SiteListApi(APIView):
    @extend_schema(responses={200: serializers.ListSerializer(child=serializers.DictField())})
    def get(self, request):
        return Response({"results": selectors.site_summary()})


class DeviceTypeListApi(APIView):
    """Each device type known or seen, with its schema drift (new metrics, stopped metrics, unknown states)."""

    @extend_schema(responses={200: serializers.ListSerializer(child=serializers.DictField())})
    def get(self, request):
        return Response({"results": device_type_drift()})


class DeadLetterListApi(generics.ListAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = DeadLetterSerializer

    @extend_schema(parameters=[OpenApiParameter("source", str)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.dead_letter_list(source=self.request.query_params.get("source"))


class DeadLetterSummaryApi(APIView):
    """Dead letters by source and reason, and what the broker dropped before any consumer saw it."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: dict})
    def get(self, request):
        try:
            broker = {"reachable": True, **broker_counters_recent(timeout_s=2.0)}
        except (OSError, TimeoutError) as exc:
            logger.warning("broker counters unavailable", exc_info=True)
            broker = {
                "reachable": False,
                "error": "the broker did not send its counters in time"
                if isinstance(exc, TimeoutError)
                else "the broker is not answering",
            }
        return Response({**selectors.dead_letter_summary(), "broker": broker})
