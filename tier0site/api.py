"""API conventions shared by every app: errors always carry a message."""

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, with a top-level ``error`` string on every error body."""
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" not in response.data:
        detail = response.data.get("detail")
        response.data = {"error": str(detail) if detail is not None else "Invalid request.", **response.data}
    return response
