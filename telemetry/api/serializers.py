"""Input and output serializers of the telemetry API."""

from rest_framework import serializers

from telemetry.device_types import ALL_STATES
from telemetry.models import DeadLetter, DeviceState
from telemetry.selectors import DEVICE_FIELDS
from tier0site.api import BoundedDateTimeField, identifier


class DeviceFilterSerializer(serializers.Serializer):
    site_id = serializers.CharField(required=False, validators=[identifier])
    # Any type a device reported: new types are stored too (see GET /api/device-types).
    device_type = serializers.CharField(required=False, validators=[identifier])
    state = serializers.ChoiceField(choices=ALL_STATES, required=False)


class ReadingFilterSerializer(serializers.Serializer):
    start = BoundedDateTimeField(required=False)
    end = BoundedDateTimeField(required=False)
    cursor = serializers.CharField(required=False, max_length=200)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=5000, default=100)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError("start must be before end")
        return attrs


class DeviceStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeviceState
        fields = [*DEVICE_FIELDS, "updated_at"]


class ReadingSerializer(serializers.Serializer):
    timestamp_utc = serializers.DateTimeField()
    metrics = serializers.JSONField()
    status = serializers.JSONField()
    firmware = serializers.CharField()
    received_at = serializers.DateTimeField()


class DeadLetterSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeadLetter
        fields = ["id", "source", "topic", "payload", "reason", "created_at"]
