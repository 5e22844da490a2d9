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
        # Degraded (a broker or worker failing) still serves: 200; down (PostgreSQL or Redis): 503.
        return Response(report, status=503 if report["status"] == "down" else 200)


class VersionApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(deployment_version())
