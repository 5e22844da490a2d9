"""Alarm API: list (filters, grouped view), detail, acknowledge; rules and silences (staff change them); receivers (staff)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from alarms import selectors, services
from alarms.api.serializers import (
    AckSerializer,
    AlarmDetailSerializer,
    AlarmFilterSerializer,
    AlarmRuleSerializer,
    AlarmSerializer,
    ReceiverSerializer,
    SilenceSerializer,
)
from alarms.live import EVENTS
from alarms.models import Alarm, AlarmRule, Receiver, Silence
from tier0site.api import validated_input


class AlarmListApi(generics.ListAPIView):
    """Alarms, active first by severity; ``group=site_rule`` gives one row per (site, rule) instead."""

    serializer_class = AlarmSerializer

    @extend_schema(parameters=[AlarmFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        self.filters = validated_input(AlarmFilterSerializer, self.request.query_params.dict())
        return selectors.alarm_list(
            site_id=self.filters.get("site_id"),
            severity=self.filters.get("severity"),
            state=self.filters.get("state"),
            rule_id=self.filters.get("rule"),
            device_id=self.filters.get("device_id"),
        )

    def list(self, request, *args, **kwargs):
        alarms = self.get_queryset()
        if self.filters.get("group") != "site_rule":
            return super().list(request, *args, **kwargs)
        page = self.paginate_queryset(selectors.alarm_groups(alarms))
        rows = [
            {**{k: v for k, v in row.items() if k not in ("rank", "live", "rule__name")}, "rule": row["rule__name"]}
            for row in page
        ]
        return self.get_paginated_response(rows)


class AlarmDetailApi(generics.RetrieveAPIView):
    serializer_class = AlarmDetailSerializer
    queryset = Alarm.objects.select_related("rule", "acknowledged_by").prefetch_related("transitions__user")


class AlarmAckApi(APIView):
    """Acknowledge an alarm (staff), with an optional comment; a second acknowledgement is a 409."""

    @extend_schema(request=AckSerializer, responses={200: AlarmSerializer})
    def post(self, request, pk: int):
        data = validated_input(AckSerializer, request.data, prefix="Invalid input ")
        try:
            alarm = services.alarm_acknowledge(alarm_id=pk, user=request.user, comment=data["comment"])
        except Alarm.DoesNotExist as exc:
            raise NotFound({"error": f"No alarm {pk}."}) from exc
        except services.AlarmError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        EVENTS.report(acknowledged=1, force=True)
        return Response(AlarmSerializer(alarm).data)


class AlarmRuleListApi(generics.ListCreateAPIView):
    serializer_class = AlarmRuleSerializer
    queryset = AlarmRule.objects.all()


class AlarmRuleDetailApi(generics.RetrieveUpdateDestroyAPIView):
    """Disabling a rule clears its open alarms ("rule disabled"); one with alarm history is disabled, not deleted (409)."""

    serializer_class = AlarmRuleSerializer
    queryset = AlarmRule.objects.all()

    def perform_update(self, serializer):
        _rule, cleared = services.rule_update(serializer=serializer, user=self.request.user)
        if cleared:
            EVENTS.report(cleared=len(cleared), force=True)

    def destroy(self, request, *args, **kwargs):
        try:
            services.rule_delete(rule=self.get_object(), user=request.user)
        except services.RuleInUse as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SilenceListApi(generics.ListCreateAPIView):
    serializer_class = SilenceSerializer
    queryset = Silence.objects.select_related("created_by")

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = services.silence_create(user=self.request.user, **data)
        except services.AlarmError as exc:
            raise ValidationError({"error": str(exc)}) from exc


class SilenceDetailApi(generics.RetrieveDestroyAPIView):
    serializer_class = SilenceSerializer
    queryset = Silence.objects.select_related("created_by")


class ReceiverListApi(generics.ListCreateAPIView):
    """Notification receivers (staff only, reading included: they hold addresses); the secret is write-only."""

    serializer_class = ReceiverSerializer
    queryset = Receiver.objects.all()
    permission_classes = [IsAdminUser]


class ReceiverDetailApi(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ReceiverSerializer
    queryset = Receiver.objects.all()
    permission_classes = [IsAdminUser]
