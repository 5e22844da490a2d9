"""Small input/output serializers for the RAG API."""

from django.conf import settings
from rest_framework import serializers


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
    type = serializers.ChoiceField(choices=["documents", "safety", "images", "logs", "telemetry", "none"])
    sources = serializers.ListField(child=serializers.DictField())
    data = serializers.DictField()
    synthesized = serializers.BooleanField()
    provider = serializers.CharField()
