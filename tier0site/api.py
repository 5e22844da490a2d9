"""API conventions shared by every app: errors always carry a message."""

import re

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, with a top-level ``error`` string on every error body."""
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" not in response.data:
        detail = response.data.get("detail")
        response.data = {"error": str(detail) if detail is not None else "Invalid request.", **response.data}
    return response


# Site, region and similar ids in query strings: what the pipelines accept.
IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def identifier(value: str) -> str:
    """Serializer validator for ids such as ``site_id`` and ``region``."""
    if not IDENTIFIER.match(value):
        raise serializers.ValidationError("must be 1-64 letters, digits or . _ : -")
    return value


def validated_input(serializer_class, data, *, prefix: str = "Invalid filter ") -> dict:
    """Validate request input; a 400 whose ``error`` names the first bad field."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        field, errors = next(iter(serializer.errors.items()))
        message = f"{field}: {errors[0]}" if field != "non_field_errors" else str(errors[0])
        raise ValidationError({"error": f"{prefix}{message}", "fields": serializer.errors})
    return serializer.validated_data
