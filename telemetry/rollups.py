"""Per-minute and hourly rollups of readings, for charts over long ranges.

``rollups_refresh`` recomputes the minute buckets of readings whose timestamp
falls in a window, then the hour buckets over those minutes; both upsert, so a
round may repeat a window and a late reading within the window is counted. The
liveness monitor runs it every round over the last ``ROLLUP_LOOKBACK_S``
seconds; ``rollup_readings --hours N`` backfills after an outage or an import.
Each metric keeps [avg, min, max]; non-numeric values are left out.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

ROLL_MINUTES = """
WITH per_metric AS (
    SELECT r.device_id, date_trunc('minute', r.timestamp_utc) AS bucket, m.key,
           avg((m.value)::text::float8) AS a, min((m.value)::text::float8) AS lo,
           max((m.value)::text::float8) AS hi, count(*) AS n
    FROM telemetry_reading r CROSS JOIN LATERAL jsonb_each(r.metrics) m
    WHERE r.timestamp_utc >= %s AND r.timestamp_utc < %s AND jsonb_typeof(m.value) = 'number'
    GROUP BY 1, 2, 3
)
INSERT INTO telemetry_rollup_minute (device_id, bucket, n, metrics)
SELECT device_id, bucket, max(n), jsonb_object_agg(key, jsonb_build_array(round(a::numeric, 4), lo, hi))
FROM per_metric GROUP BY device_id, bucket
ON CONFLICT (device_id, bucket) DO UPDATE SET n = EXCLUDED.n, metrics = EXCLUDED.metrics
"""

# An hour's average weighs each minute by its number of readings; only the
# devices whose minutes were just rolled are recomputed.
ROLL_HOURS = """
WITH per_metric AS (
    SELECT r.device_id, date_trunc('hour', r.bucket) AS bucket, m.key,
           sum((m.value->>0)::float8 * r.n) / sum(r.n) AS a, min((m.value->>1)::float8) AS lo,
           max((m.value->>2)::float8) AS hi, sum(r.n) AS n
    FROM telemetry_rollup_minute r CROSS JOIN LATERAL jsonb_each(r.metrics) m
    WHERE r.bucket >= %s AND r.bucket < %s
      AND r.device_id IN (SELECT device_id FROM telemetry_rollup_minute WHERE bucket >= %s AND bucket < %s)
    GROUP BY 1, 2, 3
)
INSERT INTO telemetry_rollup_hour (device_id, bucket, n, metrics)
SELECT device_id, bucket, max(n), jsonb_object_agg(key, jsonb_build_array(round(a::numeric, 4), lo, hi))
FROM per_metric GROUP BY device_id, bucket
ON CONFLICT (device_id, bucket) DO UPDATE SET n = EXCLUDED.n, metrics = EXCLUDED.metrics
"""


def _floor(moment: datetime, unit: str) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    return moment.replace(minute=0) if unit == "hour" else moment


@transaction.atomic
def rollups_refresh(*, start: datetime | None = None, end: datetime | None = None) -> tuple[int, int]:
    """Roll readings with timestamps in [start, end) up; return (minute rows, hour rows) written."""
    end = end or timezone.now()
    start = start or end - timedelta(seconds=settings.ROLLUP_LOOKBACK_S)
    minute_start, hour_start = _floor(start, "minute"), _floor(start, "hour")
    # Whole buckets only: a partial minute or hour is recomputed, never half-counted.
    minute_end = _floor(end, "minute") + timedelta(minutes=1)
    with connection.cursor() as cursor:
        cursor.execute(ROLL_MINUTES, [minute_start, minute_end])
        minutes = cursor.rowcount
        cursor.execute(ROLL_HOURS, [hour_start, _floor(end, "hour") + timedelta(hours=1), minute_start, minute_end])
        hours = cursor.rowcount
    return minutes, hours
