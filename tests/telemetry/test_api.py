"""The telemetry API: filters, errors, permissions, and the Redis cache-aside."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from telemetry.services import RawMessage, device_cache_bump, readings_ingest
from tests.support.waiting import wait_until
from tests.telemetry.conftest import reading_payload, topic_for

pytestmark = pytest.mark.django_db


def ingest(**overrides):
    payload = reading_payload(**overrides)
    readings_ingest(messages=[RawMessage(topic_for(payload, "og/field"), json.dumps(payload).encode())])


@pytest.fixture
def fleet_state():
    ingest()
    ingest(device_id="TURB-2", status={"state": "ALERT", "code": "TURB-RPM-HIGH", "message": "rpm"})
    ingest(device_id="TURB-3", site_id="TX-EAGLE")
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    for second in range(5):
        ingest(device_id="TURB-4", timestamp_utc=_stamp(base, second))
    return base


def _stamp(base: datetime, second: int) -> str:
    return (base + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")


def test_reading_the_api_needs_a_login(anon_client):
    assert anon_client.get("/api/devices").status_code in (401, 403)
    assert anon_client.get("/api/sites").status_code in (401, 403)


def test_devices_filter_by_site_type_and_state(api_client, fleet_state):
    body = api_client.get("/api/devices", {"site_id": "WY-ALPHA", "device_type": "turbine"}).json()
    assert body["count"] == 3
    assert sorted(d["device_id"] for d in body["results"]) == ["TURB-00912", "TURB-2", "TURB-4"]
    alerts = api_client.get("/api/devices", {"state": "ALERT"}).json()
    assert [d["device_id"] for d in alerts["results"]] == ["TURB-2"]


def test_devices_are_paginated(api_client, fleet_state):
    first = api_client.get("/api/devices", {"page_size": 2}).json()
    assert first["count"] == 4 and len(first["results"]) == 2 and first["previous"] is None
    second = api_client.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"state": "BROKEN"}, "state"),
        ({"device_type": "toaster/x"}, "device_type"),
        ({"page": "0"}, "page"),
        ({"site_id": "a b"}, "site_id"),
    ],
)
def test_a_bad_filter_is_a_400_with_a_message(api_client, query, field):
    response = api_client.get("/api/devices", query)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"Invalid filter {field}:")


def test_device_lists_are_served_from_the_cache_until_ingest_changes_them(api_client, fleet_state):
    assert api_client.get("/api/devices").headers["X-Cache"] == "MISS"
    assert api_client.get("/api/devices").headers["X-Cache"] == "HIT"
    assert cache.get("devices:all:v0:*:p1:100")["count"] == 4

    ingest(device_id="TURB-5")
    device_cache_bump(groups={("WY-ALPHA", "turbine")})  # what the consumer does after commit

    refreshed = api_client.get("/api/devices")
    assert refreshed.headers["X-Cache"] == "MISS"
    assert refreshed.json()["count"] == 5
    # A group the change did not touch keeps its cached page.
    api_client.get("/api/devices", {"site_id": "TX-EAGLE"})
    device_cache_bump(groups={("WY-ALPHA", "turbine")})
    assert api_client.get("/api/devices", {"site_id": "TX-EAGLE"}).headers["X-Cache"] == "HIT"


def test_cached_pages_expire_after_the_ttl(api_client, fleet_state, settings):
    settings.DEVICE_CACHE_TTL_S = 1
    api_client.get("/api/devices")
    assert api_client.get("/api/devices").headers["X-Cache"] == "HIT"
    wait_until(lambda: api_client.get("/api/devices").headers["X-Cache"] == "MISS", 5, 0.2, "the page never expired")


def test_device_detail_and_unknown_device(api_client, fleet_state):
    assert api_client.get("/api/devices/TURB-2").json()["state"] == "ALERT"
    missing = api_client.get("/api/devices/NOPE-1")
    assert missing.status_code == 404 and "NOPE-1" in missing.json()["error"]


def test_device_telemetry_pages_through_time_with_a_cursor(api_client, fleet_state):
    first = api_client.get("/api/devices/TURB-4/telemetry", {"limit": 3}).json()
    base = fleet_state
    assert [r["timestamp_utc"] for r in first["results"]] == [_stamp(base, s) for s in (4, 3, 2)]
    second = api_client.get("/api/devices/TURB-4/telemetry", {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert len(second["results"]) == 2 and second["next_cursor"] is None
    stamps = [r["timestamp_utc"] for r in first["results"] + second["results"]]
    assert stamps == [_stamp(base, s) for s in (4, 3, 2, 1, 0)]
    window = api_client.get("/api/devices/TURB-4/telemetry", {"start": _stamp(base, 1), "end": _stamp(base, 3)}).json()
    assert len(window["results"]) == 2


def test_device_telemetry_errors(api_client, fleet_state):
    assert api_client.get("/api/devices/TURB-4/telemetry", {"cursor": "garbage"}).status_code == 400
    inverted = api_client.get("/api/devices/TURB-4/telemetry", {"start": "2025-11-16T00:00:00Z", "end": "2025-11-15T00:00:00Z"})
    assert inverted.status_code == 400 and "start must be before end" in inverted.json()["error"]


def test_sites_count_devices_by_state_and_type(api_client, fleet_state):
    sites = {s["site_id"]: s for s in api_client.get("/api/sites").json()["results"]}
    assert sites["WY-ALPHA"]["devices"] == 3 and sites["WY-ALPHA"]["alert"] == 1 and sites["WY-ALPHA"]["ok"] == 2
    assert sites["TX-EAGLE"]["by_type"] == {"turbine": 1}


def test_dead_letters_are_for_staff_only(api_client, staff_client):
    readings_ingest(messages=[RawMessage("og/field/a/turbine/b", b"oops")])
    assert api_client.get("/api/dead-letters").status_code == 403
    body = staff_client.get("/api/dead-letters").json()
    assert body["count"] == 1 and body["results"][0]["payload"] == "oops"


def test_version_and_health(anon_client, mosquitto):
    assert anon_client.get("/api/version").json() == {"version": "v1.0.0057_region1", "region": "region1"}
    health = anon_client.get("/api/health")
    assert health.status_code == 200, health.json()
    assert health.json()["checks"]["postgres"]["ok"]


def test_health_names_the_failing_part(anon_client, settings):
    settings.MQTT_PORT = 1  # nothing listens there
    response = anon_client.get("/api/health")
    assert response.status_code == 200  # degraded: the API still serves
    assert response.json()["status"] == "degraded" and "mqtt" in response.json()["failing"]


def test_openapi_schema_and_metrics_are_served(anon_client, api_client, staff_user, client):
    assert api_client.get("/api/schema").status_code == 200
    assert anon_client.get("/metrics").status_code == 401  # not public (tests/security)
    client.force_login(staff_user)
    assert b"django_http_requests" in client.get("/metrics").content


def test_dead_letter_summary_counts_reasons_and_the_brokers_drops(api_client, staff_client, mosquitto):
    readings_ingest(messages=[RawMessage("og/field/a/turbine/b", b"oops"), RawMessage("og/field/a/turbine/b", b"null")])
    assert api_client.get("/api/dead-letters/summary").status_code == 403
    body = staff_client.get("/api/dead-letters/summary").json()
    assert body["dead_lettered"] == {"mqtt": 2}
    assert sorted((r["kind"], r["count"]) for r in body["by_reason"]) == [("json", 1), ("schema", 1)]
    broker = body["broker"]
    assert broker["reachable"] and broker["uptime_s"] >= 0
    # A counter unchanged for a minute has expired from the broker's $SYS tree: null, never a guess.
    assert broker["publish_received"] is None or broker["publish_received"] >= 0


def test_the_brokers_counters_are_read_once_per_refresh_not_once_per_request(staff_client, mosquitto, monkeypatch):
    from telemetry import broker_stats

    reads = []
    real = broker_stats.broker_counters
    monkeypatch.setattr(broker_stats, "broker_counters", lambda **kw: reads.append(kw) or real(**kw))
    first = staff_client.get("/api/dead-letters/summary").json()["broker"]
    second = staff_client.get("/api/dead-letters/summary").json()["broker"]
    assert len(reads) == 1 and first == second and first["reachable"]
