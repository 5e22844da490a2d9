"""Per-minute and hourly rollups of readings, for charts over long ranges.

Each round recomputes only the (device, minute) buckets that received readings
since the last round, by arrival time (``received_at``), and then the hours
holding them: a reading that arrives late (a device back from an outage, a
redelivery) is rolled into its own minute whenever it arrives. Both tables are
upserted, so repeating a round is harmless. The device monitor runs
``rollups_refresh_arrived`` every ``ROLLUP_INTERVAL_S``, from where its last
round ended (kept in the cache; after a restart, the last ``ROLLUP_LOOKBACK_S``);
``rollup_readings --hours N`` rebuilds the buckets of a time window (after a
longer outage, an import or an upgrade). Each metric keeps [avg, min, max] and
non-numeric values are left out.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

TOUCHED_DDL = """
CREATE TEMP TABLE IF NOT EXISTS rollup_touched (device_id varchar(64) NOT NULL, bucket timestamptz NOT NULL)
ON COMMIT DELETE ROWS
"""
TOUCH_ARRIVED = """
INSERT INTO rollup_touched SELECT DISTINCT device_id, date_trunc('minute', timestamp_utc)
FROM telemetry_reading WHERE received_at > %s AND received_at <= %s
"""
TOUCH_WINDOW = """
INSERT INTO rollup_touched SELECT DISTINCT device_id, date_trunc('minute', timestamp_utc)
FROM telemetry_reading WHERE timestamp_utc >= %s AND timestamp_utc < %s
"""

ROLL_MINUTES = """
WITH per_metric AS (
    SELECT t.device_id, t.bucket, m.key,
           avg(m.value::float8) AS a, min(m.value::float8) AS lo, max(m.value::float8) AS hi, count(*) AS n
    FROM rollup_touched t
    JOIN telemetry_reading r
      ON r.device_id = t.device_id AND r.timestamp_utc >= t.bucket AND r.timestamp_utc < t.bucket + interval '1 minute'
    CROSS JOIN LATERAL jsonb_each(r.metrics) m
    WHERE jsonb_typeof(m.value) = 'number'
    GROUP BY 1, 2, 3
)
INSERT INTO telemetry_rollup_minute (device_id, bucket, n, metrics)
SELECT device_id, bucket, max(n), jsonb_object_agg(key, jsonb_build_array(round(a::numeric, 4), lo, hi))
FROM per_metric GROUP BY device_id, bucket
ON CONFLICT (device_id, bucket) DO UPDATE SET n = EXCLUDED.n, metrics = EXCLUDED.metrics
"""

# An hour's average weighs each minute by its number of readings.
ROLL_HOURS = """
WITH hours AS (SELECT DISTINCT device_id, date_trunc('hour', bucket) AS bucket FROM rollup_touched),
per_metric AS (
    SELECT h.device_id, h.bucket, m.key,
           sum((m.value->>0)::float8 * r.n) / sum(r.n) AS a, min((m.value->>1)::float8) AS lo,
           max((m.value->>2)::float8) AS hi, sum(r.n) AS n
    FROM hours h
    JOIN telemetry_rollup_minute r
      ON r.device_id = h.device_id AND r.bucket >= h.bucket AND r.bucket < h.bucket + interval '1 hour'
    CROSS JOIN LATERAL jsonb_each(r.metrics) m
    GROUP BY 1, 2, 3
)
INSERT INTO telemetry_rollup_hour (device_id, bucket, n, metrics)
SELECT device_id, bucket, max(n), jsonb_object_agg(key, jsonb_build_array(round(a::numeric, 4), lo, hi))
FROM per_metric GROUP BY device_id, bucket
ON CONFLICT (device_id, bucket) DO UPDATE SET n = EXCLUDED.n, metrics = EXCLUDED.metrics
"""

WATERMARK_KEY = "telemetry:rollups:arrived-until"
# A batch's rows carry the time they were inserted but become visible at its
# commit: stay this far behind now so a transaction in flight is never skipped.
COMMIT_MARGIN = timedelta(seconds=5)


@transaction.atomic
def _roll(touch_sql: str, params: list) -> tuple[int, int]:
    with connection.cursor() as cursor:
        # These statements are short and many-rowed: compiling them (JIT) costs
        # more than it saves (about a second per round, measured).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '32MB'")  # the per-metric aggregate stays in memory
        cursor.execute(TOUCHED_DDL)
        # Emptied at each commit, and here too for a caller already inside a transaction.
        cursor.execute("TRUNCATE rollup_touched")
        cursor.execute(touch_sql, params)
        cursor.execute("ANALYZE rollup_touched")
        cursor.execute(ROLL_MINUTES)
        minutes = cursor.rowcount
        cursor.execute(ROLL_HOURS)
        return minutes, cursor.rowcount


def rollups_refresh(*, start: datetime, end: datetime) -> tuple[int, int]:
    """Rebuild the buckets of readings with timestamps in [start, end); (minute rows, hour rows) written."""
    return _roll(TOUCH_WINDOW, [start, end])


def rollups_refresh_arrived(*, now: datetime | None = None) -> tuple[int, int]:
    """Roll up what arrived since the last call (see the module doc); (minute rows, hour rows) written."""
    until = (now or timezone.now()) - COMMIT_MARGIN
    watermark = cache.get(WATERMARK_KEY)  # ISO text: cache values are JSON
    since = datetime.fromisoformat(watermark) if watermark else until - timedelta(seconds=settings.ROLLUP_LOOKBACK_S)
    if since >= until:
        return 0, 0
    written = _roll(TOUCH_ARRIVED, [since, until])
    cache.set(WATERMARK_KEY, until.isoformat(), timeout=None)
    return written
