"""``GET /api/``: the API root, listing every endpoint under /api/ (read from the URL map itself)."""

from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

TOKEN_HELP = (
    'POST /api/auth/login with {"username": ..., "password": ...} answers a token (shown once); '  # noqa: S105 - help text that names the login endpoint
    "send it as 'Authorization: Token <token>'. The dashboard's session works too."
)


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def api_endpoints() -> list[dict]:
    """Every route under api/, with its name and the methods its view answers."""
    endpoints = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("api/") or route == "api/":
            continue
        view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        methods = sorted(
            m.upper() for m in getattr(view, "http_method_names", ()) if m not in ("options", "head") and hasattr(view, m)
        )
        endpoints.append({"path": "/" + route, "name": pattern.name, "methods": methods})
    return endpoints


class ApiRootApi(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "ApiRoot",
                {
                    "endpoints": serializers.ListField(child=serializers.DictField()),
                    "docs": serializers.CharField(),
                    "schema": serializers.CharField(),
                    "authentication": serializers.CharField(),
                },
            )
        }
    )
    def get(self, request):
        return Response(
            {
                "endpoints": api_endpoints(),
                "docs": "/api/docs",
                "schema": "/api/schema",
                "authentication": TOKEN_HELP,
            }
        )
