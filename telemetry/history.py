"""Telemetry history reads: a device's chart series and the fleet's message rate.

A series picks its source by range so that a long chart never reads raw rows:
the last 15 minutes or hour from the readings themselves, 24 hours from the
per-minute rollups, 7 days from the hourly ones (``telemetry.rollups``).
The message rate counts stored messages by arrival time (``received_at``, set
when the consumer commits them) in fixed buckets, so the chart shows what was
stored when, not when a coalesced live event happened to arrive.
"""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone

from telemetry.models import RollupHour, RollupMinute, TelemetryReading

# range key -> (span, source)
SERIES_RANGES = {
    "15m": (timedelta(minutes=15), "raw"),
    "1h": (timedelta(hours=1), "raw"),
    "24h": (timedelta(hours=24), "minute"),
    "7d": (timedelta(days=7), "hour"),
}
SOURCE_LABELS = {"raw": "raw readings", "minute": "per-minute rollups", "hour": "hourly rollups"}
# A raw range is capped: a device reporting every second fills an hour with 3,600 points.
MAX_RAW_POINTS = 4000

RATE_SQL = """
SELECT floor(extract(epoch FROM received_at) / %s)::bigint AS slot, count(*)
FROM telemetry_reading WHERE received_at >= %s AND received_at < %s
GROUP BY slot ORDER BY slot
"""


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def device_series(*, device_id: str, range_key: str, now: datetime | None = None) -> dict:
    """Points of one device over a named range; rollup points carry averages."""
    span, source = SERIES_RANGES[range_key]
    end = now or timezone.now()
    start = end - span
    if source == "raw":
        rows = (
            TelemetryReading.objects.filter(device_id=device_id, timestamp_utc__gte=start, timestamp_utc__lt=end)
            .order_by("-timestamp_utc")
            .values_list("timestamp_utc", "metrics")[:MAX_RAW_POINTS]
        )
        points = [{"t": _iso(t), "n": 1, "metrics": _numbers(m)} for t, m in reversed(rows)]
    else:
        model = RollupMinute if source == "minute" else RollupHour
        rows = model.objects.filter(device_id=device_id, bucket__gte=start, bucket__lt=end).order_by("bucket")
        points = [{"t": _iso(r.bucket), "n": r.n, "metrics": {k: v[0] for k, v in r.metrics.items()}} for r in rows]
    return {
        "device_id": device_id,
        "range": range_key,
        "source": source,
        "source_label": SOURCE_LABELS[source],
        "start": _iso(start),
        "end": _iso(end),
        "points": points,
    }


def _numbers(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def message_rate(*, minutes: int = 10, bucket_s: int = 5, now: datetime | None = None) -> dict:
    """Messages stored per second in fixed buckets over the last ``minutes`` (complete buckets only)."""
    end_epoch = int((now or timezone.now()).timestamp()) // bucket_s * bucket_s
    start_epoch = end_epoch - minutes * 60
    start, end = (datetime.fromtimestamp(e, tz=UTC) for e in (start_epoch, end_epoch))
    with connection.cursor() as cursor:
        cursor.execute(RATE_SQL, [bucket_s, start, end])
        counts = dict(cursor.fetchall())
    slots = range(start_epoch // bucket_s, end_epoch // bucket_s)
    points = [
        {"t": _iso(datetime.fromtimestamp(slot * bucket_s, tz=UTC)), "stored": counts.get(slot, 0),
         "per_s": round(counts.get(slot, 0) / bucket_s, 2)}
        for slot in slots
    ]  # fmt: skip
    return {"bucket_s": bucket_s, "start": _iso(start), "end": _iso(end), "measured_by": "received_at", "points": points}
