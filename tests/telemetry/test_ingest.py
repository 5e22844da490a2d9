"""Batch ingest: stored once, newest state wins, bad messages kept with a reason."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from telemetry.models import DeadLetter, DeviceState, TelemetryReading
from telemetry.services import RawMessage, partition_names, partitions_drop_expired, partitions_ensure, readings_ingest
from tests.telemetry.conftest import reading_payload, recent, topic_for

pytestmark = pytest.mark.django_db


def _message(**overrides) -> RawMessage:
    payload = reading_payload(**overrides)
    return RawMessage(topic_for(payload, "og/field"), json.dumps(payload).encode())


def test_a_batch_is_stored_and_a_redelivery_adds_nothing():
    batch = [_message(timestamp_utc=recent(i)) for i in range(5)]
    first = readings_ingest(messages=batch)
    again = readings_ingest(messages=batch)
    assert (first.stored, first.duplicates) == (5, 0)
    assert (again.stored, again.duplicates) == (0, 5)
    assert TelemetryReading.objects.filter(device_id="TURB-00912").count() == 5


def test_the_latest_state_is_never_rolled_back_by_an_older_reading():
    newer_time = recent(1)
    newer = _message(timestamp_utc=newer_time, status={"state": "ALERT", "code": "TURB-X", "message": "hot"})
    older = _message(timestamp_utc=recent(9))
    readings_ingest(messages=[newer])
    readings_ingest(messages=[older])
    state = DeviceState.objects.get(device_id="TURB-00912")
    assert state.state == "ALERT"
    assert state.timestamp_utc == datetime.fromisoformat(newer_time)


def test_bad_messages_go_to_dead_letters_and_the_good_ones_are_stored():
    good = _message()
    result = readings_ingest(
        messages=[
            good,
            RawMessage("og/field/WY-ALPHA/turbine/TURB-1", b"not json"),
            RawMessage("og/field/x/turbine/y", b'{"a":1}'),
        ]
    )
    assert (result.received, result.stored, result.dead_lettered) == (3, 1, 2)
    reasons = sorted(DeadLetter.objects.values_list("reason", flat=True))
    assert reasons[0].startswith("json:") and reasons[1].startswith("schema:")
    assert DeadLetter.objects.filter(payload="not json").exists()


def test_a_value_the_database_refuses_is_isolated_not_retried_forever():
    # The validator lets nothing through that PostgreSQL refuses, so this test
    # makes PostgreSQL refuse one device (the constraint ends with the test's transaction).
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE telemetry_reading ADD CONSTRAINT test_refuse CHECK (device_id <> 'TURB-9')")
    refused = _message(device_id="TURB-9")
    result = readings_ingest(messages=[refused, _message()])
    assert result.stored == 1
    assert result.dead_lettered == 1
    assert DeadLetter.objects.get().reason.startswith("database:")


def test_alerts_and_changed_groups_are_reported_for_live_updates():
    result = readings_ingest(messages=[_message(status={"state": "WARN", "code": "TURB-VIB", "message": "vibration"})])
    assert result.groups == {("WY-ALPHA", "turbine")}
    assert result.alerts["TURB-00912"].state == "WARN"


def test_partitions_are_created_ahead_and_take_over_rows_from_the_default():
    day = date(2030, 1, 1)
    # Ingest refuses a reading this far ahead, so the row goes in directly.
    TelemetryReading.objects.create(
        device_id="TURB-1",
        device_type="turbine",
        site_id="WY-ALPHA",
        timestamp_utc=datetime(2030, 1, 1, 12, tzinfo=UTC),
        metrics={},
        status={"state": "OK"},
        received_at=datetime.now(UTC),
    )
    created = partitions_ensure(today=day, ahead_days=1)
    assert created == ["telemetry_reading_20300101", "telemetry_reading_20300102"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_reading_20300101")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT count(*) FROM telemetry_reading_default WHERE timestamp_utc >= '2030-01-01'")
        assert cursor.fetchone()[0] == 0
    assert partitions_ensure(today=day, ahead_days=1) == []


def test_expired_partitions_are_dropped_by_the_retention_setting():
    partitions_ensure(today=date(2030, 1, 1), ahead_days=2)
    dropped = partitions_drop_expired(today=date(2030, 1, 1) + timedelta(days=32), retention_days=30)
    assert dropped == ["telemetry_reading_20300101", "telemetry_reading_20300102"]
    assert "telemetry_reading_20300103" in partition_names()


def test_in_store_hooks_commit_with_the_batch_and_a_failing_hook_loses_only_its_own_writes():
    from tier0site.worker_status import HOOK_ERRORS, register_in_store, unregister_in_store

    seen = []

    def counting(result):
        seen.append(len(result.readings))

    def broken(result):
        DeadLetter.objects.create(source="hook", topic="t", payload="written by a hook that then fails", reason="x")
        raise RuntimeError("hook bug")

    errors_before = HOOK_ERRORS.labels("telemetry")._value.get()
    register_in_store("telemetry", broken)
    register_in_store("telemetry", counting)
    try:
        result = readings_ingest(messages=[_message(timestamp_utc=recent(i)) for i in range(3)])
    finally:
        unregister_in_store("telemetry", broken)
        unregister_in_store("telemetry", counting)
    assert result.stored == 3 and seen == [3]
    assert not DeadLetter.objects.filter(source="hook").exists()  # rolled back to the hook's savepoint
    assert HOOK_ERRORS.labels("telemetry")._value.get() == errors_before + 1


@pytest.mark.django_db(transaction=True)
def test_consumers_starting_together_create_each_partition_once():
    """Competing consumers call partitions_ensure at start-up at the same moment (their own connections)."""
    import threading

    from django.db import connections

    barrier, results, errors = threading.Barrier(4), [], []

    def ensure():
        try:
            barrier.wait(10)
            results.append(partitions_ensure(today=date(2031, 3, 1), ahead_days=3))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ensure) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    created = sorted(name for names in results for name in names)
    assert created == [f"telemetry_reading_2031030{d}" for d in range(1, 5)]  # each exactly once
