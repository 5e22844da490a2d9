"""Input filters and the row serializer of the log API."""

from rest_framework import serializers

from logs.models import SystemLog
from tier0site.api import BoundedDateTimeField


class LogFilterSerializer(serializers.Serializer):
    ip = serializers.CharField(required=False, max_length=64)
    status = serializers.IntegerField(required=False, min_value=100, max_value=599)
    status_min = serializers.IntegerField(required=False, min_value=100, max_value=599)
    status_max = serializers.IntegerField(required=False, min_value=100, max_value=599)
    since = BoundedDateTimeField(required=False)
    until = BoundedDateTimeField(required=False)
    path = serializers.CharField(required=False, max_length=500)
    method = serializers.CharField(required=False, max_length=16)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError("since must be before until")
        return attrs


class LogStatsFilterSerializer(serializers.Serializer):
    since = BoundedDateTimeField(required=False)
    until = BoundedDateTimeField(required=False)
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
