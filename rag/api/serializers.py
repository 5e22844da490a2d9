"""Small input/output serializers for the RAG API."""

from django.conf import settings
from rest_framework import serializers

from rag.models import SystemLog


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and other non-strings instead of coercing them."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryInputSerializer(serializers.Serializer):
    question = StrictCharField(allow_blank=False, trim_whitespace=True)
    offline = serializers.BooleanField(required=False, default=False, help_text="never call Cohere for this question")

    def validate_question(self, value: str) -> str:
        if len(value) > settings.RAG_MAX_QUESTION_CHARS:
            raise serializers.ValidationError(f"Ensure this field has no more than {settings.RAG_MAX_QUESTION_CHARS} characters.")
        return value


class QueryOutputSerializer(serializers.Serializer):
    answer = serializers.CharField()
    type = serializers.ChoiceField(choices=["documents", "safety", "images", "logs"])
    sources = serializers.ListField(child=serializers.DictField())
    data = serializers.DictField()
    synthesized = serializers.BooleanField()
    provider = serializers.CharField()


class LogFilterSerializer(serializers.Serializer):
    ip = serializers.CharField(required=False, max_length=64)
    status = serializers.IntegerField(required=False, min_value=100, max_value=599)
    status_min = serializers.IntegerField(required=False, min_value=100, max_value=599)
    status_max = serializers.IntegerField(required=False, min_value=100, max_value=599)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    path = serializers.CharField(required=False, max_length=500)
    method = serializers.CharField(required=False, max_length=16)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError("since must be before until")
        return attrs


class LogStatsFilterSerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
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
