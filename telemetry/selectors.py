"""Telemetry reads: device lists (cache-aside in Redis), readings, site counts.

Device lists are cached under the seed's key pattern ``devices:{site_id}:{device_type}``
(``devices:all`` for everything) for ``DEVICE_CACHE_TTL_S`` seconds. Each key
also carries the version of the device group it covers, which ingest bumps when
those devices change (``services.device_cache_bump``), so a read after a change
misses and refreshes instead of serving up to a minute of stale state.
"""

import base64
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q
from prometheus_client import Counter

from telemetry.device_types import STATES
from telemetry.liveness import is_online, online_cutoff
from telemetry.models import DeadLetter, DeviceState, TelemetryReading
from telemetry.services import device_cache_version_key

CACHE_REQUESTS = Counter("tier0_device_cache_requests_total", "Device list reads by cache result", ["result"])

DEVICE_FIELDS = (
    "device_id",
    "device_type",
    "site_id",
    "state",
    "timestamp_utc",
    "firmware",
    "metrics",
    "status",
    "location",
    "tags",
    "last_seen",
)


def device_cache_key(*, site_id: str | None, device_type: str | None) -> str:
    if site_id is None and device_type is None:
        return "devices:all"
    return f"devices:{site_id or '*'}:{device_type or '*'}"


def online_filter(online: bool) -> Q:
    seen = Q(last_seen__gte=online_cutoff())
    return seen if online else ~seen | Q(last_seen__isnull=True)


def device_list(
    *, site_id: str | None = None, device_type: str | None = None, state: str | None = None, online: bool | None = None
):
    queryset = DeviceState.objects.all()
    if site_id:
        queryset = queryset.filter(site_id=site_id)
    if device_type:
        queryset = queryset.filter(device_type=device_type)
    if state:
        queryset = queryset.filter(state=state)
    if online is not None:
        queryset = queryset.filter(online_filter(online))
    return queryset.order_by("device_id")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _device_row(values: dict) -> dict:
    values["timestamp_utc"] = _iso(values["timestamp_utc"])
    values["last_seen"] = _iso(values["last_seen"])
    return values


def device_page_key(*, site_id, device_type, state, page: int, page_size: int, version: int, online: bool | None = None) -> str:
    base = f"{device_cache_key(site_id=site_id, device_type=device_type)}:v{version}:{state or '*'}"
    liveness = "" if online is None else f":online={int(online)}"
    return f"{base}{liveness}:p{page}:{page_size}"


def device_page(
    *,
    site_id: str | None = None,
    device_type: str | None = None,
    state: str | None = None,
    online: bool | None = None,
    page: int = 1,
    page_size: int = 100,
) -> tuple[dict, bool]:
    """One page of devices' latest state, and whether it came from the cache.

    Rows carry ``last_seen``; ``online`` is added when the page is answered
    (``with_online``), so a cached page never serves yesterday's liveness.
    """
    version = cache.get(device_cache_version_key(site_id, device_type), 0)
    key = device_page_key(
        site_id=site_id, device_type=device_type, state=state, online=online, page=page, page_size=page_size, version=version
    )
    cached = cache.get(key)
    if cached is not None:
        CACHE_REQUESTS.labels("hit").inc()
        return cached, True
    CACHE_REQUESTS.labels("miss").inc()
    queryset = device_list(site_id=site_id, device_type=device_type, state=state, online=online)
    offset = (page - 1) * page_size
    rows = [_device_row(v) for v in queryset.values(*DEVICE_FIELDS)[offset : offset + page_size]]
    result = {"count": queryset.count(), "page": page, "page_size": page_size, "results": rows}
    cache.set(key, result, settings.DEVICE_CACHE_TTL_S)
    return result, False


def with_online(rows: list[dict]) -> list[dict]:
    """Device rows with ``online`` judged now from their ``last_seen``."""
    cutoff = online_cutoff()
    return [{**row, "online": is_online(row.get("last_seen"), cutoff=cutoff)} for row in rows]


def device_get(*, device_id: str) -> DeviceState | None:
    return DeviceState.objects.filter(device_id=device_id).first()


def encode_cursor(timestamp: datetime) -> str:
    return base64.urlsafe_b64encode(timestamp.isoformat().encode()).decode()


def decode_cursor(cursor: str) -> datetime:
    """Raise ValueError for a cursor this API did not issue."""
    try:
        parsed = datetime.fromisoformat(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not valid") from exc
    if parsed.tzinfo is None:
        raise ValueError("cursor is not valid")
    return parsed


def device_readings(
    *,
    device_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    before: datetime | None = None,
    limit: int = 100,
) -> tuple[list[dict], str | None]:
    """Readings of one device, newest first, and the cursor of the next page."""
    queryset = TelemetryReading.objects.filter(device_id=device_id)
    if start:
        queryset = queryset.filter(timestamp_utc__gte=start)
    if end:
        queryset = queryset.filter(timestamp_utc__lt=end)
    if before:
        queryset = queryset.filter(timestamp_utc__lt=before)
    rows = list(
        queryset.order_by("-timestamp_utc").values("timestamp_utc", "metrics", "status", "firmware", "received_at")[: limit + 1]
    )
    next_cursor = encode_cursor(rows[limit - 1]["timestamp_utc"]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def site_summary() -> list[dict]:
    """Devices per site: all ever seen, online now, by state and by type.

    Cached like device lists; the liveness monitor bumps the version when devices
    fall silent, and the cache lives at most ``DEVICE_CACHE_TTL_S`` seconds.
    """
    version = cache.get(device_cache_version_key(None, None), 0)
    key = f"sites:v{version}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    state_counts = {state.lower(): Count("device_id", filter=Q(state=state)) for state in STATES}
    online = Count("device_id", filter=online_filter(True))
    sites = {
        row["site_id"]: {**row, "offline": row["devices"] - row["online"], "by_type": {}}
        for row in DeviceState.objects.values("site_id")
        .annotate(devices=Count("device_id"), online=online, **state_counts)
        .order_by("site_id")
    }
    for row in DeviceState.objects.values("site_id", "device_type").annotate(n=Count("device_id"), online=online):
        sites[row["site_id"]]["by_type"][row["device_type"]] = row["n"]
        sites[row["site_id"]].setdefault("online_by_type", {})[row["device_type"]] = row["online"]
    result = list(sites.values())
    cache.set(key, result, settings.DEVICE_CACHE_TTL_S)
    return result


def dead_letter_list(*, source: str | None = None):
    queryset = DeadLetter.objects.all()
    if source:
        queryset = queryset.filter(source=source)
    return queryset.order_by("-created_at")
