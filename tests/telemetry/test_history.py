"""History: series by range from raw rows or rollups; the message rate by arrival time."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from telemetry.history import device_series, message_rate
from telemetry.models import RollupHour, RollupMinute
from telemetry.rollups import rollups_refresh
from telemetry.services import RawMessage, readings_ingest
from tests.telemetry.conftest import reading_payload, topic_for

pytestmark = pytest.mark.django_db


def ingest_series(device_id: str, start: datetime, count: int, step: timedelta) -> None:
    messages = []
    for i in range(count):
        payload = reading_payload(device_id=device_id, timestamp_utc=(start + i * step).isoformat().replace("+00:00", "Z"))
        payload["metrics"]["rpm"] = 1000 + i
        messages.append(RawMessage(topic_for(payload, "og/field"), json.dumps(payload).encode()))
    readings_ingest(messages=messages)


def test_rollups_average_each_metric_per_minute_and_per_hour():
    start = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    ingest_series("TURB-1", start, 120, timedelta(seconds=30))  # one hour, two readings a minute
    rollups_refresh(start=start, end=start + timedelta(hours=1))
    first = RollupMinute.objects.get(device_id="TURB-1", bucket=start)
    assert first.n == 2 and first.metrics["rpm"] == [1000.5, 1000, 1001]
    hour = RollupHour.objects.get(device_id="TURB-1", bucket=start)
    assert hour.n == 120 and hour.metrics["rpm"][0] == pytest.approx(1059.5)
    assert hour.metrics["rpm"][1:] == [1000, 1119]
    rollups_refresh(start=start, end=start + timedelta(hours=1))  # repeatable
    assert RollupMinute.objects.filter(device_id="TURB-1").count() == 60


def test_a_24_hour_chart_comes_from_minute_rollups_and_7_days_from_hours():
    now = timezone.now()
    ingest_series("TURB-1", now - timedelta(hours=3), 90, timedelta(minutes=2))
    call_command("rollup_readings", "--hours", "4", stdout=io.StringIO())
    raw = device_series(device_id="TURB-1", range_key="1h", now=now)
    day = device_series(device_id="TURB-1", range_key="24h", now=now)
    week = device_series(device_id="TURB-1", range_key="7d", now=now)
    assert (raw["source"], day["source"], week["source"]) == ("raw", "minute", "hour")
    assert len(raw["points"]) == 30 and len(day["points"]) == 90 and 3 <= len(week["points"]) <= 4
    # Reading the rollups does not touch the raw table.
    with connection.execute_wrapper(_refuse_raw_reads):
        device_series(device_id="TURB-1", range_key="7d", now=now)
        device_series(device_id="TURB-1", range_key="24h", now=now)


def _refuse_raw_reads(execute, sql, params, many, context):
    assert "telemetry_reading" not in sql.replace("telemetry_rollup", "")
    return execute(sql, params, many, context)


def test_the_series_api_validates_the_range(api_client):
    ingest_series("TURB-1", timezone.now() - timedelta(minutes=5), 30, timedelta(seconds=5))
    body = api_client.get("/api/devices/TURB-1/series", {"range": "15m"}).json()
    assert body["source"] == "raw" and len(body["points"]) == 30
    assert body["points"][0]["metrics"]["rpm"] == 1000
    bad = api_client.get("/api/devices/TURB-1/series", {"range": "2y"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("Invalid filter range")
    assert api_client.get("/api/devices/NOPE/series").status_code == 404


def test_the_message_rate_counts_stored_messages_by_arrival_in_fixed_buckets(api_client):
    ingest_series("TURB-1", datetime(2025, 1, 1, tzinfo=UTC), 50, timedelta(seconds=1))  # old timestamps, stored now
    rate = message_rate(minutes=1, bucket_s=5, now=timezone.now() + timedelta(seconds=5))
    assert len(rate["points"]) == 12
    assert sum(p["stored"] for p in rate["points"]) == 50
    body = api_client.get("/api/telemetry/rate", {"minutes": 2, "bucket_s": 10}).json()
    assert body["measured_by"] == "received_at" and len(body["points"]) == 12
    assert api_client.get("/api/telemetry/rate", {"minutes": 1440, "bucket_s": 1}).status_code == 400


def test_each_round_rolls_up_what_arrived_since_the_last_one_even_with_old_timestamps():
    from django.core.cache import cache

    from telemetry.rollups import WATERMARK_KEY, rollups_refresh_arrived

    cache.delete(WATERMARK_KEY)
    three_days_ago = (timezone.now() - timedelta(days=3)).replace(second=0, microsecond=0)
    ingest_series("TURB-1", three_days_ago, 4, timedelta(seconds=10))  # a device back from an outage
    later = timezone.now() + timedelta(seconds=30)  # past the commit margin
    assert rollups_refresh_arrived(now=later) == (1, 1)
    minute = RollupMinute.objects.get(device_id="TURB-1")
    assert (minute.bucket, minute.n) == (three_days_ago, 4)
    assert rollups_refresh_arrived(now=later + timedelta(seconds=1)) == (0, 0)  # nothing new arrived
