"""Failover API: trigger (staff only), status and history."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from failover import probes, selectors, services
from failover.models import FailoverEvent
from failover.nodes import TopologyError


class FailoverEventOutputSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None)

    class Meta:
        model = FailoverEvent
        fields = [
            "id",
            "kind",
            "status",
            "source_region",
            "target_region",
            "started_at",
            "finished_at",
            "total_s",
            "steps",
            "error",
            "requested_by",
        ]


class FailoverTriggerApi(APIView):
    """POST /api/failover/{region}: a planned failover, run now; answers with the recorded event.

    Afterwards the old primary is rebuilt as the new one's replica (``rebuild``
    in the answer; ``?rebuild=0`` or ``FAILOVER_REBUILD_AFTER=false`` skips it).
    """

    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={200: FailoverEventOutputSerializer, 404: dict, 409: dict, 500: dict, 503: dict})
    def post(self, request, region: str):
        if not probes.ha_configured():
            return Response(
                {"error": "the HA topology is not configured", "configured": False, "hint": probes.HINT_NOT_CONFIGURED},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        try:
            topology = selectors.topology_get()
        except TopologyError:
            return Response(
                {"error": "the HA topology is not running", "configured": True, "hint": probes.HINT_NO_LAYOUT},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        if region not in topology.regions:
            return Response(
                {"error": f"unknown region {region!r}", "regions": topology.regions}, status=status.HTTP_404_NOT_FOUND
            )
        try:
            event = services.failover_run(target_region=region, requested_by=request.user, topology=topology)
        except services.FailoverError as exc:
            body = {"error": str(exc)}
            if exc.event is not None:
                body["event"] = FailoverEventOutputSerializer(exc.event).data
            return Response(body, status=exc.status_code)
        body = FailoverEventOutputSerializer(event).data
        if settings.FAILOVER_REBUILD_AFTER and request.query_params.get("rebuild", "1") != "0":
            # Give the new primary its standby back at once, so the next failover (the
            # dashboard's button, in the other direction) finds a healthy replica.
            try:
                rebuilt = services.node_rebuild(region=event.source_region, topology=topology, publish=False)
                body["rebuild"] = FailoverEventOutputSerializer(rebuilt).data
            except services.FailoverError as exc:
                body["rebuild"] = {"error": str(exc)}
        return Response(body)


class FailoverStatusApi(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(probes.failover_status())


class FailoverHistoryApi(ListAPIView):
    serializer_class = FailoverEventOutputSerializer

    def get_queryset(self):
        return selectors.failover_event_list().select_related("requested_by")
