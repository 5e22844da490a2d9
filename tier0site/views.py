"""Project-level endpoints: health and deployment version."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from tier0site.health import deployment_version, health_report


class HealthApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        report = health_report()
        return Response(report, status=200 if report["status"] == "ok" else 503)


class VersionApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(deployment_version())
