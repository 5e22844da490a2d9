"""An ASGI fast path for the hottest read: a cached page of ``GET /api/devices``.

Django's ASGI stack costs about 3 ms of CPU per request here, whatever the view
does, which caps a 2-core machine far below what a cached page needs. This
middleware answers a device-list request straight from Redis when everything
needed is already known, and hands every other request to Django untouched:

- only ``GET /api/devices`` with ``Authorization: Token …`` and a JSON (or any)
  Accept header; session-cookie and browsable-API requests go to Django;
- the token must have been accepted by DRF itself within ``TOKEN_TRUST_S``
  (learnt from Django's own 200 answers), so authentication stays DRF's; a
  revoked token stops working here within that many seconds;
- the filters pass the same serializer the view uses (else Django answers 400);
- the page is in the cache at the group's current version (else Django reads
  PostgreSQL and fills the cache).

The body is built by the view's own ``device_page_body``. Off under Redis
Sentinel (the HA settings), where Django's Sentinel-aware client is the way in.
"""

import asyncio
import json
import time
from urllib.parse import parse_qsl

import redis.asyncio
from django.conf import settings
from django.core.cache import cache
from django.http.request import split_domain_port, validate_host
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import replace_query_param

from telemetry import selectors
from telemetry.api.serializers import DeviceFilterSerializer
from telemetry.api.views import device_page_body
from telemetry.services import device_cache_version_key
from tier0site.api import BoundedPagination, last_page

PATH = "/api/devices"
TOKEN_TRUST_S = 30.0


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class DeviceListFastPath:
    def __init__(self, app) -> None:
        self.app = app
        self.enabled = not getattr(settings, "REDIS_SENTINELS", None)
        self.trusted_tokens: dict[str, float] = {}
        self._redis = self._redis_loop = None

    @property
    def redis(self):
        # An asyncio client belongs to the event loop it was made in (one per server process).
        loop = asyncio.get_running_loop()
        if self._redis is None or self._redis_loop is not loop:
            self._redis, self._redis_loop = redis.asyncio.from_url(settings.REDIS_URL, socket_timeout=2), loop
        return self._redis

    async def __call__(self, scope, receive, send):
        if not (self.enabled and scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PATH):
            return await self.app(scope, receive, send)
        token = self._token(scope)
        if token and self.trusted_tokens.get(token, 0) > time.monotonic():
            body = await self._cached_body(scope)
            if body is not None:
                return await self._send_json(send, body)
        if not token:
            return await self.app(scope, receive, send)

        async def watch_status(message):
            # DRF accepted the token: trust it here for a while.
            if message["type"] == "http.response.start" and message["status"] == 200:
                self.trusted_tokens[token] = time.monotonic() + TOKEN_TRUST_S
            await send(message)

        return await self.app(scope, receive, watch_status)

    @staticmethod
    def _token(scope) -> str | None:
        accept = _header(scope, b"accept") or "*/*"
        if "text/html" in accept:
            return None  # the browsable API is Django's
        authorization = _header(scope, b"authorization") or ""
        scheme, _, key = authorization.partition(" ")
        return key.strip() if scheme == "Token" and key.strip() else None

    async def _cached_body(self, scope) -> bytes | None:
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        filters = DeviceFilterSerializer(data=query)
        if not filters.is_valid():
            return None
        f = filters.validated_data
        try:
            page_number, page_size = BoundedPagination.page_params(query)
        except ValidationError:
            return None  # Django answers the 400
        version_key = cache.make_key(device_cache_version_key(f.get("site_id"), f.get("device_type")))
        version = await self.redis.get(version_key)
        page_key = selectors.device_page_key(
            site_id=f.get("site_id"), device_type=f.get("device_type"), state=f.get("state"),
            page=page_number, page_size=page_size, version=int(version or 0),
        )  # fmt: skip
        raw = await self.redis.get(cache.make_key(page_key))
        if raw is None:
            return None
        selectors.CACHE_REQUESTS.labels("hit").inc()
        page = cache.client.decode(raw)
        if page_number > last_page(page["count"], page_size) and page_number > 1:
            return None  # Django answers the 404
        scheme = scope.get("scheme", "http")
        host = _header(scope, b"host") or ""
        if not validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS):
            return None  # Django answers a bad Host header
        url = f"{scheme}://{host}{PATH}?{scope['query_string'].decode('latin-1')}"
        return json.dumps(device_page_body(page, lambda n: replace_query_param(url, "page", n))).encode()

    @staticmethod
    async def _send_json(send, body: bytes) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-cache", b"HIT"),
            (b"vary", b"Accept, Authorization"),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
