"""Input and output serializers of the telemetry API."""

from rest_framework import serializers

from telemetry.device_types import DEVICE_TYPES, STATES
from telemetry.history import SERIES_RANGES
from telemetry.liveness import is_online, online_cutoff
from telemetry.models import DeadLetter, DeviceState
from telemetry.selectors import DEVICE_FIELDS
from tier0site.api import identifier


class DeviceFilterSerializer(serializers.Serializer):
    site_id = serializers.CharField(required=False, validators=[identifier])
    device_type = serializers.ChoiceField(choices=sorted(DEVICE_TYPES), required=False)
    state = serializers.ChoiceField(choices=STATES, required=False)
    online = serializers.BooleanField(required=False, allow_null=True, default=None)
    page = serializers.IntegerField(required=False, min_value=1, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)


class ReadingFilterSerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=5000, default=100)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError("start must be before end")
        return attrs


class DeviceStateSerializer(serializers.ModelSerializer):
    online = serializers.SerializerMethodField()

    class Meta:
        model = DeviceState
        fields = [*DEVICE_FIELDS, "online", "offline_since", "updated_at"]

    def get_online(self, device) -> bool:
        return is_online(device.last_seen, cutoff=online_cutoff())


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


class SeriesFilterSerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=list(SERIES_RANGES), required=False, default="1h")


class RateFilterSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(required=False, min_value=1, max_value=24 * 60, default=10)
    bucket_s = serializers.IntegerField(required=False, min_value=1, max_value=3600, default=5)

    def validate(self, attrs):
        if attrs["minutes"] * 60 // attrs["bucket_s"] > 5000:
            raise serializers.ValidationError("at most 5,000 buckets: widen bucket_s or shorten minutes")
        return attrs
