"""Thin sessions API views: validate the query, call a selector, answer."""

from functools import partial

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions_app import selectors
from sessions_app.api.serializers import (
    SessionFilterSerializer,
    SiteSnapshotSerializer,
    SummarySerializer,
    UserSessionSerializer,
)
from tier0site.api import IDENTIFIER, BoundedPagination, PageSerializer, validated_input

_validated = partial(validated_input, prefix="Invalid filter ")


class UserListApi(APIView):
    @extend_schema(parameters=[SessionFilterSerializer, PageSerializer], responses={200: UserSessionSerializer(many=True)})
    def get(self, request):
        filters = _validated(SessionFilterSerializer, request.query_params)
        pagination = BoundedPagination()
        rows = pagination.paginate_queryset(selectors.session_list(**filters), request, view=self)
        return pagination.get_paginated_response(UserSessionSerializer(rows, many=True).data)


class UserSummaryApi(APIView):
    @extend_schema(responses={200: SummarySerializer})
    def get(self, request):
        summary, source = selectors.session_summary_cached()
        return Response({**summary, "source": source}, headers={"X-Source": source})


class SiteUsersApi(APIView):
    @extend_schema(responses={200: SiteSnapshotSerializer})
    def get(self, request, site_id: str):
        if not IDENTIFIER.match(site_id):
            raise ValidationError({"error": "Invalid site_id: must be 1-64 letters, digits or . _ : -"})
        snapshot = selectors.site_snapshot_latest(site_id=site_id)
        if snapshot is None:
            raise NotFound({"error": f"No user snapshot from site {site_id!r} yet."})
        return Response(SiteSnapshotSerializer(snapshot).data)
