"""Thin telemetry API views: validate the query, call a selector, answer."""

from functools import partial
from urllib.parse import urlencode

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
from tier0site.api import validated_input

_validated = partial(validated_input, prefix="Invalid filter ")


def device_page_body(page: dict, page_url) -> dict:
    """The paginated body of a device page; ``page_url(n)`` links page n."""
    last_page = max(1, -(-page["count"] // page["page_size"]))
    return {
        "count": page["count"],
        "next": page_url(page["page"] + 1) if page["page"] < last_page else None,
        "previous": page_url(page["page"] - 1) if page["page"] > 1 else None,
        "results": selectors.with_online(page["results"]),
    }


def page_url(base: str, query: dict, page: int) -> str:
    return f"{base}?{urlencode({**query, 'page': page})}"


class DeviceListApi(APIView):
    @extend_schema(parameters=[DeviceFilterSerializer], responses={200: DeviceStateSerializer(many=True)})
    def get(self, request):
        filters = _validated(DeviceFilterSerializer, request.query_params)
        page, cached = selectors.device_page(**filters)
        base, query = request.build_absolute_uri(request.path), request.query_params.dict()
        body = device_page_body(page, lambda n: page_url(base, query, n))
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

    @extend_schema(parameters=[SeriesFilterSerializer], responses={200: serializers.DictField()})
    def get(self, request, device_id: str):
        filters = _validated(SeriesFilterSerializer, request.query_params)
        if selectors.device_get(device_id=device_id) is None:
            raise NotFound({"error": f"No device {device_id!r} has reported."})
        return Response(history.device_series(device_id=device_id, range_key=filters["range"]))


class MessageRateApi(APIView):
    """Messages stored per fixed bucket, by the time the consumer stored them."""

    @extend_schema(parameters=[RateFilterSerializer], responses={200: serializers.DictField()})
    def get(self, request):
        filters = _validated(RateFilterSerializer, request.query_params)
        return Response(history.message_rate(**filters))


class SiteListApi(APIView):
    @extend_schema(responses={200: serializers.ListSerializer(child=serializers.DictField())})
    def get(self, request):
        return Response({"results": selectors.site_summary()})


class DeadLetterListApi(generics.ListAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = DeadLetterSerializer

    @extend_schema(parameters=[OpenApiParameter("source", str)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.dead_letter_list(source=self.request.query_params.get("source"))
