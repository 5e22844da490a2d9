"""Input filters and the row serializer of the log API."""

from datetime import UTC, datetime

from rest_framework import serializers

from logs.models import SystemLog

# Log windows are bounded so every window edge and hour rounding stays representable.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise serializers.ValidationError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


class WindowDateTimeField(serializers.DateTimeField):
    def __init__(self, **kwargs):
        super().__init__(validators=[_in_range], **kwargs)


class LogFilterSerializer(serializers.Serializer):
    ip = serializers.CharField(required=False, max_length=64)
    status = serializers.IntegerField(required=False, min_value=100, max_value=599)
    status_min = serializers.IntegerField(required=False, min_value=100, max_value=599)
    status_max = serializers.IntegerField(required=False, min_value=100, max_value=599)
    since = WindowDateTimeField(required=False)
    until = WindowDateTimeField(required=False)
    path = serializers.CharField(required=False, max_length=500)
    method = serializers.CharField(required=False, max_length=16)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError("since must be before until")
        return attrs


class LogStatsFilterSerializer(serializers.Serializer):
    since = WindowDateTimeField(required=False)
    until = WindowDateTimeField(required=False)
    status = serializers.IntegerField(required=False, min_value=100, max_value=599)
    status_min = serializers.IntegerField(required=False, min_value=100, max_value=599)
    status_max = serializers.IntegerField(required=False, min_value=100, max_value=599)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=10)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError("since must be before until")
        return attrs


class SystemLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = SystemLog
        fields = [
            "log_file",
            "line_number",
            "ip",
            "timestamp",
            "method",
            "path",
            "protocol",
            "status",
            "size",
            "referer",
            "user_agent",
            "response_time_ms",
        ]
