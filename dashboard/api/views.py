"""The dashboard's own action: "Simulate High User Traffic" (staff only)."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import services


class UserTrafficInput(serializers.Serializer):
    # The wireframe: "minimum 100 random users".
    users = serializers.IntegerField(min_value=100, max_value=10_000, default=100)
    messages = serializers.IntegerField(min_value=1, max_value=200_000, default=2_000)
    rate = serializers.FloatField(min_value=1, max_value=5_000, default=500)


class SimulateUserTrafficApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=UserTrafficInput, responses={202: dict, 409: dict})
    def post(self, request):
        data = UserTrafficInput(data=request.data or {})
        if not data.is_valid():
            field, errors = next(iter(data.errors.items()))
            raise ValidationError({"error": f"Invalid {field}: {errors[0]}", "fields": data.errors})
        try:
            started = services.user_traffic_start(**data.validated_data)
        except services.TrafficAlreadyRunning as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response({**started, "queue": settings.SESSIONS_QUEUE}, status=status.HTTP_202_ACCEPTED)
