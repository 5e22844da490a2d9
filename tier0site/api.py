"""API conventions shared by every app: errors always carry a message, hostile input is a 400.

One request-input validator, one id validator, one pagination class for every
list API, one date-time field with a range, and a middleware that refuses NUL
in any URL (PostgreSQL cannot store or compare it, so it would end as a 500).
"""

import re
from datetime import UTC, datetime
from typing import ClassVar

from django.http import JsonResponse
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
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


# --- Hostile input: NUL anywhere in a request line, dates out of range -------------


def nul_refusal(path: str, query: dict) -> str | None:
    """The message for a request carrying NUL (PostgreSQL cannot compare it), else None."""
    if "\x00" in path:
        return "NUL characters are not allowed in the URL path."
    for key, values in query.items():
        if "\x00" in key or any("\x00" in value for value in values):
            return f"NUL characters are not allowed in the query string ({key!r})."[:200]
    return None


class RejectNulMiddleware:
    """A 400 with a message for any request whose path or query string holds NUL."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        message = nul_refusal(request.path, dict(request.GET.lists()))
        if message:
            return JsonResponse({"error": message}, status=400)
        return self.get_response(request)


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class BoundedDateTimeField(serializers.DateTimeField):
    """A date-time between 1970 and 2200: out of range is a 400, never an overflow further down."""

    default_error_messages: ClassVar[dict[str, str]] = {"range": "must be between 1970-01-01 and 2200-01-01."}

    def to_internal_value(self, value):
        try:
            parsed = super().to_internal_value(value)
        except (OverflowError, ValueError):
            self.fail("range")
        if not EARLIEST <= parsed <= LATEST:
            self.fail("range")
        return parsed

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except (OverflowError, ValueError):
            self.fail("range")


# --- The one pagination of every list API ------------------------------------------

PAGINATION_PARAMS = frozenset({"page", "page_size"})


class PageSerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, max_value=100_000, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)


class BoundedPagination(PageNumberPagination):
    """Page-number pagination with ``page`` 1-100,000 and ``page_size`` 1-1,000 (default 100).

    Anything else answers 400 with a message (DRF's own class would silently
    ignore a bad page size and let a huge page number overflow the database);
    a page past the last answers 404 with a message. Querysets go through
    ``paginate_queryset``; sources that page themselves (a cache, a document
    store) through ``paginate_fetched``.
    """

    page_size_query_param = "page_size"

    @staticmethod
    def page_params(query) -> tuple[int, int]:
        """(page, page_size) from a request's query, or a 400 naming the bad one."""
        data = {key: query.get(key) for key in PAGINATION_PARAMS if key in query}
        values = validated_input(PageSerializer, data, prefix="Invalid filter ")
        return values["page"], values["page_size"]

    def paginate_queryset(self, queryset, request, view=None):
        number, size = self.page_params(request.query_params)
        self.request = request
        paginator = self.django_paginator_class(queryset, size)
        self._check_last(number, paginator.num_pages)
        self.page = paginator.page(number)
        return list(self.page)

    def get_paginated_response(self, data):
        return Response(
            page_body(
                count=self.page.paginator.count,
                page=self.page.number,
                page_size=self.page.paginator.per_page,
                results=data,
                url_for=lambda n: replace_query_param(self.request.build_absolute_uri(), "page", n),
            )
        )

    def paginate_fetched(self, request, fetch) -> dict:
        """The page body for ``fetch(page, page_size) -> (count, rows)``."""
        number, size = self.page_params(request.query_params)
        count, rows = fetch(number, size)
        self._check_last(number, last_page(count, size))
        return page_body(
            count=count,
            page=number,
            page_size=size,
            results=rows,
            url_for=lambda n: replace_query_param(request.build_absolute_uri(), "page", n),
        )

    @staticmethod
    def _check_last(number: int, last: int) -> None:
        if number > max(1, last):
            raise NotFound({"error": f"Page {number} is past the last page ({max(1, last)})."})


def last_page(count: int, page_size: int) -> int:
    return max(1, -(-count // page_size))


def page_body(*, count: int, page: int, page_size: int, results: list, url_for) -> dict:
    """The body every list API answers: count, next and previous links, results."""
    return {
        "count": count,
        "next": url_for(page + 1) if page < last_page(count, page_size) else None,
        "previous": url_for(page - 1) if page > 1 else None,
        "results": results,
    }
